/**
 * Reverse-mode differentiation of a graph written with `Ops`: the gradient
 * of one output with respect to chosen tensors (the weights), written as
 * more nodes of the same graph.
 *
 * One sweep over the nodes between the weights and the output, consumers
 * before producers (reverse topological order): each node's upstream
 * gradients, summed with AddN where a tensor feeds several consumers, go
 * through the node's gradient rule (OPS in ops.ts) to its inputs. Only
 * inputs on a path from the weights get a gradient; a weight that no path
 * reaches gets zeros (the recurrent kernel of a one-step RNN, say).
 *
 * Small on purpose: the sweep knows no op, so this file stays at its eighty
 * lines of logic however many ops the table gains.
 */
import { outputRef, parseRef, type NodeSpec } from './def';
import { OPS, type Ops } from './ops';

function dataInputs(node: NodeSpec): string[] {
  return node.inputs.filter((i) => !i.startsWith('^'));
}

/** The reference as `outputRef` writes it ('name:0' becomes 'name'). */
function canonical(ref: string): string {
  const { node, index } = parseRef(ref);
  return outputRef(node, index);
}

/**
 * dL/dx for each x of `wrt`, where L is the scalar `ys[0]`, or in general
 * L = Σ_k ⟨dys[k], ys[k]⟩ for the gradients `dys` arriving at the tensors
 * `ys` (TensorFlow's tf.gradients(ys, xs, grad_ys)). The results have the
 * shapes of `wrt`.
 * @throws Error when a node on the way has no gradient rule.
 */
export function gradients(ops: Ops, ys: string[], wrt: string[], dys?: string[]): string[] {
  const g = ops.g;
  const wrtSet = new Set(wrt.map(canonical));
  if (dys === undefined && (ys.length !== 1 || ops.shapeOf(ys[0]).length !== 0)) {
    throw new Error('gradients: without the gradients arriving at ys, ys must be one scalar');
  }
  if (dys !== undefined && dys.length !== ys.length) throw new Error('gradients: one gradient per y is needed');

  // The nodes the ys depend on, producers before consumers (depth-first
  // post-order). The sweep stops at the weights: what they are computed
  // from does not matter.
  const order: NodeSpec[] = [];
  const seen = new Set<string>();
  for (const y of ys) {
    const root = g.producer(y);
    if (seen.has(root.name) || wrtSet.has(canonical(y))) continue;
    seen.add(root.name);
    const stack = [{ node: root, next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = dataInputs(top.node);
      if (top.next < inputs.length) {
        const input = inputs[top.next++];
        const producer = g.producer(input);
        if (wrtSet.has(canonical(input)) || seen.has(producer.name)) continue;
        seen.add(producer.name);
        stack.push({ node: producer, next: 0 });
      } else {
        order.push(top.node);
        stack.pop();
      }
    }
  }

  // Which of those lie on a path from the weights.
  const reached = new Set<string>();
  const onPath = (ref: string) => wrtSet.has(canonical(ref)) || reached.has(parseRef(ref).node);
  for (const node of order) {
    if (dataInputs(node).some(onPath)) reached.add(node.name);
  }

  // The sweep: dL/d(ref) as the list of its terms, summed when first read.
  const terms = new Map<string, string[]>();
  const addTerm = (ref: string, grad: string) => {
    const key = canonical(ref);
    const list = terms.get(key);
    if (list === undefined) terms.set(key, [grad]);
    else list.push(grad);
  };
  const total = (ref: string): string | undefined => {
    const list = terms.get(ref);
    if (list === undefined) return undefined;
    const sum = ops.addN(list);
    terms.set(ref, [sum]);
    return sum;
  };
  ys.forEach((y, k) => addTerm(y, dys?.[k] ?? g.scalar(1, 'seed')));

  for (const node of order.reverse()) {
    if (!reached.has(node.name)) continue;
    const outputs = Array.from({ length: outputCount(ops, node) }, (_, k) => outputRef(node.name, k));
    const upstream = outputs.map(total);
    if (upstream.every((d) => d === undefined)) continue; // no path from here to the ys
    const def = OPS[node.op];
    if (def === undefined) throw new Error(`gradients: no gradient rule for ${node.op} (node ${node.name})`);
    const inputs = dataInputs(node);
    const grads = def.grad({ ops, node, inputs, outputs, dys: upstream, dy: upstream[0] as string });
    inputs.forEach((input, k) => {
      const grad = grads[k];
      if (!onPath(input) || grad === null) return;
      if (grad === undefined) throw new Error(`gradients: ${node.op} (node ${node.name}) gives no gradient for input ${k}`);
      const ref = grad();
      const shape = g.shapeOf(input);
      if (shape !== undefined && g.shapeOf(ref) === undefined) g.setShape(ref, shape);
      addTerm(input, ref);
    });
  }

  return wrt.map((x) => total(canonical(x)) ?? ops.zerosLike(x));
}

/** How many outputs a node has: as many as the shapes recorded for it, at least one. */
function outputCount(ops: Ops, node: NodeSpec): number {
  let count = 1;
  while (ops.g.shapeOf(outputRef(node.name, count)) !== undefined) count++;
  return count;
}

/**
 * The recurrent layers' forward pass in the graph, for the three cells of
 * tfjs-layers, computed as tfjs computes them, so that the graph trains the
 * very weights of the tfjs layer (autodiff.ts writes the backward pass):
 *
 *   simple  h = act(x·W + h₋·U + b)
 *   gru     [xz, xr, xh] = x·W + b,  z = σ(xz + h₋·U_z),  r = σ(xr + h₋·U_r),
 *           ĥ = act(xh + (r∘h₋)·U_h),  h = z∘h₋ + (1 − z)∘ĥ
 *   lstm    [i, f, g, o] = x·W + h₋·U + b, gates σ and g act,
 *           c = σ(f)∘c₋ + σ(i)∘act(g),  h = σ(o)∘act(c)
 *
 * with act the layer's activation, σ its recurrent activation, and
 * h₋ = c₋ = 0 before the first step, where the terms in h₋ and c₋ are left out.
 */
import type { Ops } from './ops';

/** The graph values of the layer's kernel W, recurrent kernel U and bias b. */
export interface RnnWeights {
  kernel: string;
  recurrent: string;
  bias: string;
}

/** The cells, by the class name of their tfjs layer. */
export type RnnCell = 'SimpleRNN' | 'GRU' | 'LSTM';

/** An activation function of the graph: writes y = f(x). */
export type Activation = (x: string) => string;

/** The layer's activation and, for GRU and LSTM, its recurrent (gate) activation. */
export interface RnnActivations {
  activation: Activation;
  recurrent: Activation;
}

/**
 * Writes the recurrent layer over the inputs `xs` (x_t, [batch, inputSize]
 * each) and returns h_t for every step t.
 */
export function rnnStates(
  ops: Ops, cell: RnnCell, w: RnnWeights, units: number, xs: string[], act: RnnActivations,
): string[] {
  return { SimpleRNN: simpleRnn, GRU: gru, LSTM: lstm }[cell](ops, w, units, xs, act);
}

function simpleRnn(ops: Ops, w: RnnWeights, _units: number, xs: string[], act: RnnActivations): string[] {
  const states: string[] = [];
  xs.forEach((x, t) => {
    const input = ops.matMul(x, w.kernel);
    const summed = t === 0 ? input : ops.add(input, ops.matMul(states[t - 1], w.recurrent));
    states.push(act.activation(ops.biasAdd(summed, w.bias)));
  });
  return states;
}

function lstm(ops: Ops, w: RnnWeights, _units: number, xs: string[], act: RnnActivations): string[] {
  const states: string[] = [];
  const cells: string[] = [];
  xs.forEach((x, t) => {
    const input = ops.matMul(x, w.kernel);
    const z = ops.biasAdd(t === 0 ? input : ops.add(input, ops.matMul(states[t - 1], w.recurrent)), w.bias);
    const [zi, zf, zg, zo] = ops.split(z, 4, 1);
    const ig = ops.mul(act.recurrent(zi), act.activation(zg));
    cells.push(t === 0 ? ig : ops.add(ops.mul(act.recurrent(zf), cells[t - 1]), ig));
    states.push(ops.mul(act.recurrent(zo), act.activation(cells[t])));
  });
  return states;
}

function gru(ops: Ops, w: RnnWeights, units: number, xs: string[], act: RnnActivations): string[] {
  // U = [U_z | U_r | U_h]: the first two act on h₋, the last on r∘h₋.
  const [uZr, uH] = ops.splitV(w.recurrent, [2 * units, units], 1);
  const states: string[] = [];
  xs.forEach((x, t) => {
    const [xz, xr, xh] = ops.split(ops.biasAdd(ops.matMul(x, w.kernel), w.bias), 3, 1);
    if (t === 0) {
      // h₋ = 0: h = (1 − z)∘ĥ, and r has no effect.
      const z = act.recurrent(xz);
      const hHat = act.activation(xh);
      states.push(ops.sub(hHat, ops.mul(z, hHat)));
      return;
    }
    const hPrev = states[t - 1];
    const [rz, rr] = ops.split(ops.matMul(hPrev, uZr), 2, 1);
    const z = act.recurrent(ops.add(xz, rz));
    const r = act.recurrent(ops.add(xr, rr));
    const hHat = act.activation(ops.add(xh, ops.matMul(ops.mul(r, hPrev), uH)));
    states.push(ops.add(hHat, ops.mul(z, ops.sub(hPrev, hHat))));
  });
  return states;
}

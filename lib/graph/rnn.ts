/**
 * The recurrent layer of the graph engine: forward and backward through time
 * for the three cells of `buildCrnn`, written as tfjs-layers computes them,
 * so that the graph trains the very weights of the tfjs layer:
 *
 *   simple  h = tanh(x·W + h₋·U + b)
 *   gru     [xz, xr, xh] = x·W + b,  z = σ(xz + h₋·U_z),  r = σ(xr + h₋·U_r),
 *           ĥ = tanh(xh + (r∘h₋)·U_h),  h = z∘h₋ + (1 − z)∘ĥ
 *   lstm    [i, f, g, o] = x·W + h₋·U + b, gates σ and g tanh,
 *           c = σ(f)∘c₋ + σ(i)∘tanh(g),  h = σ(o)∘tanh(c)
 *
 * with σ tfjs's default gate activation, the hard sigmoid, and h₋ = c₋ = 0
 * before the first step.
 */
import type { Ops } from './ops';
import type { CrnnConfig } from '../types';

/** The graph values of the layer's kernel W, recurrent kernel U and bias b. */
export interface RnnWeights {
  kernel: string;
  recurrent: string;
  bias: string;
}

/** Receives a gradient (one term of it) of one of the layer's weights. */
export type AddGrad = (weight: keyof RnnWeights, grad: string) => void;

/** The layer in the graph. */
export interface RnnGraph {
  /** h_t for every step t; the last one feeds the classifier. */
  states: string[];
  /** Writes the backward pass from dL/dh of the last step; returns dL/dx_t for every t. */
  backward(dLast: string): string[];
}

/**
 * Writes the recurrent layer over the inputs `xs` (x_t, [batch, inputSize]
 * each) and returns its states and its backward pass; the weight gradients
 * go to `addGrad`.
 */
export function rnnLayer(
  ops: Ops, cell: CrnnConfig['cell'], w: RnnWeights, units: number, xs: string[], addGrad: AddGrad,
): RnnGraph {
  const layer = { simple: simpleRnn, gru, lstm }[cell](ops, w, units, xs, addGrad);
  const backward = layer.backward;
  return {
    states: layer.states,
    backward: (dLast) => {
      const dXs = backward(dLast);
      // With one step the recurrent kernel never acts, but its gradient must exist.
      if (xs.length === 1) addGrad('recurrent', ops.zerosLike(w.recurrent));
      return dXs;
    },
  };
}

function simpleRnn(ops: Ops, w: RnnWeights, _units: number, xs: string[], addGrad: AddGrad): RnnGraph {
  const states: string[] = [];
  xs.forEach((x, t) => {
    const input = ops.matMul(x, w.kernel);
    const summed = t === 0 ? input : ops.add(input, ops.matMul(states[t - 1], w.recurrent));
    states.push(ops.tanh(ops.biasAdd(summed, w.bias)));
  });
  const backward = (dLast: string) => {
    const dXs: string[] = new Array(xs.length);
    let dh = dLast;
    for (let t = xs.length - 1; t >= 0; t--) {
      const dSum = ops.tanhGrad(states[t], dh);
      addGrad('bias', ops.biasGrad(dSum));
      addGrad('kernel', ops.matMul(xs[t], dSum, true, false));
      dXs[t] = ops.matMul(dSum, w.kernel, false, true);
      if (t > 0) {
        addGrad('recurrent', ops.matMul(states[t - 1], dSum, true, false));
        dh = ops.matMul(dSum, w.recurrent, false, true);
      }
    }
    return dXs;
  };
  return { states, backward };
}

function lstm(ops: Ops, w: RnnWeights, _units: number, xs: string[], addGrad: AddGrad): RnnGraph {
  const states: string[] = [];
  const cells: string[] = [];
  const saved = xs.map((x, t) => {
    const input = ops.matMul(x, w.kernel);
    const z = ops.biasAdd(t === 0 ? input : ops.add(input, ops.matMul(states[t - 1], w.recurrent)), w.bias);
    const [zi, zf, zg, zo] = ops.split(z, 4, 1);
    const [i, f, o] = [ops.hardSigmoid(zi), ops.hardSigmoid(zf), ops.hardSigmoid(zo)];
    const g = ops.tanh(zg);
    const ig = ops.mul(i.y, g);
    cells.push(t === 0 ? ig : ops.add(ops.mul(f.y, cells[t - 1]), ig));
    const tanhC = ops.tanh(cells[t]);
    states.push(ops.mul(o.y, tanhC));
    return { i, f, o, g, tanhC };
  });
  const backward = (dLast: string) => {
    const dXs: string[] = new Array(xs.length);
    let dh = dLast;
    let dcLater: string | undefined;
    for (let t = xs.length - 1; t >= 0; t--) {
      const { i, f, o, g, tanhC } = saved[t];
      const dO = ops.mul(dh, tanhC);
      const dcHere = ops.tanhGrad(tanhC, ops.mul(dh, o.y));
      const dc = dcLater === undefined ? dcHere : ops.add(dcHere, dcLater);
      const dzi = ops.hardSigmoidGrad(i.s, ops.mul(dc, g));
      // Before the first step c₋ = 0: the forget gate gets no gradient.
      const dzf = t > 0 ? ops.hardSigmoidGrad(f.s, ops.mul(dc, cells[t - 1])) : ops.zerosLike(dzi);
      const dzg = ops.tanhGrad(g, ops.mul(dc, i.y));
      const dzo = ops.hardSigmoidGrad(o.s, dO);
      const dz = ops.concat([dzi, dzf, dzg, dzo], 1);
      addGrad('bias', ops.biasGrad(dz));
      addGrad('kernel', ops.matMul(xs[t], dz, true, false));
      dXs[t] = ops.matMul(dz, w.kernel, false, true);
      if (t > 0) {
        addGrad('recurrent', ops.matMul(states[t - 1], dz, true, false));
        dh = ops.matMul(dz, w.recurrent, false, true);
        dcLater = ops.mul(dc, f.y);
      }
    }
    return dXs;
  };
  return { states, backward };
}

function gru(ops: Ops, w: RnnWeights, units: number, xs: string[], addGrad: AddGrad): RnnGraph {
  // U = [U_z | U_r | U_h]: the first two act on h₋, the last on r∘h₋.
  const uZr = ops.slice(w.recurrent, [0, 0], [units, 2 * units]);
  const uH = ops.slice(w.recurrent, [0, 2 * units], [units, units]);
  const states: string[] = [];
  const saved = xs.map((x, t) => {
    const [xz, xr, xh] = ops.split(ops.biasAdd(ops.matMul(x, w.kernel), w.bias), 3, 1);
    if (t === 0) {
      // h₋ = 0: h = (1 − z)∘ĥ, and r has no effect.
      const z = ops.hardSigmoid(xz);
      const hHat = ops.tanh(xh);
      states.push(ops.sub(hHat, ops.mul(z.y, hHat)));
      return { z, hHat };
    }
    const hPrev = states[t - 1];
    const [rz, rr] = ops.split(ops.matMul(hPrev, uZr), 2, 1);
    const z = ops.hardSigmoid(ops.add(xz, rz));
    const r = ops.hardSigmoid(ops.add(xr, rr));
    const rh = ops.mul(r.y, hPrev);
    const hHat = ops.tanh(ops.add(xh, ops.matMul(rh, uH)));
    states.push(ops.add(hHat, ops.mul(z.y, ops.sub(hPrev, hHat))));
    return { z, hHat, r, rh };
  });
  const backward = (dLast: string) => {
    const dXs: string[] = new Array(xs.length);
    const dUZr: string[] = [];
    const dUH: string[] = [];
    let dh = dLast;
    for (let t = xs.length - 1; t >= 0; t--) {
      const { z, hHat, r, rh } = saved[t];
      const dxh = ops.tanhGrad(hHat, ops.sub(dh, ops.mul(dh, z.y)));
      const dZ = t > 0 ? ops.mul(dh, ops.sub(states[t - 1], hHat)) : ops.sub(ops.zerosLike(dh), ops.mul(dh, hHat));
      const dxz = ops.hardSigmoidGrad(z.s, dZ);
      let dxr: string;
      if (t > 0 && r !== undefined && rh !== undefined) {
        const hPrev = states[t - 1];
        dUH.push(ops.matMul(rh, dxh, true, false));
        const dRh = ops.matMul(dxh, uH, false, true);
        dxr = ops.hardSigmoidGrad(r.s, ops.mul(dRh, hPrev));
        const dInner = ops.concat([dxz, dxr], 1);
        dUZr.push(ops.matMul(hPrev, dInner, true, false));
        dh = ops.addN([ops.mul(dh, z.y), ops.mul(dRh, r.y), ops.matMul(dInner, uZr, false, true)]);
      } else {
        dxr = ops.zerosLike(dxz);
      }
      const dMx = ops.concat([dxz, dxr, dxh], 1);
      addGrad('bias', ops.biasGrad(dMx));
      addGrad('kernel', ops.matMul(xs[t], dMx, true, false));
      dXs[t] = ops.matMul(dMx, w.kernel, false, true);
    }
    if (dUZr.length > 0) addGrad('recurrent', ops.concat([ops.addN(dUZr), ops.addN(dUH)], 1));
    return dXs;
  };
  return { states, backward };
}

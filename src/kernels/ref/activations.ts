// Reference SwiGLU (Shazeer 2020, as LLaMA's MLP): out = silu(gate) · up, silu(g) = g·σ(g).
// d silu/dg = σ(g)·(1 + g·(1 − σ(g))).
import { need, type Vec } from './types.js';

/** σ(g); exp(−g) overflows to Inf for g < −709, giving exactly 0, which is the right limit */
function sigmoid(g: number): number {
  return 1 / (1 + Math.exp(-g));
}

/** out (n) = silu(gate (n)) · up (n) */
export function swigluForward(out: Vec, gate: Vec, up: Vec, n: number): void {
  need('swigluForward', 'out', out, n);
  need('swigluForward', 'gate', gate, n);
  need('swigluForward', 'up', up, n);
  for (let i = 0; i < n; i++) {
    const g = gate[i]!;
    out[i] = g * sigmoid(g) * up[i]!;
  }
}

/** dgate, dup (n) overwritten from dout, gate, up (n) */
export function swigluBackward(dgate: Vec, dup: Vec, dout: Vec, gate: Vec, up: Vec, n: number): void {
  for (const [name, v] of [
    ['dgate', dgate],
    ['dup', dup],
    ['dout', dout],
    ['gate', gate],
    ['up', up],
  ] as const) {
    need('swigluBackward', name, v, n);
  }
  for (let i = 0; i < n; i++) {
    const g = gate[i]!,
      u = up[i]!,
      d = dout[i]!; // read all before writing: outputs may alias inputs
    const s = sigmoid(g);
    dgate[i] = d * u * s * (1 + g * (1 - s));
    dup[i] = d * g * s;
  }
}

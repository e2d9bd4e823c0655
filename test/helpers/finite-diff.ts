// Gradient checking by central differences. The loss is L = Σ out ⊙ R for a fixed R, so ∂L/∂input is exactly
// what a backward kernel computes when given dout = R. The forward runs in f64 (the reference loops accept
// Float64Array), so the only errors are the truncation h²/6·f''' and f64 rounding; see TOL.finiteDiff.
import { expectClose, type CloseOptions } from './expect-close.js';
import type { Rng } from './rng.js';

export interface GradCase {
  label: string;
  /** the op's differentiable inputs, by name (f32 values, so f32 kernels and the f64 forward see the same numbers) */
  inputs: Record<string, Float32Array>;
  /** the op's output for the given inputs, computed in f64 */
  forward: (inputs: Record<string, Float64Array>) => Float64Array;
  /** gradients of Σ out ⊙ dout from the backward kernels, for the inputs to check */
  backward: (dout: Float32Array) => Record<string, Float32Array>;
  /** the weights R of the loss; random normal when omitted */
  dout?: Float32Array;
}

/** central step: small enough for ~1e-9 truncation error on O(1) data, large enough that f64 rounding (2^-53/h) is nil */
const H = 1e-4;

function toF64(inputs: Record<string, Float32Array>): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = Float64Array.from(v);
  return out;
}

function loss(out: Float64Array, R: Float32Array): number {
  let L = 0;
  for (let i = 0; i < out.length; i++) L += out[i]! * R[i]!;
  return L;
}

/** ∂(Σ forward(x) ⊙ R)/∂x[name], element by element, by central differences */
export function numericGradient(c: GradCase, name: string, R: Float32Array): Float64Array {
  const x = toF64(c.inputs);
  const v = x[name]!;
  const grad = new Float64Array(v.length);
  for (let e = 0; e < v.length; e++) {
    const saved = v[e]!;
    v[e] = saved + H;
    const plus = loss(c.forward(x), R);
    v[e] = saved - H;
    const minus = loss(c.forward(x), R);
    v[e] = saved;
    grad[e] = (plus - minus) / (2 * H);
  }
  return grad;
}

/** compare every gradient the backward returns with central differences; throws naming the case and input */
export function checkGradients(c: GradCase, rng: Rng, tol: Omit<CloseOptions, 'label'>): void {
  const outLength = c.forward(toF64(c.inputs)).length;
  const R = c.dout ?? rng.normal(outLength);
  if (R.length !== outLength) throw new Error(`${c.label}: dout has ${R.length} values, the output ${outLength}`);
  const analytic = c.backward(R);
  for (const [name, g] of Object.entries(analytic)) {
    if (!(name in c.inputs)) throw new Error(`${c.label}: backward returned d${name}, which is not an input`);
    expectClose(g, numericGradient(c, name, R), { ...tol, label: `${c.label}: d${name}` });
  }
}

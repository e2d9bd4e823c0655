// Reference AdamW (Loshchilov & Hutter 2019) in the exact form of torch.optim.AdamW (single-tensor path,
// torch/optim/adamw.py, PyTorch 2.x): decay first, then moments, then the bias-corrected step
//   p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + eps).
// Each element is computed in f64 and stored once (PyTorch rounds to f32 after every sub-step instead).
import type { AdamWParams } from '../backend.js';
import { need, type Vec } from './types.js';

/** param, m, v (n) updated in place from grad (n) */
export function adamwStep(param: Vec, grad: Vec, m: Vec, v: Vec, n: number, o: AdamWParams): void {
  for (const [name, buf] of [
    ['param', param],
    ['grad', grad],
    ['m', m],
    ['v', v],
  ] as const)
    need('adamwStep', name, buf, n);
  if (!(o.step >= 1)) throw new Error(`adamwStep: step must count from 1, got ${o.step}`);
  const stepSize = o.lr / (1 - Math.pow(o.beta1, o.step));
  const bc2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, o.step));
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    const p = param[i]! * (1 - o.lr * o.weightDecay);
    m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    // the update reads the moments back as stored, as torch does
    param[i] = p - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + o.eps);
  }
}

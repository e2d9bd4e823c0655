// Reference AdamW against torch.optim.AdamW's update written out in f64 (torch/optim/adamw.py, single-tensor
// path, PyTorch 2.x): two steps, so the bias corrections and the carried moments are both exercised.
import { test } from 'node:test';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { expectClose } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';

interface State {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
}

/** torch: param.mul_(1 - lr*wd); exp_avg.lerp_(grad, 1-β1); exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1-β2);
 *  denom = (exp_avg_sq.sqrt() / sqrt(1-β2^t)).add_(eps); param.addcdiv_(exp_avg, denom, value=-lr/(1-β1^t)) */
function torchAdamW(s: State, g: Float32Array, lr: number, b1: number, b2: number, eps: number, wd: number, t: number): void {
  for (let i = 0; i < g.length; i++) {
    s.p[i] = s.p[i]! * (1 - lr * wd);
    s.m[i] = s.m[i]! + (g[i]! - s.m[i]!) * (1 - b1);
    s.v[i] = s.v[i]! * b2 + (1 - b2) * g[i]! * g[i]!;
    const denom = Math.sqrt(s.v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
    s.p[i] = s.p[i]! - (lr / (1 - b1 ** t)) * (s.m[i]! / denom);
  }
}

test('adamwStep: two steps match torch.optim.AdamW computed in f64', () => {
  const k = createRefKernels();
  const rng = new Rng(11);
  const n = 37;
  const o = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const param = rng.normal(n),
    m = new Float32Array(n),
    v = new Float32Array(n); // (n)
  param[0] = 0; // zero weight with zero gradient: the update is 0/(0 + eps)
  const want: State = { p: Float64Array.from(param), m: new Float64Array(n), v: new Float64Array(n) };
  for (let step = 1; step <= 2; step++) {
    const grad = rng.normal(n, 0.1);
    grad[0] = 0;
    k.adamwStep(param, grad, m, v, n, { ...o, step });
    torchAdamW(want, grad, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, step);
    const gMax = Math.max(...grad.map(Math.abs));
    expectClose(m, want.m, { ...TOL.adamwVsF64(gMax), label: `adamw step ${step} m` });
    expectClose(v, want.v, { ...TOL.adamwVsF64(gMax * gMax), label: `adamw step ${step} v` });
    expectClose(param, want.p, { ...TOL.adamwVsF64(Math.max(...want.p.map(Math.abs))), label: `adamw step ${step} param` });
  }
});

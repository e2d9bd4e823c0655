// Reference RMSNorm (Zhang & Sennrich 2019; LLaMA's LlamaRMSNorm): y = x · rsqrt(mean(x²) + eps) · w.
// Backward, with r = rstd and g = dout:  dx_c = r·w_c·g_c − (r³/C)·x_c·Σ_j g_j·w_j·x_j ;  dw_c += Σ_n g·x·r.
import { need, type Vec } from './types.js';

/** out (N, C), rstd (N) = RMSNorm of x (N, C) with weight w (C) */
export function rmsnormForward(out: Vec, rstd: Vec, x: Vec, w: Vec, N: number, C: number, eps: number): void {
  need('rmsnormForward', 'out', out, N * C);
  need('rmsnormForward', 'rstd', rstd, N);
  need('rmsnormForward', 'x', x, N * C);
  need('rmsnormForward', 'w', w, C);
  for (let n = 0; n < N; n++) {
    let sumSq = 0;
    for (let c = 0; c < C; c++) sumSq += x[n * C + c]! * x[n * C + c]!;
    const r = 1 / Math.sqrt(sumSq / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = x[n * C + c]! * r * w[c]!;
  }
}

/** dx (N, C) overwritten; dw (C) accumulated. dx may alias dout (each row is read before it is written). */
export function rmsnormBackward(dx: Vec, dw: Vec, dout: Vec, x: Vec, w: Vec, rstd: Vec, N: number, C: number): void {
  need('rmsnormBackward', 'dx', dx, N * C);
  need('rmsnormBackward', 'dw', dw, C);
  need('rmsnormBackward', 'dout', dout, N * C);
  need('rmsnormBackward', 'x', x, N * C);
  need('rmsnormBackward', 'w', w, C);
  need('rmsnormBackward', 'rstd', rstd, N);
  // dw first: it reads every row of dout, which dx may overwrite
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let n = 0; n < N; n++) sum += dout[n * C + c]! * x[n * C + c]! * rstd[n]!;
    dw[c] = dw[c]! + sum;
  }
  for (let n = 0; n < N; n++) {
    const r = rstd[n]!;
    let dot = 0; // Σ_j g_j·w_j·x_j
    for (let c = 0; c < C; c++) dot += dout[n * C + c]! * w[c]! * x[n * C + c]!;
    const k = (r * r * r * dot) / C;
    for (let c = 0; c < C; c++) dx[n * C + c] = r * w[c]! * dout[n * C + c]! - k * x[n * C + c]!;
  }
}

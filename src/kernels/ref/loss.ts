// Reference cross-entropy, embeddings and AdamW.
import type { AdamWParams } from '../backend.js';

function logSumExp(x: Float32Array, o: number, V: number): number {
  let m = -Infinity;
  for (let c = 0; c < V; c++) m = Math.max(m, x[o + c]!);
  let s = 0;
  for (let c = 0; c < V; c++) s += Math.exp(x[o + c]! - m);
  return m + Math.log(s);
}

export function crossEntropyForward(losses: Float32Array, logits: Float32Array, targets: Int32Array, weights: Float32Array, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const t = targets[n]!, w = weights[n]!;
    losses[n] = t < 0 || w === 0 ? 0 : w * (logSumExp(logits, n * V, V) - logits[n * V + t]!);
  }
}

export function crossEntropyBackward(dlogits: Float32Array, logits: Float32Array, targets: Int32Array, weights: Float32Array, N: number, V: number, scale: number): void {
  for (let n = 0; n < N; n++) {
    const t = targets[n]!, w = weights[n]!;
    if (t < 0 || w === 0) { dlogits.fill(0, n * V, (n + 1) * V); continue; }
    const L = logSumExp(logits, n * V, V), g = scale * w;
    for (let c = 0; c < V; c++) dlogits[n * V + c] = g * (Math.exp(logits[n * V + c]! - L) - (c === t ? 1 : 0));
  }
}

export function embeddingForward(out: Float32Array, table: Float32Array, ids: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) out[n * C + c] = table[ids[n]! * C + c]!;
}

export function embeddingBackward(dtable: Float32Array, dout: Float32Array, ids: Int32Array, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) dtable[ids[n]! * C + c] = dtable[ids[n]! * C + c]! + dout[n * C + c]!;
}

/** torch.optim.AdamW (single tensor, no amsgrad): decay, lerp of m, v update, bias-corrected step */
export function adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, o: AdamWParams): void {
  const bc1 = 1 - Math.pow(o.beta1, o.step), bc2 = 1 - Math.pow(o.beta2, o.step);
  const stepSize = o.lr / bc1, bc2Sqrt = Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    param[i] = param[i]! * (1 - o.lr * o.weightDecay);
    m[i] = m[i]! + (1 - o.beta1) * (g - m[i]!);
    v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    param[i] = param[i]! - stepSize * (m[i]! / (Math.sqrt(v[i]!) / bc2Sqrt + o.eps));
  }
}

// Reference attention: for each (batch, head, query) the full row of scores over visible keys, softmax,
// weighted sum of values. Readable rather than streaming; the wasm kernel streams (online softmax).
import type { AttentionShape } from '../backend.js';

/** whether query row i (absolute position qStart + i) of batch b may see key j */
export function visible(s: AttentionShape, b: number, i: number, j: number): boolean {
  if (s.keyValid && s.keyValid[b * s.Tk + j] === 0) return false;
  const p = s.qStart + i;
  if (s.mask === 'causal') return j <= p;
  if (s.mask === 'blockCausal') return Math.floor(j / s.blockLength) <= Math.floor(p / s.blockLength);
  return true;
}

const qIndex = (s: AttentionShape, b: number, i: number, h: number) => ((b * s.Tq + i) * s.H + h) * s.D;
const kIndex = (s: AttentionShape, b: number, j: number, kvh: number) => ((b * s.Tk + j) * s.Hkv + kvh) * s.D;

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, D: number): number {
  let t = 0;
  for (let d = 0; d < D; d++) t += a[ao + d]! * b[bo + d]!;
  return t;
}

export function attentionForward(out: Float32Array, lse: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  const group = H / Hkv;
  const scores = new Float64Array(Tk);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
    const kvh = Math.floor(h / group), qo = qIndex(s, b, i, h);
    let m = -Infinity;
    for (let j = 0; j < Tk; j++) {
      scores[j] = visible(s, b, i, j) ? dot(q, qo, k, kIndex(s, b, j, kvh), D) * s.scale : -Infinity;
      m = Math.max(m, scores[j]!);
    }
    for (let d = 0; d < D; d++) out[qo + d] = 0;
    if (m === -Infinity) { lse[(b * H + h) * Tq + i] = -Infinity; continue; } // sees no key: zeros
    let sum = 0;
    for (let j = 0; j < Tk; j++) sum += Math.exp(scores[j]! - m);
    const acc = new Float64Array(D);
    for (let j = 0; j < Tk; j++) {
      if (scores[j] === -Infinity) continue;
      const p = Math.exp(scores[j]! - m) / sum, vo = kIndex(s, b, j, kvh);
      for (let d = 0; d < D; d++) acc[d] += p * v[vo + d]!;
    }
    for (let d = 0; d < D; d++) out[qo + d] = acc[d]!;
    lse[(b * H + h) * Tq + i] = m + Math.log(sum);
  }
}

/** P = exp(s − lse), dv += Pᵀ·dout, dS = P ⊙ (dout·vᵀ − Δ) with Δ = dout·out, dq = scale·dS·k, dk += scale·dSᵀ·q */
export function attentionBackward(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array,
  q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array, s: AttentionShape): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  const group = H / Hkv;
  dq.fill(0, 0, B * Tq * H * D);
  const gk = new Float64Array(B * Tk * Hkv * D), gv = new Float64Array(B * Tk * Hkv * D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < Tq; i++) {
    const L = lse[(b * H + h) * Tq + i]!;
    if (L === -Infinity) continue;
    const kvh = Math.floor(h / group), qo = qIndex(s, b, i, h);
    const delta = dot(dout, qo, out, qo, D);
    const gq = new Float64Array(D);
    for (let j = 0; j < Tk; j++) {
      if (!visible(s, b, i, j)) continue;
      const ko = kIndex(s, b, j, kvh);
      const p = Math.exp(dot(q, qo, k, ko, D) * s.scale - L);
      const ds = p * (dot(dout, qo, v, ko, D) - delta);
      for (let d = 0; d < D; d++) {
        gv[ko + d] += p * dout[qo + d]!;
        gq[d] += ds * s.scale * k[ko + d]!;
        gk[ko + d] += ds * s.scale * q[qo + d]!;
      }
    }
    for (let d = 0; d < D; d++) dq[qo + d] = gq[d]!;
  }
  for (let i = 0; i < gk.length; i++) { dk[i] = gk[i]!; dv[i] = gv[i]!; }
}

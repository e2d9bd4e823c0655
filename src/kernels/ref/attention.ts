// Reference scaled dot-product attention with GQA, masks and key padding: a plain two-pass softmax per
// query row (scores, then weights), and FlashAttention-2's backward (Dao 2023, Alg. 2), which recomputes the
// probabilities from the saved lse: P = exp(S − lse), dS = P ⊙ (dout·vᵀ − rowsum(dout ⊙ out)).
// Layouts: q, out (B, Tq, H, D); k, v (B, Tk, Hkv, D); lse (B, H, Tq); keyValid (B, Tk).
import type { AttentionShape } from '../backend.js';
import { need, type Vec } from './types.js';

/** the shape, the mask and every buffer's length (`views`: name, buffer, elements it must hold) of an attention op */
function check(op: string, s: AttentionShape, views: ReadonlyArray<readonly [string, { length: number }, number]>): void {
  const { B, Tk, H, Hkv } = s;
  if (!(Hkv > 0) || H % Hkv !== 0) throw new Error(`${op}: H=${H} must be a multiple of Hkv=${Hkv}`);
  checkMask(op, s);
  if (s.keyValid) need(op, 'keyValid', s.keyValid, B * Tk);
  for (const [name, buf, n] of views) need(op, name, buf, n);
}

/** attentionForward's checks (both engines) */
export function checkAttentionForward(
  out: { length: number },
  lse: { length: number },
  q: { length: number },
  k: { length: number },
  v: { length: number },
  s: AttentionShape,
): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  check('attentionForward', s, [
    ['out', out, B * Tq * H * D],
    ['lse', lse, B * H * Tq],
    ['q', q, B * Tq * H * D],
    ['k', k, B * Tk * Hkv * D],
    ['v', v, B * Tk * Hkv * D],
  ]);
}

/** attentionBackward's checks (both engines) */
export function checkAttentionBackward(
  dq: { length: number },
  dk: { length: number },
  dv: { length: number },
  dout: { length: number },
  q: { length: number },
  k: { length: number },
  v: { length: number },
  out: { length: number },
  lse: { length: number },
  s: AttentionShape,
): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  const nq = B * Tq * H * D,
    nk = B * Tk * Hkv * D;
  check('attentionBackward', s, [
    ['dq', dq, nq],
    ['dk', dk, nk],
    ['dv', dv, nk],
    ['dout', dout, nq],
    ['q', q, nq],
    ['k', k, nk],
    ['v', v, nk],
    ['out', out, nq],
    ['lse', lse, B * H * Tq],
  ]);
}

/** the mask's own parameters (both engines) */
export function checkMask(op: string, s: Pick<AttentionShape, 'mask' | 'blockLength' | 'Tq' | 'Tk' | 'qStart'>): void {
  if ((s.mask === 'blockCausal' || s.mask === 'blockDiffusion') && !(s.blockLength > 0))
    throw new Error(`${op}: ${s.mask} needs blockLength > 0`);
  if (s.mask === 'blockDiffusion' && (s.Tk % 2 !== 0 || s.Tq + s.qStart > s.Tk))
    throw new Error(`${op}: blockDiffusion needs [x_t ⊕ x_0] keys (even Tk, queries within them), got Tq=${s.Tq} Tk=${s.Tk}`);
}

/** may query row i of batch entry b see key j? (query i sits at absolute position qStart + i, key j at j) */
export function canSee(s: AttentionShape, b: number, i: number, j: number): boolean {
  if (s.keyValid && s.keyValid[b * s.Tk + j] === 0) return false;
  return maskAllows(s.mask, s.blockLength, s.Tk, s.qStart + i, j);
}

/** the mask alone: may a query at absolute position p see key j (of Tk)? */
export function maskAllows(mask: AttentionShape['mask'], blockLength: number, Tk: number, p: number, j: number): boolean {
  switch (mask) {
    case 'none':
      return true;
    case 'causal':
      return j <= p;
    case 'blockCausal':
      return Math.floor(j / blockLength) <= Math.floor(p / blockLength);
    case 'blockDiffusion': {
      const n = Tk / 2;
      const bq = Math.floor((p % n) / blockLength),
        bk = Math.floor((j % n) / blockLength);
      if (p >= n) return j >= n && bk <= bq; // clean query: clean keys, block-causal
      return j < n ? bk === bq : bk < bq; // noisy query: its own noisy block, earlier clean blocks
    }
  }
}

/** scale · q[b, i, h, :] · k[b, j, g, :] */
function score(q: Vec, k: Vec, s: AttentionShape, b: number, i: number, h: number, j: number, g: number): number {
  const { Tq, Tk, H, Hkv, D } = s;
  const qo = ((b * Tq + i) * H + h) * D;
  const ko = ((b * Tk + j) * Hkv + g) * D;
  let dot = 0;
  for (let d = 0; d < D; d++) dot += q[qo + d]! * k[ko + d]!;
  return s.scale * dot;
}

/** out (B, Tq, H, D) = softmax(q·kᵀ·scale + mask) · v ; lse (B, H, Tq), −Infinity where a row sees no key */
export function attentionForward(out: Vec, lse: Vec, q: Vec, k: Vec, v: Vec, s: AttentionShape): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  checkAttentionForward(out, lse, q, k, v, s);
  const group = H / Hkv; // query heads per kv head
  const scores = new Float64Array(Tk); // (Tk) one query row's scores, −Infinity where masked
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const oo = ((b * Tq + i) * H + h) * D; // out[b, i, h, :]
        let max = -Infinity;
        for (let j = 0; j < Tk; j++) {
          scores[j] = canSee(s, b, i, j) ? score(q, k, s, b, i, h, j, g) : -Infinity;
          max = Math.max(max, scores[j]!);
        }
        if (max === -Infinity) {
          // no visible key: zeros, and lse = log 0
          for (let d = 0; d < D; d++) out[oo + d] = 0;
          lse[(b * H + h) * Tq + i] = -Infinity;
          continue;
        }
        let sum = 0;
        for (let j = 0; j < Tk; j++) sum += Math.exp(scores[j]! - max); // masked keys add exp(−Inf) = 0
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < Tk; j++) acc += Math.exp(scores[j]! - max) * v[((b * Tk + j) * Hkv + g) * D + d]!;
          out[oo + d] = acc / sum;
        }
        lse[(b * H + h) * Tq + i] = max + Math.log(sum);
      }
    }
  }
}

/** dq (B, Tq, H, D), dk, dv (B, Tk, Hkv, D) overwritten; dk/dv sum over the H/Hkv query heads of their group */
export function attentionBackward(
  dq: Vec,
  dk: Vec,
  dv: Vec,
  dout: Vec,
  q: Vec,
  k: Vec,
  v: Vec,
  out: Vec,
  lse: Vec,
  s: AttentionShape,
): void {
  const { B, Tq, Tk, H, Hkv, D } = s;
  checkAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
  const nq = B * Tq * H * D,
    nk = B * Tk * Hkv * D;
  const group = H / Hkv;
  const dq64 = new Float64Array(nq); // (B, Tq, H, D) sums kept in f64 until the end
  const dk64 = new Float64Array(nk); // (B, Tk, Hkv, D)
  const dv64 = new Float64Array(nk); // (B, Tk, Hkv, D)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      for (let i = 0; i < Tq; i++) {
        const rowLse = lse[(b * H + h) * Tq + i]!;
        if (rowLse === -Infinity) continue; // the row saw no key: its output was a constant 0
        const qo = ((b * Tq + i) * H + h) * D; // q, dq, out, dout [b, i, h, :]
        let delta = 0; // rowsum(dout ⊙ out) = Σ_j P_ij · (dout · v_j)
        for (let d = 0; d < D; d++) delta += dout[qo + d]! * out[qo + d]!;
        for (let j = 0; j < Tk; j++) {
          if (!canSee(s, b, i, j)) continue;
          const ko = ((b * Tk + j) * Hkv + g) * D; // k, v, dk, dv [b, j, g, :]
          const p = Math.exp(score(q, k, s, b, i, h, j, g) - rowLse);
          let dp = 0; // dout · v_j
          for (let d = 0; d < D; d++) dp += dout[qo + d]! * v[ko + d]!;
          const ds = p * (dp - delta) * s.scale; // ∂L/∂(q·k), the scale folded in
          for (let d = 0; d < D; d++) {
            dv64[ko + d] = dv64[ko + d]! + p * dout[qo + d]!;
            dq64[qo + d] = dq64[qo + d]! + ds * k[ko + d]!;
            dk64[ko + d] = dk64[ko + d]! + ds * q[qo + d]!;
          }
        }
      }
    }
  }
  for (let e = 0; e < nq; e++) dq[e] = dq64[e]!;
  for (let e = 0; e < nk; e++) {
    dk[e] = dk64[e]!;
    dv[e] = dv64[e]!;
  }
}

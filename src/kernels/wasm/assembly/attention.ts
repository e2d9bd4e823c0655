// Attention streamed over keys (online softmax, as FlashAttention): per query row only the running max m,
// the running sum l and a D-wide accumulator live in scratch, so memory is O(Tq·D) per head whatever Tk is.
// q (B, Tq, H, D); k, v (B, Tk, Hkv, D); out (B, Tq, H, D); lse (B, H, Tq).
// Mask: query row i (absolute position p = qStart + i) sees the keys of two ranges [keyFrom, keyTo) (seg 0,
// 1) that are keyValid. none/causal/blockCausal: one prefix [0, limit(p)); blockDiffusion (training over
// [x_t ⊕ x_0], n = Tk/2, block q = (p mod n)/blockLength): a noisy query its own noisy block and the clean
// keys of blocks < q, a clean query the clean keys of blocks ≤ q (src/kernels/ref/attention.ts canSee).
import { fma4, hsum4, exp1, exp4 } from './simd';

export const MASK_NONE: i32 = 0;
export const MASK_CAUSAL: i32 = 1;
export const MASK_BLOCK_CAUSAL: i32 = 2;
export const MASK_BLOCK_DIFFUSION: i32 = 3;

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

// @ts-ignore: decorator
@inline function dot(a: usize, b: usize, D: i32): f32 {
  let acc = f32x4.splat(0);
  let d = 0;
  for (; d + 4 <= D; d += 4) acc = fma4(v128.load(at(a, d)), v128.load(at(b, d)), acc);
  let s = hsum4(acc);
  for (; d < D; d++) s += load<f32>(at(a, d)) * load<f32>(at(b, d));
  return s;
}

// y (D) = y · alpha + p · x
// @ts-ignore: decorator
@inline function scaleAdd(y: usize, alpha: f32, p: f32, x: usize, D: i32): void {
  const va = f32x4.splat(alpha), vp = f32x4.splat(p);
  let d = 0;
  for (; d + 4 <= D; d += 4) v128.store(at(y, d), fma4(vp, v128.load(at(x, d)), f32x4.mul(v128.load(at(y, d)), va)));
  for (; d < D; d++) store<f32>(at(y, d), load<f32>(at(y, d)) * alpha + p * load<f32>(at(x, d)));
}

/** number of keys a query at absolute position p may see before padding (keys 0 .. limit−1) */
// @ts-ignore: decorator
@inline export function keyLimit(p: i32, Tk: i32, mask: i32, blockLength: i32): i32 {
  if (mask == MASK_CAUSAL) return min(Tk, p + 1);
  if (mask == MASK_BLOCK_CAUSAL) return min(Tk, (p / blockLength + 1) * blockLength);
  return Tk;
}

/** first key of range `seg` (0 or 1) for a query at absolute position p */
// @ts-ignore: decorator
@inline function keyFrom(seg: i32, p: i32, Tk: i32, mask: i32, bl: i32): i32 {
  if (mask != MASK_BLOCK_DIFFUSION) return 0;
  const n = Tk >> 1;
  if (p >= n) return n;
  return seg == 0 ? (p / bl) * bl : n;
}

/** one past the last key of range `seg`; ≤ keyFrom when the range is empty */
// @ts-ignore: decorator
@inline function keyTo(seg: i32, p: i32, Tk: i32, mask: i32, bl: i32): i32 {
  if (mask != MASK_BLOCK_DIFFUSION) return seg == 0 ? keyLimit(p, Tk, mask, bl) : 0;
  const n = Tk >> 1;
  if (p >= n) return seg == 0 ? n + min(n, ((p - n) / bl + 1) * bl) : 0;
  return seg == 0 ? min(n, (p / bl + 1) * bl) : n + (p / bl) * bl;
}

/** keys scored per chunk: one rescale of the accumulator and a vector exp per chunk instead of per key */
export const KEY_CHUNK: i32 = 64;

/**
 * items = (b, h, i) query rows in that order; scratch per thread: a D-wide accumulator and KEY_CHUNK scores.
 * Per chunk of keys: scores → chunk max → one rescale of (acc, l) to the new running max → p = exp(s − m) four
 * at a time → acc += Σ p·v. Masked and padded keys score −∞ and contribute p = 0.
 */
export function attentionForwardTask(start: i32, end: i32, tid: i32,
  out: usize, lse: usize, q: usize, k: usize, v: usize, keyValid: usize,
  Tq: i32, Tk: i32, H: i32, Hkv: i32, D: i32, scale: f32, mask: i32, qStart: i32, blockLength: i32,
  scratch: usize, scratchStride: i32): void {
  const acc = scratch + <usize>tid * <usize>scratchStride; // (D)
  const sc = acc + ((<usize>D * 4 + 15) & ~15); // (KEY_CHUNK) scores, then probabilities
  const group = H / Hkv;
  for (let item = start; item < end; item++) {
    const i = item % Tq;
    const bh = item / Tq;
    const h = bh % H, b = bh / H;
    const kvh = h / group;
    const qr = at(q, ((b * Tq + i) * H + h) * D);
    const orow = at(out, ((b * Tq + i) * H + h) * D);
    for (let d = 0; d < D; d++) store<f32>(at(acc, d), 0);
    let m = -Infinity as f32;
    let l: f32 = 0;
    for (let seg = 0; seg < 2; seg++) {
    const limit = keyTo(seg, qStart + i, Tk, mask, blockLength);
    for (let j0 = keyFrom(seg, qStart + i, Tk, mask, blockLength); j0 < limit; j0 += KEY_CHUNK) {
      const n = min(KEY_CHUNK, limit - j0);
      let cm = -Infinity as f32;
      for (let j = 0; j < n; j++) {
        const jj = j0 + j;
        let s = -Infinity as f32;
        if (keyValid == 0 || load<u8>(keyValid + <usize>(b * Tk + jj)) != 0) s = dot(qr, at(k, ((b * Tk + jj) * Hkv + kvh) * D), D) * scale;
        store<f32>(at(sc, j), s);
        cm = max(cm, s);
      }
      if (cm == -Infinity) continue; // nothing visible in this chunk
      if (cm > m) { // new running max: rescale what was accumulated so far (exp(−∞) = 0 the first time)
        const corr = exp1(m - cm);
        l *= corr;
        scaleAdd(acc, corr, 0, acc, D);
        m = cm;
      }
      const vm = f32x4.splat(m);
      let j = 0;
      for (; j + 4 <= n; j += 4) v128.store(at(sc, j), exp4(f32x4.sub(v128.load(at(sc, j)), vm)));
      for (; j < n; j++) store<f32>(at(sc, j), exp1(load<f32>(at(sc, j)) - m));
      for (j = 0; j < n; j++) {
        const p = load<f32>(at(sc, j));
        if (p == 0) continue;
        l += p;
        scaleAdd(acc, 1, p, at(v, ((b * Tk + j0 + j) * Hkv + kvh) * D), D);
      }
    }
    }
    const inv: f32 = l > 0 ? 1 / l : 0;
    for (let d = 0; d < D; d++) store<f32>(at(orow, d), load<f32>(at(acc, d)) * inv);
    store<f32>(at(lse, (b * H + h) * Tq + i), l > 0 ? m + Mathf.log(l) : -Infinity);
  }
}

/**
 * Backward with the saved lse (FlashAttention-2 form): P = exp(s − lse), Δ_i = dout_i · out_i,
 * dS = P ⊙ (dout·vᵀ − Δ), dq = scale · dS·k, dk = scale · dSᵀ·q, dv = Pᵀ·dout.
 * items = (b, kv head): one item owns dk, dv of its kv head and dq of the H/Hkv query heads that share it,
 * so no two threads write the same gradient and the summation order is fixed.
 */
export function attentionBackwardTask(start: i32, end: i32, tid: i32,
  dq: usize, dk: usize, dv: usize, dout: usize, q: usize, k: usize, v: usize, out: usize, lse: usize, keyValid: usize,
  Tq: i32, Tk: i32, H: i32, Hkv: i32, D: i32, scale: f32, mask: i32, qStart: i32, blockLength: i32): void {
  const group = H / Hkv;
  for (let item = start; item < end; item++) {
    const kvh = item % Hkv, b = item / Hkv;
    for (let j = 0; j < Tk; j++) {
      const o = ((b * Tk + j) * Hkv + kvh) * D;
      for (let d = 0; d < D; d++) { store<f32>(at(dk, o + d), 0); store<f32>(at(dv, o + d), 0); }
    }
    for (let h = kvh * group; h < (kvh + 1) * group; h++) {
      for (let i = 0; i < Tq; i++) {
        const qo = ((b * Tq + i) * H + h) * D;
        const dqr = at(dq, qo), qr = at(q, qo), dor = at(dout, qo), orow = at(out, qo);
        for (let d = 0; d < D; d++) store<f32>(at(dqr, d), 0);
        const L = load<f32>(at(lse, (b * H + h) * Tq + i));
        if (L == -Infinity) continue;
        const delta = dot(dor, orow, D);
        for (let seg = 0; seg < 2; seg++) {
        const limit = keyTo(seg, qStart + i, Tk, mask, blockLength);
        for (let j = keyFrom(seg, qStart + i, Tk, mask, blockLength); j < limit; j++) {
          if (keyValid != 0 && load<u8>(keyValid + <usize>(b * Tk + j)) == 0) continue;
          const ko = ((b * Tk + j) * Hkv + kvh) * D;
          const kr = at(k, ko), vr = at(v, ko);
          const p = exp1(dot(qr, kr, D) * scale - L);
          const ds = p * (dot(dor, vr, D) - delta);
          scaleAdd(at(dv, ko), 1, p, dor, D);
          scaleAdd(dqr, 1, ds * scale, kr, D);
          scaleAdd(at(dk, ko), 1, ds * scale, qr, D);
        }
        }
      }
    }
  }
}

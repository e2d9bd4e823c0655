// Skinny products (M ≤ GEMV_MAX_ROWS rows of activations), the shape of AR decoding and small batches.
// Packing B as the GEMM does would copy the whole weight matrix once more; here each weight row is read
// once from memory and reused from L1 for the M activation rows, so the op runs at memory bandwidth.
// Work items are chunks of GEMV_COLS output columns; each output sums over k in a fixed order.
import { fma4, hsum4 } from './simd';

export const GEMV_MAX_ROWS: i32 = 8;
export const GEMV_COLS: i32 = 64;

// dot of x (K) with w (K): 4 independent accumulators over k, fixed combination order
// @ts-ignore: decorator
@inline function dotF32(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const o = <usize>k * 4;
    a0 = fma4(v128.load(x + o), v128.load(w + o), a0);
    a1 = fma4(v128.load(x + o, 16), v128.load(w + o, 16), a1);
  }
  let s = hsum4(f32x4.add(a0, a1));
  for (; k < K; k++) s += load<f32>(x + <usize>k * 4) * load<f32>(w + <usize>k * 4);
  return s;
}

// dot of x (K) with int8 w (K)
// @ts-ignore: decorator
@inline function dotQ8(x: usize, w: usize, K: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const q16 = v128.load8x8_s(w + <usize>k); // i16x8
    const lo = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q16));
    const hi = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q16));
    const o = <usize>k * 4;
    a0 = fma4(v128.load(x + o), lo, a0);
    a1 = fma4(v128.load(x + o, 16), hi, a1);
  }
  let s = hsum4(f32x4.add(a0, a1));
  for (; k < K; k++) s += load<f32>(x + <usize>k * 4) * <f32>load<i8>(w + <usize>k);
  return s;
}

// dots of x (K) with 4 consecutive rows of w (K): each x vector is loaded once for 4 rows; each row keeps
// the same 2 accumulators and combination order as dotF32, so grouping never changes a result
export function dot4F32(out: usize, x: usize, w: usize, K: i32): void {
  const stride = <usize>K * 4;
  const w1 = w + stride, w2 = w1 + stride, w3 = w2 + stride;
  let a0 = f32x4.splat(0), b0 = f32x4.splat(0), a1 = f32x4.splat(0), b1 = f32x4.splat(0);
  let a2 = f32x4.splat(0), b2 = f32x4.splat(0), a3 = f32x4.splat(0), b3 = f32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const o = <usize>k * 4;
    const x0 = v128.load(x + o), x1 = v128.load(x + o, 16);
    a0 = fma4(x0, v128.load(w + o), a0); b0 = fma4(x1, v128.load(w + o, 16), b0);
    a1 = fma4(x0, v128.load(w1 + o), a1); b1 = fma4(x1, v128.load(w1 + o, 16), b1);
    a2 = fma4(x0, v128.load(w2 + o), a2); b2 = fma4(x1, v128.load(w2 + o, 16), b2);
    a3 = fma4(x0, v128.load(w3 + o), a3); b3 = fma4(x1, v128.load(w3 + o, 16), b3);
  }
  let s0 = hsum4(f32x4.add(a0, b0)), s1 = hsum4(f32x4.add(a1, b1));
  let s2 = hsum4(f32x4.add(a2, b2)), s3 = hsum4(f32x4.add(a3, b3));
  for (; k < K; k++) {
    const xv = load<f32>(x + <usize>k * 4), o = <usize>k * 4;
    s0 += xv * load<f32>(w + o); s1 += xv * load<f32>(w1 + o); s2 += xv * load<f32>(w2 + o); s3 += xv * load<f32>(w3 + o);
  }
  store<f32>(out, s0); store<f32>(out, s1, 4); store<f32>(out, s2, 8); store<f32>(out, s3, 12);
}

/** out (M, N) = alpha · x (M, K) · w (N, K)ᵀ + beta · out; items = chunks of GEMV_COLS columns */
export function gemvTTask(start: i32, end: i32, tid: i32,
  out: usize, x: usize, w: usize, M: i32, K: i32, N: i32, alpha: f32, beta: f32, scratch: usize): void {
  const tmp = scratch + <usize>tid * 64; // 4 dots per thread
  for (let t = start; t < end; t++) {
    const j1 = min(N, (t + 1) * GEMV_COLS);
    let j = t * GEMV_COLS;
    for (; j + 4 <= j1; j += 4) {
      const wr = w + <usize>j * <usize>K * 4;
      for (let m = 0; m < M; m++) {
        dot4F32(tmp, x + <usize>m * <usize>K * 4, wr, K);
        for (let r = 0; r < 4; r++) {
          const s = load<f32>(tmp + <usize>r * 4);
          const p = out + (<usize>m * <usize>N + <usize>(j + r)) * 4;
          store<f32>(p, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(p));
        }
      }
    }
    for (; j < j1; j++) {
      const wr = w + <usize>j * <usize>K * 4;
      for (let m = 0; m < M; m++) {
        const s = dotF32(x + <usize>m * <usize>K * 4, wr, K);
        const p = out + (<usize>m * <usize>N + <usize>j) * 4;
        store<f32>(p, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(p));
      }
    }
  }
}

/** out (M, N) = x (M, K) · (wq (N, K) · scales (N))ᵀ; items = chunks of GEMV_COLS columns */
export function gemvQ8Task(start: i32, end: i32, tid: i32,
  out: usize, x: usize, wq: usize, scales: usize, M: i32, K: i32, N: i32): void {
  for (let t = start; t < end; t++) {
    const j1 = min(N, (t + 1) * GEMV_COLS);
    for (let j = t * GEMV_COLS; j < j1; j++) {
      const wr = wq + <usize>j * <usize>K;
      const sc = load<f32>(scales + <usize>j * 4);
      for (let m = 0; m < M; m++) {
        store<f32>(out + (<usize>m * <usize>N + <usize>j) * 4, dotQ8(x + <usize>m * <usize>K * 4, wr, K) * sc);
      }
    }
  }
}

// dot of x (K) with one row of 4-bit blocks (ggml Q4_0 order, kernels/backend.ts matmulQ4): each block's
// 32 products in one accumulator, the block's scale applied to its sum, blocks summed in order
// @ts-ignore: decorator
@inline function dotQ4(x: usize, q: usize, s: usize, K: i32): f32 {
  const eight = i8x16.splat(8), low = i8x16.splat(0x0f);
  let sum: f32 = 0;
  for (let b = 0; b < K / 32; b++) {
    const v = v128.load(q + <usize>b * 16);
    const lo = i8x16.sub(v128.and(v, low), eight); // elements 0..15 of the block, −8..7
    const hi = i8x16.sub(i8x16.shr_u(v, 4), eight); // elements 16..31
    const xo = x + <usize>b * 128;
    const l0 = i16x8.extend_low_i8x16_s(lo), l1 = i16x8.extend_high_i8x16_s(lo);
    const h0 = i16x8.extend_low_i8x16_s(hi), h1 = i16x8.extend_high_i8x16_s(hi);
    let a = f32x4.mul(v128.load(xo), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l0)));
    a = fma4(v128.load(xo, 16), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l0)), a);
    a = fma4(v128.load(xo, 32), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l1)), a);
    a = fma4(v128.load(xo, 48), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l1)), a);
    a = fma4(v128.load(xo, 64), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h0)), a);
    a = fma4(v128.load(xo, 80), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h0)), a);
    a = fma4(v128.load(xo, 96), f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h1)), a);
    a = fma4(v128.load(xo, 112), f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h1)), a);
    sum += hsum4(a) * load<f32>(s + <usize>b * 4);
  }
  return sum;
}

// x (M, K) · one row of 4-bit blocks (ggml Q4_0 order, kernels/backend.ts matmulQ4) into out[m · N] for every m:
// each block is decoded once into 8 f32x4 and used for all M activation rows; per row, the block's 32 products
// go into one accumulator, the block's scale is applied to its sum, and the blocks are summed in order
// @ts-ignore: decorator
@inline function rowQ4(out: usize, x: usize, q: usize, s: usize, M: i32, K: i32, N: i32): void {
  const eight = i8x16.splat(8), low = i8x16.splat(0x0f);
  for (let m = 0; m < M; m++) store<f32>(out + <usize>m * <usize>N * 4, 0);
  for (let b = 0; b < K / 32; b++) {
    const v = v128.load(q + <usize>b * 16);
    const lo = i8x16.sub(v128.and(v, low), eight); // elements 0..15 of the block, −8..7
    const hi = i8x16.sub(i8x16.shr_u(v, 4), eight); // elements 16..31
    const l0 = i16x8.extend_low_i8x16_s(lo), l1 = i16x8.extend_high_i8x16_s(lo);
    const h0 = i16x8.extend_low_i8x16_s(hi), h1 = i16x8.extend_high_i8x16_s(hi);
    const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l0)), w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l0));
    const w2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(l1)), w3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(l1));
    const w4 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h0)), w5 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h0));
    const w6 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h1)), w7 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h1));
    const scale = load<f32>(s + <usize>b * 4);
    for (let m = 0; m < M; m++) {
      const xo = x + (<usize>m * <usize>K + <usize>b * 32) * 4;
      let a = f32x4.mul(v128.load(xo), w0);
      a = fma4(v128.load(xo, 16), w1, a);
      a = fma4(v128.load(xo, 32), w2, a);
      a = fma4(v128.load(xo, 48), w3, a);
      a = fma4(v128.load(xo, 64), w4, a);
      a = fma4(v128.load(xo, 80), w5, a);
      a = fma4(v128.load(xo, 96), w6, a);
      a = fma4(v128.load(xo, 112), w7, a);
      const o = out + <usize>m * <usize>N * 4;
      store<f32>(o, load<f32>(o) + hsum4(a) * scale);
    }
  }
}

/** out (M, N) = x (M, K) · Wᵀ, W (N, K) in 4-bit blocks: q (N, K/2), scales (N, K/32); items = chunks of GEMV_COLS columns */
export function gemvQ4Task(start: i32, end: i32, tid: i32,
  out: usize, x: usize, q: usize, scales: usize, M: i32, K: i32, N: i32): void {
  for (let t = start; t < end; t++) {
    const j1 = min(N, (t + 1) * GEMV_COLS);
    for (let j = t * GEMV_COLS; j < j1; j++) {
      const qr = q + <usize>j * <usize>(K / 2), sr = scales + <usize>j * <usize>(K / 32) * 4;
      // few rows: each row's dot in registers; a canvas: each block decoded once for all rows (same sums)
      if (M <= GEMV_MAX_ROWS) {
        for (let m = 0; m < M; m++) store<f32>(out + (<usize>m * <usize>N + <usize>j) * 4, dotQ4(x + <usize>m * <usize>K * 4, qr, sr, K));
      } else rowQ4(out + <usize>j * 4, x, qr, sr, M, K, N);
    }
  }
}

/** out (M, N) = alpha · x (M, K) · b (K, N) + beta · out; items = chunks of GEMV_COLS columns */
export function gemvNTask(start: i32, end: i32, tid: i32,
  out: usize, x: usize, b: usize, M: i32, K: i32, N: i32, alpha: f32, beta: f32): void {
  for (let t = start; t < end; t++) {
    const j0 = t * GEMV_COLS;
    const j1 = min(N, j0 + GEMV_COLS);
    for (let m = 0; m < M; m++) {
      const xr = x + <usize>m * <usize>K * 4;
      let j = j0;
      for (; j + 16 <= j1; j += 16) {
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let bp = b + <usize>j * 4;
        for (let k = 0; k < K; k++) {
          const xv = v128.load32_splat(xr + <usize>k * 4);
          a0 = fma4(xv, v128.load(bp), a0);
          a1 = fma4(xv, v128.load(bp, 16), a1);
          a2 = fma4(xv, v128.load(bp, 32), a2);
          a3 = fma4(xv, v128.load(bp, 48), a3);
          bp += <usize>N * 4;
        }
        const o = out + (<usize>m * <usize>N + <usize>j) * 4;
        const va = f32x4.splat(alpha);
        if (beta == 0) {
          v128.store(o, f32x4.mul(a0, va)); v128.store(o, f32x4.mul(a1, va), 16);
          v128.store(o, f32x4.mul(a2, va), 32); v128.store(o, f32x4.mul(a3, va), 48);
        } else {
          const vb = f32x4.splat(beta);
          v128.store(o, f32x4.add(f32x4.mul(a0, va), f32x4.mul(v128.load(o), vb)));
          v128.store(o, f32x4.add(f32x4.mul(a1, va), f32x4.mul(v128.load(o, 16), vb)), 16);
          v128.store(o, f32x4.add(f32x4.mul(a2, va), f32x4.mul(v128.load(o, 32), vb)), 32);
          v128.store(o, f32x4.add(f32x4.mul(a3, va), f32x4.mul(v128.load(o, 48), vb)), 48);
        }
      }
      for (; j < j1; j++) {
        let s: f32 = 0;
        for (let k = 0; k < K; k++) s += load<f32>(xr + <usize>k * 4) * load<f32>(b + (<usize>k * <usize>N + <usize>j) * 4);
        const p = out + (<usize>m * <usize>N + <usize>j) * 4;
        store<f32>(p, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(p));
      }
    }
  }
}

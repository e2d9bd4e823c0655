// GEMM C (M, N) = alpha · op(A) · op(B) + beta · C, BLIS-style: each task owns one MC×NC tile of C, packs
// an MR-row panel block of A and a KC×NC block of B into its thread's scratch (zero-padded at the edges,
// transposes absorbed by the packing), then runs a 6×8 register-blocked micro-kernel (12 accumulators
// in v128 registers, 2 B loads + 6 broadcasts per k). The tile → task map does not depend on the thread
// count, and every C element sums over k in the same order, so results are bit-identical for any split.
import { fma4 } from './simd';

export const MR: i32 = 6;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 72; // 12 A panels: MC·KC·4 = 72 KiB stays in L2 next to the B block
export const NC: i32 = 256; // 32 B panels: KC·NC·4 = 256 KiB; one B micro-panel (8 KiB) lives in L1
// scratch per thread: packed A (MC·KC) + packed B (KC·NC) + an MR×NR edge tile
export const MATMUL_SCRATCH_BYTES: i32 = (MC * KC + KC * NC + MR * NR + 4) * 4;

// pack op(A)[i0 .. i0+mc, k0 .. k0+kc] as panels of MR rows: element (r, k) of panel p at p·MR·kc + k·MR + r
function packA(dst: usize, a: usize, transA: bool, M: i32, K: i32, i0: i32, mc: i32, k0: i32, kc: i32): void {
  for (let p = 0; p < mc; p += MR) {
    const panel = dst + <usize>(p * kc) * 4;
    for (let r = 0; r < MR; r++) {
      const i = i0 + p + r;
      if (p + r >= mc) {
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * MR + r) * 4, 0);
      } else if (!transA) {
        const src = a + (<usize>i * <usize>K + <usize>k0) * 4; // A (M, K)
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * MR + r) * 4, load<f32>(src + <usize>k * 4));
      } else {
        const src = a + (<usize>k0 * <usize>M + <usize>i) * 4; // A stored (K, M)
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * MR + r) * 4, load<f32>(src + <usize>k * <usize>M * 4));
      }
    }
  }
}

// pack op(B)[k0 .. k0+kc, j0 .. j0+nc] as panels of NR columns: element (k, c) of panel q at q·NR·kc + k·NR + c
// q8: B is int8 (N, K) with per-row scales (weight-only quantization), dequantized while packing
function packB(dst: usize, b: usize, transB: bool, K: i32, N: i32, j0: i32, nc: i32, k0: i32, kc: i32, q8: bool, scales: usize): void {
  for (let q = 0; q < nc; q += NR) {
    const panel = dst + <usize>(q * kc) * 4;
    const cols = min(NR, nc - q);
    if (!transB && !q8 && cols == NR) {
      let src = b + (<usize>k0 * <usize>N + <usize>(j0 + q)) * 4; // B (K, N): rows are contiguous
      for (let k = 0; k < kc; k++) {
        v128.store(panel + <usize>(k * NR) * 4, v128.load(src));
        v128.store(panel + <usize>(k * NR) * 4, v128.load(src, 16), 16);
        src += <usize>N * 4;
      }
      continue;
    }
    for (let c = 0; c < NR; c++) {
      const j = j0 + q + c;
      if (c >= cols) {
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + c) * 4, 0);
      } else if (q8) {
        const src = b + <usize>j * <usize>K + <usize>k0; // int8 (N, K)
        const sc = load<f32>(scales + <usize>j * 4);
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + c) * 4, <f32>load<i8>(src + <usize>k) * sc);
      } else if (transB) {
        const src = b + (<usize>j * <usize>K + <usize>k0) * 4; // B stored (N, K)
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + c) * 4, load<f32>(src + <usize>k * 4));
      } else {
        const src = b + (<usize>k0 * <usize>N + <usize>j) * 4;
        for (let k = 0; k < kc; k++) store<f32>(panel + <usize>(k * NR + c) * 4, load<f32>(src + <usize>k * <usize>N * 4));
      }
    }
  }
}

// acc (MR, NR) = Σ_k A panel (kc, MR) ⊗ B panel (kc, NR): 12 accumulators + 2 B vectors + 1 broadcast = 15 of
// the 16 xmm registers V8 has on x64, so nothing else float-valued may be live across this loop.
export function kernel6x8(pa: usize, pb: usize, kc: i32, acc: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0), c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = fma4(a, b0, c00); c01 = fma4(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = fma4(a, b0, c10); c11 = fma4(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = fma4(a, b0, c20); c21 = fma4(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = fma4(a, b0, c30); c31 = fma4(a, b1, c31);
    a = v128.load32_splat(pa, 16);
    c40 = fma4(a, b0, c40); c41 = fma4(a, b1, c41);
    a = v128.load32_splat(pa, 20);
    c50 = fma4(a, b0, c50); c51 = fma4(a, b1, c51);
    pa += 24;
    pb += 32;
  }
  v128.store(acc, c00); v128.store(acc, c01, 16); v128.store(acc, c10, 32); v128.store(acc, c11, 48);
  v128.store(acc, c20, 64); v128.store(acc, c21, 80); v128.store(acc, c30, 96); v128.store(acc, c31, 112);
  v128.store(acc, c40, 128); v128.store(acc, c41, 144); v128.store(acc, c50, 160); v128.store(acc, c51, 176);
}

// merge acc (MR, NR) into C (rows, cols) at c: first k-block → C = beta·C + alpha·acc, later → C += alpha·acc
// alpha, beta are read from memory (acc + MR·NR·4): Binaryen inlines the kernel here, and two f32 values live
// across its loop pushed V8 past the 16 xmm registers (accumulators spilled: 28 instead of ~60 GFLOP/s).
function mergeTile(c: usize, N: i32, acc: usize, rows: i32, cols: i32, accumulate: bool): void {
  const alpha = load<f32>(acc, MR * NR * 4);
  const beta = load<f32>(acc, MR * NR * 4 + 4);
  const va = f32x4.splat(alpha);
  const vb = f32x4.splat(beta);
  for (let r = 0; r < rows; r++) {
    const dst = c + <usize>r * <usize>N * 4;
    const src = acc + <usize>(r * NR) * 4;
    if (cols == NR) {
      for (let h: usize = 0; h < 32; h += 16) {
        const x = v128.load(src + h);
        let y: v128;
        if (accumulate) y = fma4(x, va, v128.load(dst + h));
        else if (beta != 0) y = fma4(x, va, f32x4.mul(v128.load(dst + h), vb));
        else y = f32x4.mul(x, va);
        v128.store(dst + h, y);
      }
    } else {
      for (let s = 0; s < cols; s++) {
        const p = dst + <usize>s * 4;
        const x = load<f32>(src + <usize>s * 4);
        if (accumulate) store<f32>(p, load<f32>(p) + alpha * x);
        else if (beta != 0) store<f32>(p, beta * load<f32>(p) + alpha * x);
        else store<f32>(p, alpha * x);
      }
    }
  }
}

export function matmulTiles(start: i32, end: i32, tid: i32,
  c: usize, a: usize, b: usize, M: i32, K: i32, N: i32, flags: i32, alpha: f32, beta: f32,
  scratch: usize, scratchStride: i32, scales: usize): void {
  const transA = (flags & 1) != 0;
  const transB = (flags & 2) != 0;
  const q8 = (flags & 4) != 0; // b is int8 (N, K), transB implied
  const base = scratch + <usize>tid * <usize>scratchStride;
  const pa = base;
  const pb = base + <usize>(MC * KC) * 4;
  const edge = pb + <usize>(KC * NC) * 4; // (MR, NR) accumulator tile
  const tilesN = (N + NC - 1) / NC;
  store<f32>(edge, alpha, MR * NR * 4);
  store<f32>(edge, beta, MR * NR * 4 + 4);
  for (let t = start; t < end; t++) {
    const i0 = (t / tilesN) * MC;
    const j0 = (t % tilesN) * NC;
    const mc = min(MC, M - i0);
    const nc = min(NC, N - j0);
    if (K == 0) { // C = beta·C
      for (let i = 0; i < mc; i++) for (let j = 0; j < nc; j++) {
        const p = c + (<usize>(i0 + i) * <usize>N + <usize>(j0 + j)) * 4;
        store<f32>(p, beta == 0 ? 0 : beta * load<f32>(p));
      }
      continue;
    }
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      const accumulate = k0 > 0;
      packB(pb, b, transB, K, N, j0, nc, k0, kc, q8, scales);
      packA(pa, a, transA, M, K, i0, mc, k0, kc);
      for (let q = 0; q < nc; q += NR) {
        const bPanel = pb + <usize>(q * kc) * 4;
        const cols = min(NR, nc - q);
        for (let p = 0; p < mc; p += MR) {
          const aPanel = pa + <usize>(p * kc) * 4;
          const rows = min(MR, mc - p);
          const cTile = c + (<usize>(i0 + p) * <usize>N + <usize>(j0 + q)) * 4;
          kernel6x8(aPanel, bPanel, kc, edge);
          mergeTile(cTile, N, edge, rows, cols, accumulate);
        }
      }
    }
  }
}

// Reference GEMM and weight-only int8 GEMM: the textbook triple loop, sums in f64, one rounding per output.
// This is the oracle for the blocked SIMD kernels (src/kernels/wasm/assembly/matmul.ts, gemv.ts).
import { need, type Vec } from './types.js';

/**
 * out (M, N) = alpha · op(a) · op(b) + beta · out; op(a) (M, K) is a (M, K), or a stored (K, M) when transA;
 * op(b) (K, N) is b (K, N), or b stored (N, K) when transB. beta = 0 never reads out (NaN-safe).
 */
export function matmul(
  out: Vec,
  a: Vec,
  b: Vec,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
): void {
  need('matmul', 'out', out, M * N);
  need('matmul', 'a', a, M * K);
  need('matmul', 'b', b, K * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let p = 0; p < K; p++) {
        const aip = transA ? a[p * M + i]! : a[i * K + p]!; // op(a)[i, p]
        const bpj = transB ? b[j * K + p]! : b[p * N + j]!; // op(b)[p, j]
        sum += aip * bpj;
      }
      const old = beta === 0 ? 0 : beta * out[i * N + j]!;
      out[i * N + j] = alpha * sum + old;
    }
  }
}

/** out (M, N) = x (M, K) · Wᵀ, W in 4-bit blocks of 32 (backend.ts matmulQ4): each block's dot, then its scale */
export function matmulQ4(out: Vec, x: Vec, q: Uint8Array, scales: Vec, M: number, K: number, N: number): void {
  if (K % 32 !== 0) throw new Error(`matmulQ4: K = ${K} is not a multiple of 32`);
  const blocks = K / 32;
  need('matmulQ4', 'out', out, M * N);
  need('matmulQ4', 'x', x, M * K);
  need('matmulQ4', 'q', q, (N * K) / 2);
  need('matmulQ4', 'scales', scales, N * blocks);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let b = 0; b < blocks; b++) {
        let dot = 0;
        for (let t = 0; t < 16; t++) {
          const byte = q[(j * blocks + b) * 16 + t]!,
            xo = i * K + b * 32 + t;
          dot += x[xo]! * ((byte & 0x0f) - 8) + x[xo + 16]! * ((byte >>> 4) - 8);
        }
        sum += dot * scales[j * blocks + b]!;
      }
      out[i * N + j] = sum;
    }
  }
}

/** out (M, N) = x (M, K) · (wq (N, K) · scales (N))ᵀ: the per-row scale factors out of the dot product */
export function matmulQ8(out: Vec, x: Vec, wq: Int8Array, scales: Vec, M: number, K: number, N: number): void {
  need('matmulQ8', 'out', out, M * N);
  need('matmulQ8', 'x', x, M * K);
  need('matmulQ8', 'wq', wq, N * K);
  need('matmulQ8', 'scales', scales, N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let p = 0; p < K; p++) sum += x[i * K + p]! * wq[j * K + p]!;
      out[i * N + j] = sum * scales[j]!;
    }
  }
}

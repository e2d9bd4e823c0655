// Reference matmuls: the plainest triple loops, sums in float64 (the oracle the wasm kernels are held to).

/** out (M, N) = alpha · op(a) · op(b) + beta · out; see Kernels.matmul */
export function matmul(out: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number,
  transA: boolean, transB: boolean, alpha: number, beta: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) {
        const av = transA ? a[p * M + i]! : a[i * K + p]!; // a (K, M) or (M, K)
        const bv = transB ? b[j * K + p]! : b[p * N + j]!; // b (N, K) or (K, N)
        s += av * bv;
      }
      out[i * N + j] = beta === 0 ? alpha * s : alpha * s + beta * out[i * N + j]!;
    }
  }
}

/** out (M, N) = x (M, K) · (wq (N, K) · scales (N))ᵀ */
export function matmulQ8(out: Float32Array, x: Float32Array, wq: Int8Array, scales: Float32Array, M: number, K: number, N: number): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += x[i * K + p]! * wq[j * K + p]!;
      out[i * N + j] = s * scales[j]!;
    }
  }
}

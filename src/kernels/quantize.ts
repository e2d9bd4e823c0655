// Per-output-channel symmetric int8 quantization for weight-only matmul (matmulQ8).
// scale[n] = max_k |w[n, k]| / 127, q = round(w / scale) clamped to [-127, 127] (as LLM.int8's absmax rowwise).

export interface Q8Weights {
  q: Int8Array; // (N, K)
  scales: Float32Array; // (N)
}

export function quantizeQ8(w: Float32Array, N: number, K: number, out?: Q8Weights): Q8Weights {
  if (w.length < N * K) throw new Error(`quantizeQ8: w has ${w.length} values, need N·K = ${N * K}`);
  const q = out?.q ?? new Int8Array(N * K); // (N, K)
  const scales = out?.scales ?? new Float32Array(N); // (N)
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[n * K + k]!));
    const scale = amax / 127;
    scales[n] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let k = 0; k < K; k++) q[n * K + k] = Math.max(-127, Math.min(127, Math.round(w[n * K + k]! * inv)));
  }
  return { q, scales };
}

// Reference matmul and matmulQ8: a 2×3·3×2 product by hand in every storage layout, a naive triple loop on
// odd shapes with alpha/beta, beta = 0 over NaN, and int8 weights against their dequantized f32 matmul.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { expectClose } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';

const k = createRefKernels();

test('2×3 · 3×2 by hand, in all four transpose combinations', () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6); // (M=2, K=3)
  const aT = Float32Array.of(1, 4, 2, 5, 3, 6); // (K, M)
  const b = Float32Array.of(7, 8, 9, 10, 11, 12); // (K=3, N=2)
  const bT = Float32Array.of(7, 9, 11, 8, 10, 12); // (N, K)
  const want = [1 * 7 + 2 * 9 + 3 * 11, 1 * 8 + 2 * 10 + 3 * 12, 4 * 7 + 5 * 9 + 6 * 11, 4 * 8 + 5 * 10 + 6 * 12]; // 58 64 139 154
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    const out = new Float32Array(4); // (2, 2)
    k.matmul(out, transA ? aT : a, transB ? bT : b, 2, 3, 2, transA, transB, 1, 0);
    assert.deepEqual([...out], want, `transA=${transA} transB=${transB}`);
  }
});

/** out (M, N) = alpha·op(a)·op(b) + beta·out, written from the definition; f64 sums */
function naive(
  out: Float32Array,
  a: Float32Array,
  b: Float32Array,
  M: number,
  K: number,
  N: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
): Float32Array {
  const res = new Float32Array(M * N); // (M, N)
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let p = 0; p < K; p++) s += (transA ? a[p * M + i]! : a[i * K + p]!) * (transB ? b[j * K + p]! : b[p * N + j]!);
      res[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * out[i * N + j]!);
    }
  }
  return res;
}

test('matmul equals a naive triple loop on odd shapes, every layout, with alpha and beta', () => {
  const rng = new Rng(7);
  for (const [M, K, N] of [
    [1, 1, 1],
    [45, 65, 33],
    [7, 129, 17],
    [3, 0, 2],
  ]) {
    for (const [transA, transB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      for (const [alpha, beta] of [
        [1, 0],
        [-0.5, 1],
        [2, 0.25],
      ]) {
        const a = rng.uniform(M * K),
          b = rng.uniform(K * N),
          out = rng.uniform(M * N);
        const want = naive(out, a, b, M, K, N, transA, transB, alpha, beta);
        k.matmul(out, a, b, M, K, N, transA, transB, alpha, beta);
        expectClose(out, want, { ...TOL.refVsNaive, label: `matmul ${M}×${K}×${N} tA=${transA} tB=${transB} α=${alpha} β=${beta}` });
      }
    }
  }
});

test('beta = 0 ignores NaN and Inf already in out; beta = 1 accumulates', () => {
  const rng = new Rng(8);
  const a = rng.uniform(5 * 3),
    b = rng.uniform(3 * 4);
  const out = new Float32Array(5 * 4).fill(Number.NaN); // (5, 4)
  out[3] = Infinity;
  k.matmul(out, a, b, 5, 3, 4, false, false, 1, 0);
  expectClose(out, naive(out, a, b, 5, 3, 4, false, false, 1, 0), { ...TOL.refVsNaive, label: 'beta=0 over NaN' });
  const twice = out.slice();
  k.matmul(twice, a, b, 5, 3, 4, false, false, 1, 1);
  expectClose(
    twice,
    out.map((x) => 2 * x),
    { ...TOL.refVsNaive, label: 'beta=1 accumulates' },
  );
});

test('matmulQ8 equals the f32 matmul of the dequantized weights, up to f32 rounding of q·scale', () => {
  const rng = new Rng(9);
  for (const [M, K, N] of [
    [1, 1, 1],
    [3, 65, 33],
    [17, 129, 7],
  ]) {
    const x = rng.normal(M * K),
      w = rng.normal(N * K); // x (M, K), w (N, K)
    w[0] = 0; // a zero weight, and below an all-zero output channel (scale 0)
    if (N > 1) w.fill(0, K, 2 * K);
    const { q, scales } = quantizeQ8(w, N, K);
    const deq = new Float32Array(N * K); // (N, K) q·scale, rounded to f32
    for (let n = 0; n < N; n++) for (let c = 0; c < K; c++) deq[n * K + c] = q[n * K + c]! * scales[n]!;
    const want = new Float32Array(M * N),
      out = new Float32Array(M * N); // (M, N)
    k.matmul(want, x, deq, M, K, N, false, true, 1, 0);
    k.matmulQ8(out, x, q, scales, M, K, N);
    const absX = x.map(Math.abs),
      absW = deq.map(Math.abs),
      sumAbs = new Float32Array(M * N); // Σ|x·w| per output
    k.matmul(sumAbs, absX, absW, M, K, N, false, true, 1, 0);
    expectClose(out, want, { ...TOL.q8VsDequant(Math.max(...sumAbs)), label: `matmulQ8 ${M}×${K}×${N}` });
  }
});

test('matmul rejects buffers shorter than the shape', () => {
  assert.throws(
    () => k.matmul(new Float32Array(3), new Float32Array(4), new Float32Array(4), 2, 2, 2, false, false, 1, 0),
    /out has 3 elements, the shape needs 4/,
  );
});

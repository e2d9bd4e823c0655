// 4-bit weights (ggml Q4_0 blocks of 32): the quantizer against ggml's rule as the GGUF codec writes it, the
// reference matmulQ4 against the f32 product of the dequantized weights, every wasm variant against the
// reference on odd shapes (one row, GEMV and canvas rows, one block, columns that do not fill a chunk), and a
// model stored q4 against the same model at f32.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/kernels/backend.js';
import { dequantizeQ4, Q4_BLOCK, quantizeQ4 } from '../../src/kernels/quantize.js';
import { dequantizeQ4_0, quantizeQ4_0, Q4_0_BLOCK_BYTES } from '../../src/io/gguf-quant.js';
import { f16BitsToF32 } from '../../src/io/gguf-quant.js';
import { storeWeight } from '../../src/model/weights.js';
import { expectClose } from '../helpers/expect-close.js';
import { own, ref, wasmVariants } from '../helpers/kernels.js';
import { normal, rng } from '../helpers/random.js';
import { TOL } from '../helpers/tolerances.js';

/** the weights a q4 matrix stands for, (N, K) */
const dequantize = (q: Uint8Array, scales: Float32Array) => dequantizeQ4({ q, scales });

test("quantizeQ4 gives ggml's Q4_0 nibbles; a GGUF Q4_0 tensor read back and quantized again is unchanged", () => {
  const r = rng(41),
    N = 5,
    K = 96;
  const w = normal(r, N * K);
  w[7] = 3; // a block whose largest magnitude is positive: its scale is negative (d = max / −8)
  const mine = quantizeQ4(w, N, K);
  const gguf = quantizeQ4_0(w); // (N·K/32) blocks of [f16 d][16 bytes]
  for (let b = 0; b < (N * K) / Q4_BLOCK; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    assert.deepEqual([...mine.q.subarray(b * 16, b * 16 + 16)], [...gguf.subarray(o + 2, o + 18)], `block ${b} nibbles`);
  }
  assert.ok(mine.scales[0]! < 0, 'a positive max maps to nibble 0 with a negative scale');
  // read as llama.cpp wrote it: f16 scales; quantizing the decoded values again reproduces nibbles and scales
  const decoded = dequantizeQ4_0(gguf, N * K);
  const again = quantizeQ4(decoded, N, K);
  const dv = new DataView(gguf.buffer);
  for (let b = 0; b < (N * K) / Q4_BLOCK; b++) {
    assert.equal(again.scales[b], f16BitsToF32(dv.getUint16(b * Q4_0_BLOCK_BYTES, true)), `block ${b} scale`);
    assert.deepEqual([...again.q.subarray(b * 16, b * 16 + 16)], [...gguf.subarray(b * 18 + 2, b * 18 + 18)], `block ${b} re-read`);
  }
  assert.throws(() => quantizeQ4(w, 1, 33), /K = 33 is not a multiple of 32/);
});

test('ref matmulQ4 equals the f32 matmul of the dequantized weights (one row, several, one block)', () => {
  const r = rng(42);
  for (const [M, K, N] of [
    [1, 32, 1],
    [3, 160, 7],
    [9, 64, 33],
  ] as const) {
    const x = normal(r, M * K),
      q = quantizeQ4(normal(r, N * K), N, K);
    const w = dequantize(q.q, q.scales);
    const got = new Float32Array(M * N),
      want = new Float32Array(M * N),
      bound = new Float32Array(M * N);
    ref.matmulQ4(got, x, q.q, q.scales, M, K, N);
    ref.matmul(want, x, w, M, K, N, false, true, 1, 0);
    ref.matmul(bound, x.map(Math.abs), w.map(Math.abs), M, K, N, false, true, 1, 0);
    // both sum in f64 from f32 inputs: the block scale applied after each block's dot is the only reordering
    expectClose(got, want, { ...TOL.q8VsDequant(Math.max(...bound)), label: `ref matmulQ4 ${M}×${K}×${N}` });
  }
  assert.throws(() => ref.matmulQ4(new Float32Array(1), new Float32Array(40), new Uint8Array(20), new Float32Array(2), 1, 40, 1), /K = 40/);
});

for (const variant of wasmVariants) {
  describe(variant.label, () => {
    let k: Kernels;
    before(async () => {
      k = await variant.make();
    });
    after(() => k.dispose());

    test('matmulQ4 against the reference on odd shapes', () => {
      const r = rng(43);
      for (const [M, K, N] of [
        [1, 32, 1],
        [1, 4096, 70],
        [5, 96, 65],
        [17, 160, 130],
        [64, 256, 9],
      ] as const) {
        const x = normal(r, M * K),
          q = quantizeQ4(normal(r, N * K), N, K);
        const want = new Float32Array(M * N),
          bound = new Float32Array(M * N);
        ref.matmulQ4(want, x, q.q, q.scales, M, K, N);
        const w = dequantize(q.q, q.scales);
        ref.matmul(bound, x.map(Math.abs), w.map(Math.abs), M, K, N, false, true, 1, 0);
        const got = k.allocF32(M * N);
        k.matmulQ4(got, own(k, x), own(k, q.q), own(k, q.scales), M, K, N);
        expectClose(got, want, { ...TOL.dot(K, Math.max(...bound)), label: `${variant.label} matmulQ4 ${M}×${K}×${N}` });
        k.free(got);
      }
    });
  });
}

test('storeWeight q4: linear layers whose input width is a multiple of 32 as 4-bit, the embedding and others as q8', () => {
  const w = normal(rng(44), 64 * 96);
  const lin = storeWeight(null, { name: 'layers.0.wq', shape: [64, 96], kind: 'linear' } as never, w, 'q4');
  const emb = storeWeight(null, { name: 'tokEmbed', shape: [64, 96], kind: 'embedding' } as never, w, 'q4');
  const odd = storeWeight(null, { name: 'layers.0.wo', shape: [96, 64 - 24], kind: 'linear' } as never, w.subarray(0, 96 * 40), 'q4');
  assert.deepEqual([lin.kind, emb.kind, odd.kind], ['q4', 'q8', 'q8']);
});

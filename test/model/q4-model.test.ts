// A checkpoint loaded with dtype q4 (the tiny LLaDA fixture: width 64, FFN 96, both multiples of 32): its
// linear layers are 4-bit, its embedding q8, it needs less memory than q8, and its logits are those of the
// same model run at f32 on the weights q4/q8 stand for (only summation order differs), on the kernels and on
// ONNX Runtime. The error of q4 itself against the f32 checkpoint is bounded loosely and printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';
import { Transformer } from '../../src/model/forward.js';
import type { Weight, Weights } from '../../src/model/weights.js';
import { expectClose } from '../helpers/expect-close.js';
import { dequantizeQ4, dequantizeQ8 } from '../../src/kernels/quantize.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/llada/', import.meta.url));

/** the f32 values a stored weight stands for */
function asF32(w: Weight): Weight {
  if (w.kind === 'q8') return { kind: 'f32', data: dequantizeQ8(w) };
  if (w.kind === 'q4') return { kind: 'f32', data: dequantizeQ4(w) };
  if (w.kind === 'f32') return w;
  throw new Error(`unexpected ${w.kind}`);
}

test('dtype q4: 4-bit linear layers, q8 embedding, smaller than q8, logits = the f32 model of the same values', async () => {
  const k = await createKernels({ backend: 'ref' });
  const tokens = Int32Array.from({ length: 11 }, (_, i) => (i * 37) % 300);
  const f32 = await loadModelDir(FIXTURE, k),
    q8 = await loadModelDir(FIXTURE, k, { dtype: 'q8' }),
    q4 = await loadModelDir(FIXTURE, k, { dtype: 'q4' });
  const kinds = new Map([...q4.model.weights].map(([n, w]) => [n, w.kind]));
  assert.equal(kinds.get('layers.0.wq'), 'q4');
  assert.equal(kinds.get('layers.0.wDown'), 'q4');
  assert.equal(kinds.get('tokEmbed'), 'q8');
  assert.equal(kinds.get('finalNorm'), 'f32');
  assert.ok(q4.weightBytes < 0.75 * q8.weightBytes, `q4 ${q4.weightBytes} B vs q8 ${q8.weightBytes} B`);

  const got = q4.model.forward({ tokens, B: 1, T: tokens.length });
  const same: Weights = new Map([...q4.model.weights].map(([n, w]) => [n, asF32(w)]));
  const twin = new Transformer(q4.config, k, same);
  // the twin's weights are (nibble − 8)·scale rounded to f32 (u relative each), the q4 path applies the
  // scale to each block's f64 sum: u-level differences carried through 2 layers, measured 6e-7 on |logit| ≲ 3
  expectClose(got, twin.forward({ tokens, B: 1, T: tokens.length }), { atol: 1e-5, rtol: 0, label: 'q4 vs its f32 twin' });
  const want = f32.model.forward({ tokens, B: 1, T: tokens.length });
  let e2 = 0,
    r2 = 0;
  for (let i = 0; i < got.length; i++) {
    e2 += (got[i]! - want[i]!) ** 2;
    r2 += want[i]! ** 2;
  }
  // 16 levels per block of 32 err by ≈ 9 % RMS per weight (max/8/√12 with max ≈ 2.5σ in a Gaussian block):
  // NMSE ≈ 0.008 per matmul, 14 matmuls in a row on this random model: measured 0.10, bound 0.2
  assert.ok(e2 / r2 < 0.2, `q4 logits NMSE ${(e2 / r2).toExponential(2)} against f32 (bound 0.2)`);
  console.log(`# q4 logits NMSE vs f32: ${(e2 / r2).toExponential(2)}`);
  for (const m of [f32, q8, q4]) m.model.dispose();
  twin.dispose();
});

test('q4 on ONNX Runtime (MatMulNBits, the codes repacked) is the model the kernels run: logits within 1e-4', async () => {
  const { openModel } = await import('../../src/platform/node-backend.js');
  const ort = await openModel(FIXTURE, { backend: 'ort', dtype: 'q4', threads: 1 }),
    wasm = await openModel(FIXTURE, { backend: 'wasm', dtype: 'q4', threads: 1 });
  try {
    const tokens = Int32Array.from({ length: 13 }, (_, i) => (i * 53) % 300);
    const a = await ort.model.forward({ tokens, B: 1, T: 13 }),
      b = await wasm.model.forward({ tokens, B: 1, T: 13 });
    // the same weight values on both; f32 sums in other orders (MLAS GEMM vs per-block dots)
    expectClose(a, b, { atol: 1e-4, rtol: 0, label: 'ort q4 vs wasm q4' });
  } finally {
    ort.dispose();
    wasm.dispose();
  }
  await assert.rejects(openModel(FIXTURE, { backend: 'ort', dtype: 'f16' }), /--dtype f16 is a storage format of the wasm backend/);
});

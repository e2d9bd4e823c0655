// ONNX Runtime's fused com.microsoft MoE / QMoE node computes lladamoe's feed-forward as our explicit
// route/gather/GEMM/scatter graph does (whose parity with the kernels test/onnx/parity.test.ts holds): same
// softmax top-K routing, same interleaved-SwiGLU experts, same shared expert — on an odd shape (C 24, Fe 12,
// E 6, K 3, N 7), so the speed comparison of bench:moe-op compares one computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MoeConfig } from '../../src/model/config.js';
import { moeOperatorApplies } from '../../src/onnx/moe-graph.js';
import { buildMoeLayerModel, type MoeFormulation } from '../../src/onnx/moe-layer.js';
import { ortSession } from '../../src/platform/node-ort.js';
import { expectClose } from '../helpers/expect-close.js';
import { normal, rng } from '../helpers/random.js';

const C = 24,
  N = 7;
const base: MoeConfig = {
  numExperts: 6,
  topK: 3,
  expertFfn: 12,
  sharedFfn: 0,
  router: 'softmax',
  expertBias: false,
  groups: 1,
  topGroups: 1,
  scaling: 1,
  moeLayers: [true],
};

/** rows rounded to int8 codes × one scale per row (the q8 scale rule): q8 then stores them without loss */
function onQ8Grid(a: Float32Array, cols: number): Float32Array {
  for (let r = 0; r < a.length / cols; r++) {
    const row = a.subarray(r * cols, (r + 1) * cols);
    const s = row.reduce((mx, v) => Math.max(mx, Math.abs(v)), 0) / 127;
    for (let c = 0; c < cols; c++) row[c] = Math.round(row[c]! / s) * s;
  }
  return a;
}

function layerWeights(m: MoeConfig, seed: number): Map<string, Float32Array> {
  const r = rng(seed),
    w = new Map<string, Float32Array>(),
    p = 'layers.0.';
  w.set(p + 'router', normal(r, m.numExperts * C, 0.5)); // (E, C): wide logits, no near-ties in the top K
  const expert = (q: string, F: number) => {
    w.set(q + 'wGate', onQ8Grid(normal(r, F * C, 0.2), C)); // (F, C)
    w.set(q + 'wUp', onQ8Grid(normal(r, F * C, 0.2), C)); // (F, C)
    w.set(q + 'wDown', onQ8Grid(normal(r, C * F, 0.2), F)); // (C, F)
  };
  for (let e = 0; e < m.numExperts; e++) expert(`${p}experts.${e}.`, m.expertFfn);
  if (m.sharedFfn) expert(p + 'shared.', m.sharedFfn);
  return w;
}

async function run(m: MoeConfig, w: Map<string, Float32Array>, how: MoeFormulation, dtype: 'f32' | 'q8', x: Float32Array) {
  const ort = await import('onnxruntime-node');
  const s = await ortSession(
    buildMoeLayerModel(m, C, (n) => w.get(n)!, how, dtype),
    1,
  );
  const out = await s.run({ x: new ort.Tensor('float32', x, [N, C]) });
  await s.release();
  return out['y']!.data as Float32Array;
}

for (const shared of [0, 8]) {
  test(`MoE operator: f32 and 8-bit match the explicit graph (shared expert ${shared || 'none'})`, async () => {
    const m = { ...base, sharedFfn: shared };
    const w = layerWeights(m, 11 + shared),
      x = normal(rng(5), N * C);
    const want = await run(m, w, 'explicit', 'f32', x);
    // the same f32 products, summed in another order
    expectClose(await run(m, w, 'operator', 'f32', x), want, { atol: 1e-5, rtol: 1e-5, label: 'MoE f32 vs explicit f32' });
    // the weights lie on the q8 grid, and QMoE's row-wise 8-bit path dequantizes them and multiplies in f32:
    // as exact as f32 (1e-5), which checks the code layout, the +128 offset and the routing-weight rescale.
    // A shared expert goes through DynamicQuantizeMatMul, which rounds activations to int8 as well: within
    // the explicit q8 graph's own error (2 % of the output's scale, ~0.5 here; a layout error is O(1))
    const tol = shared ? { atol: 2e-2, rtol: 2e-2 } : { atol: 1e-5, rtol: 1e-5 };
    expectClose(await run(m, w, 'operator', 'q8', x), want, { ...tol, label: 'QMoE 8-bit vs explicit f32' });
    expectClose(await run(m, w, 'explicit', 'q8', x), want, { atol: 2e-2, rtol: 2e-2, label: 'explicit q8 vs explicit f32' });
  });
}

test('MoE operator: refused where its routing rule is not the model’s', () => {
  assert.equal(moeOperatorApplies(base), true);
  assert.equal(moeOperatorApplies({ ...base, expertBias: true }), false, 'no choosing-only bias input');
  assert.equal(moeOperatorApplies({ ...base, router: 'sigmoidGroup', groups: 2, topGroups: 1 }), false, 'llada2 routing');
  assert.throws(
    () => buildMoeLayerModel({ ...base, router: 'sigmoidGroup' }, C, () => new Float32Array(1), 'operator', 'f32'),
    /ORT's MoE operator has no sigmoidGroup router/,
  );
});

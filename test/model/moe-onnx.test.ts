// The MoE families through ONNX Runtime (src/onnx/graph.ts + moe-graph.ts): logits within 1e-4 of PyTorch on
// the fixtures (lladamoe's softmax router, llada2's fused q/k/v, partial RoPE and group routing, both with q/k
// norms, a shared expert and a dense first layer), int8 close to f32, the same logits through a prefix cache as
// without for llada2's block-causal attention, and the graph's shape: per MoE layer one NonZero gather and one weighted ScatterND(add) per expert,
// each expert's three weights used once, the router kept f32 at q8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { parseSafetensorsHeader, readTensor } from '../../src/io/safetensors.js';
import { buildOnnxModel } from '../../src/onnx/graph.js';
import type { ForwardInput } from '../../src/model/forward.js';
import { loadF32Weights } from '../../src/platform/node-model.js';
import { OrtTransformer } from '../../src/platform/node-ort.js';
import { expectClose } from '../helpers/expect-close.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
const BOUND = 1e-4; // f32 sums in another order; measured ≈ 1.4e-6

async function reference(name: string) {
  const bytes = new Uint8Array(await readFile(`${FIXTURES}${name}/reference.safetensors`));
  const h = parseSafetensorsHeader(bytes);
  const get = (n: string) => readTensor(bytes, h, n);
  const [B, T, V] = h.tensors.get('logits')!.shape as [number, number, number];
  const block = h.metadata['block_length'];
  const input: ForwardInput = {
    tokens: get('input_ids') as Int32Array,
    B,
    T,
    positions: get('position_ids') as Int32Array,
    ...(block ? { mask: { kind: 'blockCausal' as const, blockLength: Number(block) } } : {}),
  };
  return { B, T, V, input, logits: get('logits') as Float32Array };
}

for (const name of ['lladamoe', 'llada2']) {
  test(`${name}: ONNX Runtime logits within ${BOUND} of PyTorch; llada2's block-causal prefix cache is exact`, async () => {
    const r = await reference(name);
    const { config, weights } = await loadF32Weights(`${FIXTURES}${name}`);
    const ort = await OrtTransformer.create(config, weights, { dtype: 'f32', threads: 1 });
    try {
      const got = await ort.forward(r.input);
      for (let row = 0; row < r.B * r.T; row++) {
        expectClose(got.subarray(row * r.V, (row + 1) * r.V), r.logits.subarray(row * r.V, (row + 1) * r.V), {
          atol: BOUND,
          rtol: 0,
          label: `${name} ort row ${row}`,
        });
      }
      // block-causal (llada2): the first two blocks' K/V cached, the last block computed alone gives the same rows
      // (exact: earlier blocks never see later ones); a bidirectional model has no such exact cache
      if (r.input.mask?.kind !== 'blockCausal') return;
      const cache = ort.createCache(r.B, r.T),
        P = 8,
        tail = r.T - P;
      const rows = (x: Int32Array, from: number, to: number) =>
        Int32Array.from({ length: r.B * (to - from) }, (_, i) => x[Math.floor(i / (to - from)) * r.T + from + (i % (to - from))]!);
      await ort.forward({
        ...r.input,
        tokens: rows(r.input.tokens, 0, P),
        positions: rows(r.input.positions!, 0, P),
        T: P,
        cache,
        rowStart: 0,
      });
      const cached = await ort.forward({
        ...r.input,
        tokens: rows(r.input.tokens, P, r.T),
        positions: rows(r.input.positions!, P, r.T),
        T: tail,
        cache,
        rowStart: P,
      });
      for (let b = 0; b < r.B; b++) {
        const want = got.subarray((b * r.T + P) * r.V, (b + 1) * r.T * r.V);
        expectClose(cached.subarray(b * tail * r.V, (b + 1) * tail * r.V), want, {
          atol: BOUND,
          rtol: 0,
          label: `${name} cached rows of batch ${b}`,
        });
      }
      ort.freeCache(cache);
    } finally {
      ort.dispose();
    }
  });

  test(`${name}: ONNX Runtime int8 (DynamicQuantizeMatMul, f32 router) stays close to f32`, async () => {
    const r = await reference(name);
    const { config, weights } = await loadF32Weights(`${FIXTURES}${name}`);
    const q8 = await OrtTransformer.create(config, weights, { dtype: 'q8', threads: 1 });
    try {
      const got = await q8.forward(r.input);
      let e2 = 0,
        r2 = 0;
      for (let i = 0; i < got.length; i++) {
        e2 += (got[i]! - r.logits[i]!) ** 2;
        r2 += r.logits[i]! ** 2;
      }
      assert.ok(e2 / r2 < 5e-3, `${name} ort q8 logits NMSE ${(e2 / r2).toExponential(2)} (bound 5e-3, as the dense models)`);
    } finally {
      q8.dispose();
    }
  });

  test(`${name}: the graph gathers each expert's rows and scatters them back, one use of each expert weight`, async () => {
    const { config, weights } = await loadF32Weights(`${FIXTURES}${name}`);
    const m = config.moe!,
      moeLayers = m.moeLayers.filter((x) => x).length;
    const graph = onnxProto.onnx.ModelProto.decode(buildOnnxModel(config, weights, { dtype: 'q8' })).graph!;
    const count = (op: string) => graph.node!.filter((n) => n.opType === op).length;
    assert.equal(count('NonZero'), moeLayers * m.numExperts, 'one row selection per expert');
    assert.equal(graph.node!.filter((n) => n.opType === 'ScatterND').length, moeLayers * m.numExperts, 'one weighted scatter per expert');
    const uses = new Map<string, number>();
    for (const n of graph.node!) for (const i of n.input ?? []) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const e of [0, m.numExperts - 1])
      for (const w of ['wGate', 'wUp', 'wDown']) assert.equal(uses.get(`layers.1.experts.${e}.${w}.q`), 1, `${w} of expert ${e} used once`);
    const init = new Map(graph.initializer!.map((t) => [t.name!, t]));
    assert.equal(init.get('layers.1.router.T')?.dataType, onnxProto.onnx.TensorProto.DataType.FLOAT, 'router f32 at q8');
  });
}

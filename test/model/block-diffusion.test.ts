// A block-diffusion model (llama layout + bd_size, shifted logits; model/block-diffusion.ts): the training and
// scoring layout [x_t ⊕ x_0] under the 'blockDiffusion' mask gives, at every token's target row, the logits the
// block-cache decoder sees for that token (the clean blocks before, the noisy block, block-causal attention,
// the row before the token) — on the reference and the wasm kernels, for a partial last block; its config.json
// round-trips; and a text generator over it decodes block-causally in its own blocks with the block cache, token
// for token as with full recomputation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/kernels/backend.js';
import { bdPositions, bdTargetRow } from '../../src/model/block-diffusion.js';
import { parseHfConfig, toHfConfig } from '../../src/model/config.js';
import { createKernels } from '../../src/platform/node.js';
import { loadF32Weights, loadModelDir } from '../../src/platform/node-model.js';
import { OrtTransformer } from '../../src/platform/node-ort.js';
import { defaultCache, TextGenerator } from '../../src/text/generator.js';
import { expectClose } from '../helpers/expect-close.js';
import { bdFolder } from '../helpers/bd-model.js';
import { ref } from '../helpers/kernels.js';
import { tinyConfig, tinyModel } from '../helpers/tiny-model.js';

const L = 4,
  n = 11, // blocks 0..3, 4..7, 8..10 (partial)
  MASK = 52;
const cfg = tinyConfig('llama', { attention: 'bidirectional', shiftLogits: true, bdSize: L, tieEmbeddings: false });
/** the window and its noisy copy: every block keeps some tokens and masks others (token 0 is context) */
const x = Int32Array.from({ length: n }, (_, i) => 3 + ((i * 17) % 45));
const xt = x.map((t, i) => (i > 0 && i % 3 !== 1 ? MASK : t));
/** float order only: the two layouts sum the same terms in other orders (measured ≈ 1e-7) */
const SAME = 1e-5;

async function layoutsAgree(k: Kernels, label: string): Promise<void> {
  const m = tinyModel(k, cfg, 5);
  const V = cfg.vocabSize;
  const tokens = Int32Array.from([...xt, ...x]); // (1, 2n)
  const train = Float32Array.from(
    await m.forward({ tokens, B: 1, T: 2 * n, positions: bdPositions(1, n), mask: { kind: 'blockDiffusion', blockLength: L } }),
  ); // (2n, V)
  for (let s = 0; s < n; s += L) {
    const e = Math.min(n, s + L);
    const canvas = Int32Array.from([...x.subarray(0, s), ...xt.subarray(s, e)]); // decoding: clean blocks, then the noisy one
    const dec = Float32Array.from(await m.forward({ tokens: canvas, B: 1, T: e, mask: { kind: 'blockCausal', blockLength: L } }));
    for (let i = Math.max(1, s); i < e; i++) {
      const r = bdTargetRow(i, n, L);
      expectClose(train.subarray(r * V, (r + 1) * V), dec.subarray((i - 1) * V, i * V), {
        atol: SAME,
        rtol: SAME,
        label: `${label}: token ${i} (block ${s / L}), training row ${r} vs decoding row ${i - 1}`,
      });
    }
  }
  m.dispose();
}

test('block diffusion: [x_t ⊕ x_0] rows = the block-causal decoding rows, reference kernels', () => layoutsAgree(ref, 'ref'));

test('block diffusion: [x_t ⊕ x_0] rows = the block-causal decoding rows, wasm kernels', async () => {
  const k = await createKernels({ threads: 2 });
  try {
    await layoutsAgree(k, 'wasm');
  } finally {
    k.dispose();
  }
});

test('block diffusion: config.json keeps bd_size; the model is a shifted denoiser with block-causal defaults', () => {
  const hf = toHfConfig(cfg, { mask_token_id: MASK });
  assert.equal(hf['bd_size'], L);
  const back = parseHfConfig(hf);
  assert.equal(back.bdSize, L);
  assert.equal(back.shiftLogits, true, 'shifted, as the AR weights');
  assert.equal(back.attention, 'bidirectional', 'not causal: a denoiser (its forward default is block-causal)');
  assert.equal(defaultCache(back), 'block');
  const plain = parseHfConfig(toHfConfig(tinyConfig('llama')));
  assert.equal(plain.bdSize, undefined);
  assert.equal(plain.attention, 'causal', 'without bd_size a llama config stays the AR twin');
});

test('block diffusion: a text generator decodes in blocks of bd_size with the block cache (token-identical to none), infills through FIM', async () => {
  const { dir, remove } = bdFolder(8);
  const k = await createKernels({ threads: 1 });
  const m = await loadModelDir(dir, k);
  const lm = new TextGenerator({ config: m.config, model: m.model, tokenizer: m.tokenizer!, dispose: () => m.model.dispose() });
  try {
    assert.equal(lm.kind, 'diffusion');
    const d = lm.options({ maxTokens: 16 });
    assert.equal(d.blockLength, 8, 'blocks of bd_size');
    assert.equal(d.blockCausal, true);
    const a = await lm.complete('def add(a, b):\n', { maxTokens: 24, earlyStop: false });
    const b = await lm.complete('def add(a, b):\n', { maxTokens: 24, earlyStop: false, cache: 'none' });
    assert.deepEqual(Array.from(a.ids), Array.from(b.ids), 'block cache (the default) vs full recomputation');
    assert.ok(a.nfe < b.nfe * 2, `nfe ${a.nfe} vs ${b.nfe}`);
    const prefix = 'def add(a, b):\n    ',
      suffix = '\n\nprint(add(1, 2))\n';
    const f = await lm.infill(prefix, suffix, { maxTokens: 16, earlyStop: false });
    const sentinels = 3; // <fim_prefix> … <fim_suffix> … <fim_middle>
    assert.equal(f.promptTokens, lm.tokenizer.encode(prefix).length + lm.tokenizer.encode(suffix).length + sentinels, 'PSM prompt');
    // the scoring forward over [x_t ⊕ x_0] on ONNX Runtime (its attention bias from the same mask rule) = wasm
    const { config, weights } = await loadF32Weights(dir);
    const ort = await OrtTransformer.create(config, weights, { dtype: 'f32', threads: 1 });
    const n2 = 40,
      win = Int32Array.from({ length: n2 }, (_, i) => 10 + ((i * 31) % 500));
    const tokens = Int32Array.from([...win.map((t, i) => (i % 3 === 2 ? config.vocabSize - 4 : t)), ...win]);
    const input = { tokens, B: 1, T: 2 * n2, positions: bdPositions(1, n2), mask: { kind: 'blockDiffusion' as const, blockLength: 8 } };
    const want = Float32Array.from(await m.model.forward(input));
    const got = await ort.forward(input);
    ort.dispose();
    // f32 on both engines, different summation orders over 6 layers: 1e-4 absolute on logits of size ~10
    expectClose(got, want, { atol: 1e-4, rtol: 1e-4, label: 'ort vs wasm, blockDiffusion forward' });
  } finally {
    lm.dispose();
    k.dispose();
    remove();
  }
});

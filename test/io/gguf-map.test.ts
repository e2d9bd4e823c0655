// Our parameter table ↔ llama.cpp GGUF (model/gguf-map.ts): exact round trips for the three families, the q/k
// row permutation against llama.cpp's NORM RoPE, the metadata llama.cpp requires, and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f16BitsToF32, f32ToF16Bits, readGguf, readGgufTensor, writeGguf } from '../../src/io/gguf.js';
import { validateConfig, type Arch, type ModelConfig } from '../../src/model/config.js';
import { ggufFromModel, ggufTensorName, modelFromGguf, permuteQkRows, type GgufTokenizerInfo } from '../../src/model/gguf-map.js';
import { numel, parameterTable } from '../../src/model/params.js';
import { ropeTable } from '../../src/kernels/rope-table.js';

function randn(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function tinyConfig(arch: Arch, over: Partial<ModelConfig> = {}): ModelConfig {
  return validateConfig({
    arch,
    vocabSize: 40,
    hiddenSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 6,
    ffnSize: 20,
    ropeTheta: arch === 'dream' ? 1e6 : 10000,
    normEps: arch === 'dream' ? 1e-6 : 1e-5,
    tieEmbeddings: arch === 'llama',
    qkvBias: arch === 'dream',
    attention: arch === 'llama' ? 'causal' : 'bidirectional',
    shiftLogits: arch === 'dream',
    maxPositions: 128,
    ...over,
  });
}
function tinyWeights(c: ModelConfig, seed = 1): Map<string, Float32Array> {
  const r = randn(seed);
  return new Map(parameterTable(c).map((s) => [s.name, Float32Array.from({ length: numel(s.shape) }, () => r())]));
}
const tokenizer = (V: number): GgufTokenizerInfo => ({
  tokens: Array.from({ length: V - 3 }, (_, i) => `t${i}`),
  merges: ['t 1', 't1 0'],
  specials: { eos: 0, mask: V - 4 },
});

for (const arch of ['llama', 'llada', 'dream'] as const) {
  test(`${arch}: ggufFromModel → modelFromGguf is exact (f32, and f16 after rounding) and keeps config and tokenizer`, async () => {
    const c = tinyConfig(arch, arch === 'llama' ? { qkvBias: true } : {});
    const w = tinyWeights(c);
    for (const dtype of ['f32', 'f16'] as const) {
      const back = await modelFromGguf(ggufFromModel(c, w, tokenizer(c.vocabSize), dtype));
      assert.deepEqual(back.config, c);
      assert.deepEqual(
        [...back.tensors.keys()],
        parameterTable(c).map((s) => s.name),
      );
      for (const s of parameterTable(c)) {
        const src = w.get(s.name)!;
        const want = dtype === 'f16' && s.shape.length === 2 ? src.map((x) => f16BitsToF32(f32ToF16Bits(x))) : src;
        assert.deepEqual(back.tensors.get(s.name), want, `${dtype} ${s.name}`);
      }
      const t = back.tokenizer!;
      assert.equal(t.tokens.length, c.vocabSize);
      assert.deepEqual(t.tokens.slice(-4), [
        `t${c.vocabSize - 4}`,
        `[PAD${c.vocabSize - 3}]`,
        `[PAD${c.vocabSize - 2}]`,
        `[PAD${c.vocabSize - 1}]`,
      ]);
      assert.deepEqual(t.specials, { eos: 0, mask: c.vocabSize - 4 });
      assert.deepEqual([t.tokenTypes![0], t.tokenTypes![1], t.tokenTypes![c.vocabSize - 1]], [3, 1, 5]); // control, normal, unused
    }
  });
}

test('the metadata llama.cpp requires, with the types it reads', async () => {
  for (const arch of ['llama', 'llada', 'dream'] as const) {
    const c = tinyConfig(arch);
    const f = await readGguf(ggufFromModel(c, tinyWeights(c), tokenizer(c.vocabSize), 'f32'));
    const m = f.metadata,
      type = (k: string) => m.get(k)?.type;
    assert.equal(m.get('general.architecture')?.value, arch);
    for (const k of [
      'context_length',
      'embedding_length',
      'block_count',
      'feed_forward_length',
      'attention.head_count',
      'attention.head_count_kv',
      'rope.dimension_count',
      'vocab_size',
    ])
      assert.equal(type(`${arch}.${k}`), 'u32', k);
    for (const k of ['attention.layer_norm_rms_epsilon', 'rope.freq_base']) assert.equal(type(`${arch}.${k}`), 'f32', k);
    assert.equal(m.get('tokenizer.ggml.model')?.value, 'gpt2');
    assert.equal(m.get('tokenizer.ggml.pre')?.value, 'gpt-2');
    const tt = m.get('tokenizer.ggml.token_type');
    assert.ok(tt?.type === 'array' && tt.itemType === 'i32', 'token_type is an INT32 array (llama-vocab.cpp checks)');
    assert.equal(type('tokenizer.ggml.mask_token_id'), 'u32');
    assert.equal(m.get('diffusion.shift_logits')?.value, arch === 'llama' ? undefined : arch === 'dream');
    assert.equal(f.tensors.get('token_embd.weight')!.dimsGgmlOrder.join(), `${c.hiddenSize},${c.vocabSize}`);
    assert.equal(f.tensors.has('output.weight'), !c.tieEmbeddings);
  }
});

test('q/k rows: permuted for llama and llada (NORM RoPE), untouched for dream (NEOX)', async () => {
  for (const arch of ['llama', 'llada', 'dream'] as const) {
    const c = tinyConfig(arch);
    const w = tinyWeights(c);
    const bytes = ggufFromModel(c, w, tokenizer(c.vocabSize), 'f32');
    const f = await readGguf(bytes);
    const q = await readGgufTensor(bytes, f.tensors.get('blk.1.attn_q.weight')!);
    const k = await readGgufTensor(bytes, f.tensors.get('blk.1.attn_k.weight')!);
    const v = await readGgufTensor(bytes, f.tensors.get('blk.1.attn_v.weight')!);
    const permutes = arch !== 'dream';
    assert.deepEqual(
      q,
      permutes ? permuteQkRows(w.get('layers.1.wq')!, c.numHeads, c.headDim, c.hiddenSize, 'toGguf') : w.get('layers.1.wq'),
    );
    assert.deepEqual(
      k,
      permutes ? permuteQkRows(w.get('layers.1.wk')!, c.numKvHeads, c.headDim, c.hiddenSize, 'toGguf') : w.get('layers.1.wk'),
    );
    assert.deepEqual(v, w.get('layers.1.wv'), 'v is never permuted');
  }
  // row 2j+s of a head in GGUF order is row s·D/2 + j in ours (D = 6: [0,3,1,4,2,5])
  assert.deepEqual([...permuteQkRows(Float32Array.from([0, 1, 2, 3, 4, 5]), 1, 6, 1, 'toGguf')], [0, 3, 1, 4, 2, 5]);
});

test('NORM RoPE (adjacent pairs) on permuted rows equals our rotate-half RoPE on the original rows', () => {
  const H = 3,
    D = 8,
    theta = 10000,
    P = 50;
  const table = ropeTable(theta, D, P);
  const r = randn(3);
  const x = Float32Array.from({ length: H * D }, () => r());
  for (const pos of [0, 1, 7, 49]) {
    const ours = new Float32Array(H * D); // rotate-half, as the kernels do
    for (let h = 0; h < H; h++)
      for (let i = 0; i < D / 2; i++) {
        const c = table.cos[(pos * D) / 2 + i]!,
          s = table.sin[(pos * D) / 2 + i]!,
          a = x[h * D + i]!,
          b = x[h * D + i + D / 2]!;
        ours[h * D + i] = a * c - b * s;
        ours[h * D + i + D / 2] = b * c + a * s;
      }
    const px = permuteQkRows(x, H, D, 1, 'toGguf'),
      norm = new Float32Array(H * D); // ggml rope_norm: theta_j = pos·base^(-2j/D)
    for (let h = 0; h < H; h++)
      for (let j = 0; j < D / 2; j++) {
        const ang = pos * theta ** ((-2 * j) / D),
          a = px[h * D + 2 * j]!,
          b = px[h * D + 2 * j + 1]!;
        norm[h * D + 2 * j] = a * Math.cos(ang) - b * Math.sin(ang);
        norm[h * D + 2 * j + 1] = a * Math.sin(ang) + b * Math.cos(ang);
      }
    const back = permuteQkRows(norm, H, D, 1, 'fromGguf');
    for (let i = 0; i < H * D; i++) assert.ok(Math.abs(back[i]! - ours[i]!) < 1e-5, `pos ${pos} [${i}]: ${back[i]} vs ${ours[i]}`);
  }
});

test('refusals: what llama.cpp cannot load, and GGUFs that are not ours', async () => {
  const V = 40;
  assert.throws(
    () => ggufFromModel(tinyConfig('llada', { qkvBias: true }), tinyWeights(tinyConfig('llada', { qkvBias: true })), tokenizer(V), 'f32'),
    /llada graph has no q\/k\/v biases/,
  );
  const dream = tinyConfig('dream', { qkvBias: false });
  assert.throws(() => ggufFromModel(dream, tinyWeights(dream), tokenizer(V), 'f32'), /requires q\/k\/v biases/);
  const c = tinyConfig('llama'),
    w = tinyWeights(c);
  assert.throws(() => ggufFromModel(c, w, { ...tokenizer(V), tokens: ['a', 'b', 'a'] }, 'f32'), /"a" has ids 0 and 2/);
  assert.throws(
    () => ggufFromModel(c, w, { ...tokenizer(V), tokens: Array.from({ length: V + 1 }, (_, i) => `${i}`) }, 'f32'),
    /41 tokens but the embedding has 40 rows/,
  );
  const missing = new Map(w);
  missing.delete('layers.1.wUp');
  assert.throws(() => ggufFromModel(c, missing, tokenizer(V), 'f32'), /layers\.1\.wUp is missing/);
  const other = writeGguf({
    metadata: [['general.architecture', { type: 'string', value: 'qwen3' }]],
    tensors: [{ name: 'token_embd.weight', shape: [4, 8], type: 'F32', data: new Float32Array(32) }],
  });
  await assert.rejects(modelFromGguf(other), /architecture "qwen3" is not supported/);
  // an extra tensor, and a missing one
  const good = await readGguf(ggufFromModel(c, w, tokenizer(V), 'f32'));
  const rebuild = async (edit: (names: string[]) => string[]) => {
    const bytes = ggufFromModel(c, w, tokenizer(V), 'f32');
    const tensors = await Promise.all(
      edit([...good.tensors.keys()]).map(async (name) => {
        const info = good.tensors.get(name) ?? good.tensors.get('output_norm.weight')!;
        return { name, shape: info.shape, type: 'F32' as const, data: await readGgufTensor(bytes, info) };
      }),
    );
    return writeGguf({ metadata: good.metadata, tensors });
  };
  await assert.rejects(modelFromGguf(await rebuild((n) => [...n, 'blk.0.ffn_norm.bias'])), /unexpected tensors blk\.0\.ffn_norm\.bias/);
  await assert.rejects(
    modelFromGguf(await rebuild((n) => n.filter((x) => x !== ggufTensorName('layers.0.wDown')))),
    /blk\.0\.ffn_down\.weight \(our layers\.0\.wDown\) is missing/,
  );
});

test('absurd dimensions in GGUF metadata are refused before anything is sized by them', { timeout: 10_000 }, async () => {
  const c = tinyConfig('llama'),
    w = tinyWeights(c);
  const good = await readGguf(ggufFromModel(c, w, tokenizer(40), 'f32'));
  const bytes = ggufFromModel(c, w, tokenizer(40), 'f32');
  const tensors = await Promise.all(
    [...good.tensors.values()].map(async (info) => ({
      name: info.name,
      shape: info.shape,
      type: 'F32' as const,
      data: await readGgufTensor(bytes, info),
    })),
  );
  for (const [key, value] of [
    ['llama.block_count', 1e9],
    ['llama.context_length', 1e9],
  ] as const) {
    const metadata = new Map(good.metadata);
    metadata.set(key, { type: 'u32', value });
    const t0 = performance.now();
    // a billion-layer parameter table used to run into a V8 out-of-memory abort
    await assert.rejects(
      modelFromGguf(writeGguf({ metadata, tensors })),
      new RegExp(`gguf: metadata "${key.replace('.', '\\.')}" is 1000000000, over dllm's limit`),
    );
    assert.ok(performance.now() - t0 < 2000, `${key}: refused at once`);
  }
});

// dllm export --format gguf: a tiny random checkpoint folder (as `dllm train` writes one: HF-layout config.json,
// F32 model.safetensors, a byte-level BPE tokenizer.json trained by our own trainer) → GGUF → read back with
// modelFromGguf: the weights must come back bit-exactly (f32), the config unchanged, and the tokenizer metadata
// must hold the same vocabulary, merges and special ids. If node-llama-cpp can start here, llama.cpp must also
// load the file and tokenize text exactly as our tokenizer does; otherwise that part skips with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportModel } from '../../src/cli/export.js';
import { OUR_SPECIALS } from '../../src/cli/data.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/io/gguf.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { toHfConfig, validateConfig, type Arch, type ModelConfig } from '../../src/model/config.js';
import { modelFromGguf, TOKEN_TYPE } from '../../src/model/gguf-map.js';
import { numel, parameterTable } from '../../src/model/params.js';
import { countWords, toTokenizerJson, trainBpe } from '../../src/tokenizer/bpe-train.js';
import { TextTokenizer } from '../../src/tokenizer/index.js';
import { Rng } from '../../src/train/rng.js';
import { startLlamaCpp } from '../helpers/llama-cpp.js';

const CORPUS = [
  'def add(a, b):\n    return a + b\n',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  'for i in range(10):\n    print(i, "hello world")\n',
  'class Stack:\n    def __init__(self):\n        self.items = []\n',
];
const SAMPLE = 'def fib(n):\n    return n if n < 2 else fib(n-1) + fib(n - 2)  # café ünïcode\n';
const TOKENIZER_VOCAB = 300; // at most: 256 bytes + merges + 2 specials (fewer if the corpus runs out of pairs)

function config(arch: Arch): ModelConfig {
  // vocab 304 > the tokenizer's 300: a padded embedding, as LLaDA's embedding_size; GQA (4 heads, 2 kv heads);
  // dream needs heads·headDim = hidden in llama.cpp and has q/k/v biases
  return validateConfig({
    arch,
    vocabSize: 304,
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 8,
    ffnSize: 48,
    ropeTheta: arch === 'dream' ? 1e6 : 10000,
    normEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: arch === 'dream',
    attention: 'bidirectional',
    shiftLogits: arch === 'dream',
    maxPositions: 64,
  });
}

/** a checkpoint folder like saveCheckpoint's (minus optimizer/trainer state, which export ignores) */
function writeCheckpoint(dir: string, c: ModelConfig, seed: number) {
  mkdirSync(dir, { recursive: true });
  const bpe = trainBpe(countWords(CORPUS), { vocabSize: TOKENIZER_VOCAB, specialTokens: OUR_SPECIALS });
  const tokenizerJson = toTokenizerJson(bpe);
  const eos = bpe.vocab.length,
    mask = bpe.vocab.length + 1; // toTokenizerJson appends the specials in order
  const rng = new Rng(seed);
  const weights = new Map(parameterTable(c).map((s) => [s.name, Float32Array.from({ length: numel(s.shape) }, () => rng.normal() * 0.5)]));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(toHfConfig(c, { eos_token_id: eos, pad_token_id: eos, mask_token_id: mask }), null, 2),
  );
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: eos, pad_token_id: eos }));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: OUR_SPECIALS[0], mask_token: OUR_SPECIALS[1], pad_token: OUR_SPECIALS[0] }),
  );
  const tensors = parameterTable(c).map((s) => ({
    name: s.hfName,
    dtype: 'F32' as const,
    shape: [...s.shape],
    data: weights.get(s.name)!,
  }));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  return { weights, tokenizerJson, eos, mask };
}

/** bit patterns, so that the comparison is exact (and -0 ≠ +0) */
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

async function exportQuiet(args: string[]): Promise<number> {
  const log = console.log;
  console.log = () => {};
  try {
    return await exportModel(args);
  } finally {
    console.log = log;
  }
}

for (const arch of ['llada', 'dream'] as const) {
  test(`${arch}: export --format gguf round-trips weights bit-exactly (f32), the config and the tokenizer`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dllm-export-gguf-'));
    try {
      const c = config(arch);
      const ckpt = join(dir, 'run', 'checkpoint');
      const { weights, tokenizerJson, eos, mask } = writeCheckpoint(ckpt, c, 7);
      const out = join(dir, 'model-f32.gguf');
      assert.equal(await exportQuiet(['--checkpoint', ckpt, '--out', out, '--format', 'gguf', '--dtype', 'f32']), 0);
      const back = await modelFromGguf(new Uint8Array(readFileSync(out)), out);
      assert.deepEqual(back.config, c);
      for (const s of parameterTable(c)) assert.deepEqual(bits(back.tensors.get(s.name)!), bits(weights.get(s.name)!), s.name);
      assert.equal(back.metadata.get('general.name')?.value, 'run'); // the run's name, not "checkpoint"

      // tokenizer: every id keeps its token, merges in rank order, specials as control tokens, padding unused
      const t = back.tokenizer!;
      const vocab = tokenizerJson['model'] as { vocab: Record<string, number>; merges: [string, string][] };
      assert.equal(t.tokens.length, c.vocabSize);
      for (const [tok, id] of Object.entries(vocab.vocab)) assert.equal(t.tokens[id], tok);
      assert.deepEqual(
        t.merges,
        vocab.merges.map(([a, b]) => `${a} ${b}`),
      );
      assert.deepEqual(t.specials, { eos, pad: eos, mask });
      assert.equal(t.pre, 'gpt-2');
      assert.deepEqual(
        [t.tokenTypes![0], t.tokenTypes![eos], t.tokenTypes![mask], t.tokenTypes![c.vocabSize - 1]],
        [TOKEN_TYPE.normal, TOKEN_TYPE.control, TOKEN_TYPE.control, TOKEN_TYPE.unused],
      );

      // f16: matrices rounded to f16 (ties to even), norms and biases stay f32
      const out16 = join(dir, 'model-f16.gguf');
      assert.equal(await exportQuiet(['--checkpoint', ckpt, '--out', out16, '--format', 'gguf', '--dtype', 'f16']), 0);
      const back16 = await modelFromGguf(new Uint8Array(readFileSync(out16)), out16);
      for (const s of parameterTable(c)) {
        const w = weights.get(s.name)!;
        const want = s.shape.length === 2 ? w.map((x) => f16BitsToF32(f32ToF16Bits(x))) : w;
        assert.deepEqual(bits(back16.tensors.get(s.name)!), bits(want), `f16 ${s.name}`);
      }
      // written atomically: no temp files left beside the outputs
      assert.deepEqual(readdirSync(dir).sort(), ['model-f16.gguf', 'model-f32.gguf', 'run']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('export --format gguf refuses what llama.cpp would tokenize differently, and leaves no file behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-export-gguf-'));
  try {
    const ckpt = join(dir, 'ckpt');
    const { tokenizerJson } = writeCheckpoint(ckpt, config('llada'), 1);
    const out = join(dir, 'x.gguf');
    writeFileSync(
      join(ckpt, 'tokenizer.json'),
      JSON.stringify({ ...tokenizerJson, pre_tokenizer: { type: 'Metaspace', replacement: '▁' } }),
    );
    await assert.rejects(exportModel(['--checkpoint', ckpt, '--out', out, '--format', 'gguf']), /pre_tokenizer .* is not GPT-2 ByteLevel/);
    writeFileSync(join(ckpt, 'tokenizer.json'), JSON.stringify({ ...tokenizerJson, normalizer: { type: 'NFC' } }));
    await assert.rejects(exportModel(['--checkpoint', ckpt, '--out', out, '--format', 'gguf']), /normalizer/);
    await assert.rejects(
      exportModel(['--checkpoint', ckpt, '--out', out, '--format', 'gguf', '--dtype', 'bf16']),
      /--dtype must be f16, f32 or q4_k for GGUF/,
    );
    await assert.rejects(exportModel(['--checkpoint', ckpt, '--out', out, '--format', 'onnx']), /--format must be/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir), ['ckpt']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export without --format still writes a safetensors model folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-export-st-'));
  try {
    const ckpt = join(dir, 'ckpt');
    writeCheckpoint(ckpt, config('llada'), 2);
    assert.equal(await exportQuiet(['--checkpoint', ckpt, '--out', join(dir, 'model')]), 0);
    assert.deepEqual(readdirSync(join(dir, 'model')).sort(), [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- llama.cpp loads the exported file (node-llama-cpp 3.21.1, prebuilt CPU binaries; optional) -------------
interface NlcModel {
  tokenize(text: string): number[];
  detokenize(tokens: number[]): string;
  dispose(): Promise<void>;
}
interface NlcLlama {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<NlcModel>;
  dispose(): Promise<void>;
}

test('llama.cpp loads the exported GGUF and tokenizes like our tokenizer', { timeout: 60_000 }, async (t) => {
  const llama = await startLlamaCpp<NlcLlama>(t);
  if (!llama) return;
  const dir = mkdtempSync(join(tmpdir(), 'dllm-export-gguf-'));
  try {
    for (const arch of ['llada', 'dream'] as const) {
      const ckpt = join(dir, arch);
      const { tokenizerJson } = writeCheckpoint(ckpt, config(arch), 3);
      const out = join(dir, `${arch}.gguf`);
      assert.equal(await exportQuiet(['--checkpoint', ckpt, '--out', out, '--format', 'gguf', '--dtype', 'f16']), 0);
      const model = await llama.loadModel({ modelPath: out, gpuLayers: 0 });
      try {
        const ours = Array.from(new TextTokenizer({ tokenizerJson }).encode(SAMPLE));
        const theirs = model.tokenize(SAMPLE);
        assert.deepEqual(theirs, ours, `${arch}: llama.cpp's tokenization differs from ours`);
        assert.equal(model.detokenize(theirs), SAMPLE);
        t.diagnostic(`${arch}: llama.cpp loaded the export; ${JSON.stringify(SAMPLE)} → ${theirs.length} tokens, as ours`);
      } finally {
        await model.dispose();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await llama.dispose();
  }
});

// `--model FILE.gguf`: a llama.cpp GGUF file opens like a checkpoint folder. The AR twin exported as F16 GGUF
// (dllm export --format gguf) reads back to the folder's own f16 values, so its tokenizer — rebuilt from the
// GGUF metadata — encodes as the folder's, and greedy decoding gives the folder's tokens, on both engines; a
// Q4_K export loads too. A GGUF whose pre-tokenizer is not GPT-2's is refused by name, unless a tokenizer.json
// lies beside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportGguf } from '../../src/platform/node-gguf-export.js';
import { ggufFromModel } from '../../src/model/gguf-map.js';
import { loadF32Weights } from '../../src/platform/node-model.js';
import { loadModel } from '../../src/platform/node-generator.js';

const AR = fileURLToPath(new URL('../../../models/dllm-code-mini-ar/', import.meta.url));
const LLADA = fileURLToPath(new URL('../../../test/fixtures/llada/', import.meta.url));

test('an F16 GGUF export of the AR twin: same tokenizer, same greedy tokens as the folder (wasm and ort); Q4_K loads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-gguf-load-'));
  try {
    const file = join(dir, 'ar-f16.gguf');
    await exportGguf({ checkpoint: AR, out: file, dtype: 'f16' });
    const text = 'def read_json(path):\n    """Read it."""\n';
    const folder = await loadModel(AR, { backend: 'wasm', threads: 1 });
    const want = await folder.complete(text, { maxTokens: 16, temperature: 0 });
    for (const backend of ['wasm', 'ort'] as const) {
      const gguf = await loadModel(file, { backend, threads: 1 });
      assert.deepEqual(
        [...gguf.tokenizer.encode(text)],
        [...folder.tokenizer.encode(text)],
        'the rebuilt tokenizer encodes as tokenizer.json',
      );
      assert.equal(gguf.tokenizer.specials.eos, folder.tokenizer.specials.eos);
      assert.equal(gguf.kind, 'causal');
      const got = await gguf.complete(text, { maxTokens: 16, temperature: 0 });
      // wasm: the very f16 values widened, the same kernels → the same tokens; ort: the same values in MLAS
      assert.deepEqual([...got.ids], [...want.ids], `${backend}: greedy tokens from the GGUF`);
      gguf.dispose();
    }
    folder.dispose();
    const q4k = join(dir, 'ar-q4k.gguf');
    await exportGguf({ checkpoint: AR, out: q4k, dtype: 'q4_k' });
    const lm = await loadModel(q4k, { backend: 'wasm', threads: 1 });
    assert.ok((await lm.complete(text, { maxTokens: 4, temperature: 0 })).ids.length > 0);
    lm.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a GGUF whose pre-tokenizer is not GPT-2's: refused by name; with a tokenizer.json beside it, it opens", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-gguf-pre-'));
  try {
    // the fixture's tokenizer splits as LLaMA-3 does: written with that pre-tokenizer's llama.cpp name
    const { config, weights } = await loadF32Weights(LLADA);
    const tj = JSON.parse(readFileSync(join(LLADA, 'tokenizer.json'), 'utf8'));
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(tj.model.vocab as Record<string, number>)) tokens[id] = t;
    for (const a of tj.added_tokens as Array<{ id: number; content: string }>) tokens[a.id] = a.content;
    for (let i = 0; i < config.vocabSize; i++) tokens[i] ??= `[PAD${i}]`;
    const merges = (tj.model.merges as Array<string | string[]>).map((m) => (Array.isArray(m) ? m.join(' ') : m));
    const file = join(dir, 'llada.gguf');
    const info = { tokens, merges, specials: { eos: 281, mask: 290 }, pre: 'llama-bpe' }; // ids: the fixture's config.json
    writeFileSync(file, ggufFromModel(config, weights, info, 'f32'));
    await assert.rejects(
      loadModel(file, { backend: 'wasm', threads: 1 }),
      /tokenizer\.ggml\.pre is "[^"]+"; dllm rebuilds GPT-2 byte-level tokenizers/,
    );
    copyFileSync(join(LLADA, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const lm = await loadModel(file, { backend: 'wasm', threads: 1 });
    assert.equal(lm.kind, 'diffusion');
    lm.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

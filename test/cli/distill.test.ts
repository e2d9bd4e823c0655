// dllm data distill: seeded prompts from the training stream, each continued by the model one token per step,
// written prompt + completion + EOS (the same ids the library decodes for that prompt), with distill.json; on a
// block-diffusion model (the AR twin read with bd_size) so the diffusion path, its blocks and cache are used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDistill } from '../../src/cli/data-distill.js';
import { loadModel } from '../../src/platform/node-generator.js';
import { Rng } from '../../src/train/rng.js';
import { bdFolder } from '../helpers/bd-model.js';

test('data distill: prompt + the model’s one-token-per-step completion + EOS, per seeded prompt', async () => {
  const bd = bdFolder(8);
  const data = mkdtempSync(join(tmpdir(), 'dllm-distill-'));
  try {
    const stream = Uint16Array.from({ length: 3000 }, (_, i) => 40 + ((i * 7919) % 3000));
    writeFileSync(join(data, 'manifest.json'), JSON.stringify({ dtype: 'uint16', corpusSha256: 'test' }));
    writeFileSync(join(data, 'train.bin'), new Uint8Array(stream.buffer));
    const P = 8,
      G = 16,
      N = 3;
    const argv = ['--data', data, '--model', bd.dir, '--prompts', `${N}`, '--prompt-tokens', `${P}`, '--gen-length', `${G}`];
    assert.equal(await dataDistill([...argv, '--backend', 'wasm', '--threads', '1', '--quiet']), 0);
    const got = new Uint16Array(new Uint8Array(readFileSync(join(data, 'distill-train.bin'))).buffer);
    const stats = JSON.parse(readFileSync(join(data, 'distill.json'), 'utf8'));
    assert.equal(stats.prompts, N);
    assert.equal(stats.kind, 'diffusion');
    assert.ok(stats.tokensPerForward <= 1, `one token per step: TPF ${stats.tokensPerForward}`);
    const lm = await loadModel(bd.dir, { backend: 'wasm', threads: 1 });
    const eos = lm.tokenizer.specials.eos!;
    const rng = new Rng(1);
    const want: number[] = [];
    for (let i = 0; i < N; i++) {
      const off = rng.int(stream.length - P);
      const prompt = Int32Array.from(stream.subarray(off, off + P));
      const c = await lm.complete(prompt, { decoder: 'fixed', steps: G, maxTokens: G });
      want.push(...prompt, ...c.ids, eos);
    }
    lm.dispose();
    assert.deepEqual(Array.from(got), want, 'distill-train.bin vs the library decoding the same prompts');
    assert.equal(stats.tokens, want.length);
  } finally {
    bd.remove();
    rmSync(data, { recursive: true, force: true });
  }
});

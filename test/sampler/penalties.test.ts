// OpenAI's presence / frequency penalties in both decoders, and NaN logits refused: a fake denoiser / causal
// model whose logits always favour token FAV; with a penalty, FAV is not committed again and again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arGenerate, drain, generate } from '../../src/sampler/index.js';
import type { CausalModel, Denoiser, DenoiseInput } from '../../src/sampler/types.js';

const V = 16,
  MASK = 15,
  FAV = 3;
const specials = { mask: MASK, eos: null, eot: null, pad: null };
/** logits (rows × V): FAV highest, then 4, 5, … in falling order */
const rows = (n: number, nan = false) => {
  const l = new Float32Array(n * V);
  for (let r = 0; r < n; r++) for (let v = 0; v < V; v++) l[r * V + v] = nan ? NaN : v === FAV ? 1 : -v * 0.01;
  return l;
};
const denoiser = (nan = false): Denoiser => ({
  specials,
  vocabSize: V,
  async denoise(input: DenoiseInput) {
    const R = input.region ? input.region.end - input.region.start : input.T;
    return rows(input.B * R, nan);
  },
});
const causal: CausalModel = {
  specials: { eos: null, eot: null, pad: null },
  vocabSize: V,
  newState: () => ({ append: async () => rows(1), dispose() {} }),
};

test('diffusion: without a penalty every cell is FAV; frequency_penalty 2 spreads them out', async () => {
  const base = { decoder: 'fixed' as const, genLength: 8, blockLength: 8, steps: 8 };
  const plain = (await drain(generate(denoiser(), { prompt: [1, 2] }, base))).result.ids;
  assert.deepEqual(Array.from(plain), Array(8).fill(FAV));
  const pen = (await drain(generate(denoiser(), { prompt: [1, 2] }, { ...base, frequencyPenalty: 2 }))).result.ids;
  assert.ok(Array.from(pen).filter((t) => t === FAV).length <= 3, `FAV committed ${Array.from(pen).join(',')}`);
});

test('AR: presence_penalty 2 stops the favourite from repeating', async () => {
  const plain = (await drain(arGenerate(causal, { prompt: [1] }, { genLength: 6 }))).result.ids;
  assert.deepEqual(Array.from(plain), Array(6).fill(FAV));
  const pen = (await drain(arGenerate(causal, { prompt: [1] }, { genLength: 6, presencePenalty: 2 }))).result.ids;
  assert.equal(Array.from(pen).filter((t) => t === FAV).length, 1, Array.from(pen).join(','));
});

test('NaN logits stop decoding with an error that says so (not NUL tokens)', async () => {
  await assert.rejects(drain(generate(denoiser(true), { prompt: [1, 2] }, { genLength: 4, blockLength: 4, steps: 4 })), /NaN logits/);
});

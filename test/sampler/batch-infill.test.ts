// Batching, infilling and pinned tokens, with a fake denoiser that sees each row separately and ignores left
// padding (what a real model does through keyValid and relative positions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, generateBatch, type DecodeResult, type GenerateRequest } from '../../src/sampler/decode.js';
import { drain } from '../../src/sampler/drain.js';
import type { DecodeOptions } from '../../src/sampler/options.js';
import type { DenoiseInput, Denoiser } from '../../src/sampler/types.js';

const V = 24,
  MASK = 23,
  EOS = 22;

function rowFake(): Denoiser {
  return {
    vocabSize: V,
    specials: { mask: MASK, eos: EOS, eot: EOS, pad: EOS },
    async denoise(inp: DenoiseInput) {
      const s = inp.region?.start ?? 0,
        e = inp.region?.end ?? inp.T,
        R = e - s;
      const out = new Float32Array(inp.B * R * V);
      for (let b = 0; b < inp.B; b++) {
        let lead = 0;
        while (inp.keyValid && inp.keyValid[b * inp.T + lead] === 0) lead++;
        let h = 0; // a hash of the row's visible content (independent of padding)
        for (let i = lead; i < inp.T; i++)
          if (!inp.keyValid || inp.keyValid[b * inp.T + i]) h = (h * 31 + inp.tokens[b * inp.T + i]!) % 1000003;
        for (let p = s; p < e; p++) {
          const q = p - lead,
            fav = (q * 5 + h) % 20;
          for (let v = 0; v < V; v++) out[(b * R + p - s) * V + v] = v === fav ? 3 + (q % 4) : ((v * 7 + q) % 10) / 10;
        }
      }
      return out;
    },
  };
}

const final = async (model: Denoiser, req: GenerateRequest, o: Partial<DecodeOptions>): Promise<DecodeResult> =>
  (await drain(generate(model, req, o))).result;
const finalBatch = async (model: Denoiser, reqs: GenerateRequest[], o: Partial<DecodeOptions>): Promise<DecodeResult[]> =>
  (await drain(generateBatch(model, reqs, o))).result;

const O: Partial<DecodeOptions> = { decoder: 'fixed', genLength: 12, blockLength: 4, steps: 12, temperature: 0 };

test('a batch of prompts of different lengths decodes each row as if alone', async () => {
  const prompts = [Int32Array.of(1, 2, 3, 4, 5), Int32Array.of(6), Int32Array.of(7, 8, 9)];
  for (const decoder of ['fixed', 'threshold'] as const) {
    const batch = await finalBatch(
      rowFake(),
      prompts.map((prompt) => ({ prompt })),
      { ...O, decoder, threshold: 0.6 },
    );
    for (let b = 0; b < prompts.length; b++) {
      const alone = await final(rowFake(), { prompt: prompts[b]! }, { ...O, decoder, threshold: 0.6 });
      assert.deepEqual(batch[b]!.canvas, alone.canvas, `${decoder}: row ${b}`);
    }
  }
});

test('infilling keeps prefix and suffix and fills exactly the middle', async () => {
  const prefix = Int32Array.of(1, 2),
    suffix = Int32Array.of(3, 4, 5);
  const steps: number[] = [];
  const { result } = await drain(generate(rowFake(), { prompt: prefix, suffix }, O), (s) => steps.push(s.canvas.length));
  assert.ok(
    steps.every((n) => n === 12),
    'the canvas is the middle only',
  );
  assert.ok(!result.canvas.includes(MASK));
});

test('pinned tokens stay where they were put and are not counted as masks', async () => {
  const pinned = new Map([
    [0, 11],
    [5, 12],
    [11, 13],
  ]);
  const { steps } = await drain(
    generate(rowFake(), { prompt: Int32Array.of(1), pinned: [...pinned].map(([offset, t]) => ({ offset, ids: [t] })) }, O),
  );
  for (const s of steps) {
    for (const [p, t] of pinned) assert.equal(s.canvas[p], t);
    for (const c of s.committed) assert.ok(!pinned.has(c.position), `pinned position ${c.position} was committed`);
  }
  assert.equal(steps[0]!.committed.length, 1, 'block 0 has 3 masks over 3 steps: one per step');
});

test('rows with different suffix lengths are right-padded and decode as if alone', async () => {
  const inputs = [
    { prompt: Int32Array.of(1), suffix: Int32Array.of(2) },
    { prompt: Int32Array.of(1, 4) },
    { prompt: Int32Array.of(5), suffix: Int32Array.of(6, 7, 8) },
  ];
  const batch = await finalBatch(rowFake(), inputs, O);
  for (let b = 0; b < inputs.length; b++) assert.deepEqual(batch[b]!.canvas, (await final(rowFake(), inputs[b]!, O)).canvas, `row ${b}`);
});

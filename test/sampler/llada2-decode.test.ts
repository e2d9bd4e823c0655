// The llada2 decoder (LLaDA2MoeModelLM.generate's rule, select.ts thresholdOrCount) on the fake denoiser:
// each step commits every mask with p > τ when at least the step's k = get_num_transfer_tokens(L, steps)[step]
// pass, else the top k; with steps = L per block (its defaults, 32 / 32) it decodes exactly as Fast-dLLM's
// threshold rule; and under blockCausal its blocks are the absolute ones of its generate().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain, generate, transferCounts } from '../../src/sampler/index.js';
import { thresholdOrCount } from '../../src/sampler/select.js';
import { fakeDenoiser, SPEC } from './fake.js';

const c = (confidence: number, position: number) => ({ position, token: 1, confidence });

test('thresholdOrCount: all above τ (strictly) when at least k are, else the top k', () => {
  const sorted = [c(0.99, 3), c(0.97, 1), c(0.5, 0), c(0.2, 2)];
  assert.equal(thresholdOrCount(sorted, 0.95, 1), 2, 'two above τ ≥ k = 1');
  assert.equal(thresholdOrCount(sorted, 0.95, 3), 3, 'two above τ < k = 3: the top 3');
  assert.equal(thresholdOrCount(sorted, 0.99, 1), 1, 'p = τ is not above τ: the top 1');
  assert.equal(thresholdOrCount(sorted, 0.995, 0), 0, 'k = 0 and none above τ: nothing');
  assert.equal(thresholdOrCount(sorted.slice(0, 1), 0.995, 2), 1, 'k capped by the candidates');
});

test('llada2 decoder: every step commits all masks above τ, or exactly its scheduled k', async () => {
  const P = 8,
    G = 16,
    L = 8,
    steps = 8,
    tau = 0.6; // 2 blocks of 8, 4 steps each: k = [2, 2, 2, 2]
  const k = transferCounts(L, steps / (G / L));
  const model = fakeDenoiser();
  const prompt = Int32Array.from({ length: P }, (_, i) => 1 + i);
  const { steps: trace, result } = await drain(
    generate(model, { prompt }, { decoder: 'llada2', genLength: G, blockLength: L, steps, threshold: tau, blockCausal: true }),
  );
  let block = -1,
    inBlock = 0,
    left = 0;
  for (const s of trace) {
    if (s.block !== block) {
      block = s.block;
      inBlock = 0;
      left = L;
    }
    const want = Math.min(k[inBlock]!, left),
      n = s.committed.length;
    assert.ok(n >= want, `step ${s.step} (block ${s.block}, step ${inBlock} of it): committed ${n} < k ${want}`);
    if (n > want)
      assert.ok(
        s.committed.every((x) => x.confidence > tau),
        `step ${s.step}: ${n} > k ${want} commits, so all must be above τ ${tau}: ${s.committed.map((x) => x.confidence.toFixed(3))}`,
      );
    left -= n;
    inBlock++;
  }
  assert.ok(
    result.canvas.every((t) => t !== SPEC.mask),
    'no masks left',
  );
});

test('llada2 decoder with steps = L per block decodes as the threshold decoder (k = 1)', async () => {
  for (const P of [8, 5]) {
    const prompt = Int32Array.from({ length: P }, (_, i) => 2 + i);
    const run = async (decoder: 'llada2' | 'threshold') =>
      (
        await drain(
          generate(fakeDenoiser(), { prompt }, { decoder, genLength: 16, blockLength: 8, steps: 16, threshold: 0.7, blockCausal: true }),
        )
      ).result;
    const a = await run('llada2'),
      b = await run('threshold');
    assert.deepEqual(Array.from(a.canvas), Array.from(b.canvas), `P ${P}: canvases`);
    assert.equal(a.nfe, b.nfe, `P ${P}: NFE`);
  }
});

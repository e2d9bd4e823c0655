// Sub-blocks (options.subBlockLength; Fast-dLLM v2 generate's small_block_size, round2-reference.md §2.2):
// against a plain transcription of its loop over the fake denoiser — per block, per sub-block, repeat until
// the sub-block has no masks: forward the canvas, commit the sub-block's argmax-probability position and
// every masked one there with p > τ — token for token and forward for forward; the option's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain, generate, parseDecodeOptions } from '../../src/sampler/index.js';
import { fakeDenoiser, SPEC } from './fake.js';

/** Fast-dLLM v2's decoding of one prompt at temperature 0 without its block cache; returns the canvas and NFE */
async function reference(prompt: Int32Array, G: number, L: number, sub: number, tau: number) {
  const model = fakeDenoiser(),
    V = SPEC.V,
    P = prompt.length;
  const end = Math.ceil((P + G) / L) * L; // the last block runs to its boundary (absolute blocks)
  const x = new Int32Array(end).fill(SPEC.mask);
  x.set(prompt);
  let nfe = 0;
  for (let b = Math.floor(P / L) * L; b < end; b += L)
    for (let s = b; s < b + L; s += sub)
      for (;;) {
        const masked = [];
        for (let p = s; p < s + sub; p++) if (x[p] === SPEC.mask) masked.push(p);
        if (masked.length === 0) break;
        const logits = await model.denoise({
          tokens: x,
          B: 1,
          T: end,
          region: { start: b, end: b + L, blockStart: false },
          blockCausal: L,
        });
        nfe++;
        const best = masked.map((p) => {
          const row = logits.subarray((p - b) * V, (p - b + 1) * V);
          let arg = 0;
          for (let v = 1; v < V; v++) if (v !== SPEC.mask && row[v]! > row[arg]!) arg = v;
          let z = 0;
          for (let v = 0; v < V; v++) if (v !== SPEC.mask) z += Math.exp(row[v]! - row[arg]!);
          return { p, token: arg, prob: 1 / z };
        });
        const top = best.reduce((m, c) => (c.prob > m.prob ? c : m));
        for (const c of best) if (c === top || c.prob > tau) x[c.p] = c.token;
      }
  return { canvas: Array.from(x.subarray(P, P + G)), nfe };
}

test('sub-blocks decode as Fast-dLLM v2 generate does (token for token, same NFE)', async () => {
  for (const [P, G, L, sub, tau] of [
    [8, 16, 8, 4, 0.7],
    [5, 16, 8, 2, 0.5],
    [13, 24, 8, 4, 0.9],
    [3, 16, 16, 8, 0.6],
  ] as const) {
    const prompt = Int32Array.from({ length: P }, (_, i) => 1 + ((i * 7) % 20));
    const want = await reference(prompt, G, L, sub, tau);
    const got = await drain(
      generate(
        fakeDenoiser(),
        { prompt },
        { decoder: 'threshold', genLength: G, blockLength: L, subBlockLength: sub, threshold: tau, blockCausal: true },
      ),
    );
    const where = `P ${P}, G ${G}, L ${L}, sub ${sub}, τ ${tau}`;
    assert.deepEqual(Array.from(got.result.canvas), want.canvas, `${where}: canvas`);
    assert.equal(got.result.nfe, want.nfe, `${where}: NFE`);
    for (const s of got.steps) {
      const subs = new Set(s.committed.map((c) => Math.floor((c.position + P) / sub)));
      assert.ok(subs.size <= 1, `${where}: step ${s.step} committed in ${subs.size} sub-blocks`);
    }
  }
});

test('sub-blocks of the whole block decode as no sub-blocks; smaller ones take more forwards, never fewer', async () => {
  const prompt = Int32Array.from({ length: 6 }, (_, i) => 2 + i);
  const run = async (subBlockLength: number) =>
    (
      await drain(
        generate(
          fakeDenoiser(),
          { prompt },
          { decoder: 'threshold', genLength: 16, blockLength: 8, subBlockLength, threshold: 0.6, blockCausal: true },
        ),
      )
    ).result;
  const off = await run(0),
    whole = await run(8),
    quarter = await run(2);
  assert.deepEqual(Array.from(whole.canvas), Array.from(off.canvas), 'sub-block = block: canvas');
  assert.equal(whole.nfe, off.nfe, 'sub-block = block: NFE');
  assert.ok(quarter.nfe >= off.nfe, `sub-blocks of 2 took ${quarter.nfe} forwards, fewer than the ${off.nfe} of whole blocks`);
});

test('subBlockLength: must divide blockLength, needs a run-until-done decoder, ≥ 0', () => {
  assert.throws(
    () => parseDecodeOptions({ decoder: 'threshold', blockLength: 8, genLength: 16, subBlockLength: 3 }),
    /"subBlockLength" \(3\) must divide blockLength \(8\)/,
  );
  assert.throws(
    () => parseDecodeOptions({ decoder: 'fixed', blockLength: 8, genLength: 16, subBlockLength: 4 }),
    /"subBlockLength" needs a decoder .*threshold.*not "fixed"/,
  );
  assert.throws(() => parseDecodeOptions({ subBlockLength: -1 }), /"subBlockLength" must be an integer ≥ 0/);
  assert.equal(parseDecodeOptions({ decoder: 'factor', blockLength: 8, genLength: 16, subBlockLength: 4 }).subBlockLength, 4);
});

// Token-for-token parity with the published algorithms: every case of test/fixtures/sampler/traces.json
// (written by scripts/reference/samplers/make_traces.py from numpy re-implementations of LLaDA generate.py,
// Fast-dLLM's threshold / factor rules and Dream's diffusion_generate) is decoded again here with the same
// fake denoiser and the same RNG streams, and must match step by step: rows, blocks, committed positions and
// tokens exactly, confidences to 1e-9, final canvases and per-row NFE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateBatch } from '../../src/sampler/decode.js';
import { drain } from '../../src/sampler/drain.js';
import type { DecodeOptions } from '../../src/sampler/options.js';
import { fakeDenoiser, type FakeSpec } from './fake.js';

interface Case {
  name: string;
  algorithm: string;
  fake: FakeSpec;
  requests: { prompt: number[] }[];
  options: Partial<DecodeOptions>;
  trace: { row: number; step: number; block: number; committed: [number, number, number | null][] }[];
  canvas: number[][];
  nfe: number[];
  minMargin: number;
}
const doc = JSON.parse(readFileSync(new URL('../../../test/fixtures/sampler/traces.json', import.meta.url), 'utf8')) as {
  minMarginRequired: number;
  cases: Case[];
};

test('the reference traces cover every decoder and keep their decisions away from float ties', () => {
  const decoders = new Set(doc.cases.map((c) => c.options.decoder));
  for (const d of ['fixed', 'threshold', 'factor', 'origin', 'maskgit_plus', 'topk_margin', 'entropy'])
    assert.ok(decoders.has(d as never), `no trace for ${d}`);
  for (const c of doc.cases)
    assert.ok(c.minMargin >= doc.minMarginRequired && doc.minMarginRequired >= 1e-6, `${c.name}: smallest decision margin ${c.minMargin}`);
});

for (const c of doc.cases) {
  test(`parity: ${c.name} (${c.algorithm})`, async () => {
    const model = fakeDenoiser(c.fake);
    const { steps, result } = await drain(generateBatch(model, c.requests, c.options));
    const got = steps.map((s) => ({
      row: s.row,
      step: s.step,
      block: s.block,
      committed: s.committed.map((x) => [x.position, x.token] as const),
    }));
    const want = c.trace.map((s) => ({
      row: s.row,
      step: s.step,
      block: s.block,
      committed: s.committed.map(([p, t]) => [p, t] as const),
    }));
    for (let i = 0; i < Math.max(got.length, want.length); i++)
      assert.deepEqual(got[i], want[i], `${c.name}: first divergence at trace entry ${i}`);
    steps.forEach((s, i) =>
      s.committed.forEach((x, j) => {
        const ref = c.trace[i]!.committed[j]![2];
        if (ref === null) assert.equal(x.confidence, -Infinity, `${c.name} entry ${i}: confidence`);
        else
          assert.ok(
            Math.abs(x.confidence - ref) <= 1e-9 * Math.max(1, Math.abs(ref)),
            `${c.name} entry ${i}: confidence ${x.confidence} vs ${ref}`,
          );
      }),
    );
    assert.deepEqual(
      result.map((r) => Array.from(r.canvas)),
      c.canvas,
    );
    assert.deepEqual(
      result.map((r) => r.nfe),
      c.nfe,
    );
  });
}

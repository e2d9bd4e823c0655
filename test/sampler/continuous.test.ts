// Continuous batching (DecodeBatch 'continuous', what the server runs): rows join between calls, carry their
// own options (decoder, lengths, guidance, infill) and leave when done or cancelled — and every row still
// decodes exactly as it would alone (same commits, same NFE), because padding is hidden and positions are
// per row. The fake denoiser is a pure function of each row's visible (position, token) pairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeBatch } from '../../src/sampler/batch.js';
import { generate, type DecodeStep, type GenerateRequest } from '../../src/sampler/decode.js';
import { drain } from '../../src/sampler/drain.js';
import { resolveOptions, type DecodeOptions } from '../../src/sampler/options.js';
import { DecodeRng } from '../../src/sampler/rng.js';
import { fakeDenoiser } from './fake.js';

interface Job {
  at: number;
  req: GenerateRequest;
  o: Partial<DecodeOptions>;
}
const JOBS: Job[] = [
  { at: 0, req: { prompt: [1, 2, 3, 4, 5] }, o: { decoder: 'threshold', genLength: 24, blockLength: 8, threshold: 0.5 } },
  { at: 0, req: { prompt: [7] }, o: { decoder: 'fixed', genLength: 16, blockLength: 4, steps: 8, temperature: 0.7, seed: 3 } },
  { at: 2, req: { prompt: [9, 9, 9], suffix: [4, 4] }, o: { decoder: 'fixed', genLength: 8, blockLength: 8, steps: 4 } },
  { at: 3, req: { prompt: [2, 6, 1, 8] }, o: { decoder: 'entropy', genLength: 12, steps: 6, temperature: 0.5, seed: 9 } },
  { at: 5, req: { prompt: [3, 3] }, o: { decoder: 'fixed', genLength: 8, blockLength: 8, steps: 8, cfgScale: 1.5 } },
  { at: 6, req: { prompt: [5, 1, 5] }, o: { decoder: 'factor', genLength: 16, blockLength: 16, factor: 1, earlyStop: true } },
];

async function alone(job: Job, eosFrom = 12): Promise<{ steps: DecodeStep[]; canvas: Int32Array; nfe: number }> {
  const { steps, result } = await drain(generate(fakeDenoiser({ eosFrom }), job.req, job.o));
  return { steps, canvas: result.canvas, nfe: result.nfe };
}

test('rows that join mid-flight with their own options decode exactly as alone', async () => {
  const model = fakeDenoiser({ eosFrom: 12 });
  const batch = new DecodeBatch(model, 'continuous');
  const ids = new Map<number, number>(),
    steps = new Map<number, DecodeStep[]>(),
    results = new Map<number, { canvas: Int32Array; nfe: number }>();
  for (let call = 0; call < 200 && (batch.size > 0 || ids.size < JOBS.length); call++) {
    JOBS.forEach((j, k) => {
      if (j.at === call) {
        const o = resolveOptions(j.o);
        ids.set(batch.add(j.req, o, new DecodeRng(o.seed, 0)), k);
      }
    });
    const r = await batch.step();
    for (const s of r.steps) steps.set(s.row, [...(steps.get(s.row) ?? []), s]);
    for (const f of r.finished) results.set(f.row, f.result);
  }
  assert.equal(results.size, JOBS.length, 'every row finished');
  assert.ok(
    model.inputs.some((i) => i.B >= 4),
    'rows shared calls',
  );
  for (const [id, k] of ids) {
    const want = await alone(JOBS[k]!);
    assert.deepEqual(Array.from(results.get(id)!.canvas), Array.from(want.canvas), `job ${k}: canvas`);
    assert.equal(results.get(id)!.nfe, want.nfe, `job ${k}: NFE`);
    assert.deepEqual(
      steps.get(id)!.map((s) => s.committed),
      want.steps.map((s) => s.committed),
      `job ${k}: commits step by step`,
    );
  }
});

test('a removed row yields nothing more; the others are unaffected', async () => {
  const batch = new DecodeBatch(fakeDenoiser(), 'continuous');
  const o = resolveOptions({ decoder: 'fixed', genLength: 16, blockLength: 4, steps: 16 });
  const a = batch.add({ prompt: [1, 2] }, o, new DecodeRng(0, 0)),
    b = batch.add({ prompt: [3] }, o, new DecodeRng(0, 0));
  await batch.step();
  batch.remove(a);
  const seen: DecodeStep[] = [];
  let result: Int32Array | null = null;
  while (batch.size > 0) {
    const r = await batch.step();
    seen.push(...r.steps);
    for (const f of r.finished) result = f.result.canvas;
  }
  assert.ok(
    seen.every((s) => s.row === b),
    'only row b steps after the removal',
  );
  assert.deepEqual(
    Array.from(result!),
    Array.from(
      (await alone({ at: 0, req: { prompt: [3] }, o: { decoder: 'fixed', genLength: 16, blockLength: 4, steps: 16 } }, -1)).canvas,
    ),
  );
});

test('the call is flagged blockStart whenever any row begins a block or the rows change', async () => {
  const model = fakeDenoiser();
  const batch = new DecodeBatch(model, 'continuous');
  batch.add({ prompt: [1] }, resolveOptions({ decoder: 'fixed', genLength: 8, blockLength: 4, steps: 4 }), new DecodeRng(0, 0));
  await batch.step();
  await batch.step(); // block 0 done (2 steps)
  batch.add({ prompt: [2, 2] }, resolveOptions({ decoder: 'fixed', genLength: 8, blockLength: 4, steps: 8 }), new DecodeRng(0, 0));
  while (batch.size > 0) await batch.step();
  const flags = model.inputs.map((i) => i.region!.blockStart);
  assert.deepEqual(flags.slice(0, 3), [true, false, true], 'first call, second step of block 0, new block + new row');
  assert.equal(flags[3], false, 'same rows, same layout, both mid-block');
});

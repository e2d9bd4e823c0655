// The causal step engine behind DecodeBatch's interface (sampler/causal-batch.ts), which lets a server schedule
// AR and diffusion requests with one loop: rows join and leave between steps, each step gives every row one
// token, and a row decodes exactly as it would alone. And AR options are read as AR options
// (parseArDecodeOptions): the diffusion-only keys are read, never checked against a decoder the AR model lacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CausalBatch, parseArDecodeOptions, parseDecodeOptions } from '../../src/sampler/index.js';
import { arGenerate } from '../../src/sampler/ar.js';
import { drain } from '../../src/sampler/drain.js';
import { fakeCausal } from './fake.js';

const solo = async (prompt: number[], genLength: number) =>
  Array.from((await drain(arGenerate(fakeCausal(), { prompt: Int32Array.from(prompt) }, parseArDecodeOptions({ genLength })))).result.ids);

test('CausalBatch: rows added and removed between steps; every step one token per row; each row as it decodes alone', async () => {
  const batch = new CausalBatch(() => fakeCausal());
  const o = parseArDecodeOptions({ genLength: 6 });
  const a = batch.add({ prompt: Int32Array.of(1, 2, 3) }, o);
  const b = batch.add({ prompt: Int32Array.of(6, 7) }, o);
  assert.equal(batch.size, 2);
  assert.equal(batch.atBlockBoundary, true, 'a causal row may join between any two tokens');
  const ids = new Map<number, number[]>([
    [a, []],
    [b, []],
  ]);
  const done = new Map<number, number[]>();
  let step = 0,
    c = -1;
  while (batch.size > 0) {
    const before: number = batch.size;
    const { steps, finished } = await batch.step();
    assert.equal(steps.length + finished.length, before, `step ${step}: a token (or its end) for every row`);
    for (const s of steps) ids.get(s.row)?.push(...s.committed.map((x) => x.token));
    for (const f of finished) done.set(f.row, Array.from(f.result.ids));
    if (step === 1) batch.remove(b); // its client went away
    if (step === 2) {
      c = batch.add({ prompt: Int32Array.of(7) }, o);
      ids.set(c, []);
    }
    step++;
  }
  assert.deepEqual(done.get(a), await solo([1, 2, 3], 6), 'row a: as alone');
  assert.deepEqual(done.get(c), await solo([7], 6), 'row c, joined late: as alone');
  assert.equal(done.has(b), false, 'a removed row yields no result');
  assert.equal(ids.get(b)!.length, 2, 'the removed row got its two tokens, then nothing');
});

test('AR options are AR options: the diffusion keys are read, not checked; what AR uses is checked by name', () => {
  // top-k / top-p with the default LLaDA decoder: an error for a diffusion model, AR decoding's own filters here
  assert.throws(() => parseDecodeOptions({ topK: 5 }), /"topK" applies to the Dream decoders/);
  assert.equal(parseArDecodeOptions({ topK: 5, topP: 0.9 }).topK, 5);
  // a steps that does not divide the blocks is nothing to an AR model
  assert.throws(() => parseDecodeOptions({ decoder: 'fixed', genLength: 64, blockLength: 32, steps: 3 }), /"steps"/);
  assert.equal(parseArDecodeOptions({ decoder: 'fixed', genLength: 64, blockLength: 32, steps: 3 }).genLength, 64);
  assert.throws(() => parseArDecodeOptions({ temperature: -1 }), /"temperature" must be ≥ 0/);
  assert.throws(() => parseArDecodeOptions({ topP: 0 }), /"topP" must be in \(0, 1\]/);
  assert.throws(() => parseArDecodeOptions({ notAKey: 1 }), /"notAKey" is not a decode option/);
});

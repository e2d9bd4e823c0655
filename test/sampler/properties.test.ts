// Invariants of the one decoding loop, for every decoder, on the deterministic fake denoiser (fake.ts):
// committed tokens never change (a token-editing decoder, joint_threshold, changes them only by flagged edits
// inside the current block), prompt/suffix/pinned tokens never change, no masks left, nothing outside
// the current block committed early, same seed → same output, a batch equals each row alone, early stop
// fills with EOS and saves forwards, the calls the model sees (regions, CFG, padding) are as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, generateBatch, type DecodeStep, type GenerateRequest } from '../../src/sampler/decode.js';
import { drain } from '../../src/sampler/drain.js';
import { DECODERS, type DecodeOptions, type Decoder } from '../../src/sampler/options.js';
import { decoderSpec } from '../../src/sampler/decoders.js';
import { fakeDenoiser, SPEC } from './fake.js';

const { mask: MASK, eos: EOS, eot: EOT } = SPEC;
const PROMPT = [3, 7, 1, 4, 9];

/** options that exercise each decoder with several blocks */
function opts(decoder: Decoder, extra: Partial<DecodeOptions> = {}): Partial<DecodeOptions> {
  return { decoder, genLength: 24, blockLength: 8, steps: decoder === 'fixed' ? 12 : 24, threshold: 0.8, ...extra };
}

function checkSteps(steps: DecodeStep[], G: number, L: number, label: string, edits = false): void {
  const prev = new Map<number, Int32Array>();
  for (const s of steps) {
    const before = prev.get(s.row) ?? new Int32Array(G).fill(MASK);
    const editedHere = new Set(s.committed.filter((c) => c.edit).map((c) => c.position));
    assert.ok(edits || editedHere.size === 0, `${label}: step ${s.step} flags an edit`);
    for (let i = 0; i < G; i++) {
      if (before[i] !== MASK && !editedHere.has(i))
        assert.equal(s.canvas[i], before[i], `${label}: row ${s.row} step ${s.step} changed position ${i}`);
    }
    for (const c of s.committed) {
      if (c.edit) assert.notEqual(before[c.position], MASK, `${label}: an edit at ${c.position}, which held no token`);
      else assert.equal(before[c.position], MASK, `${label}: position ${c.position} committed twice`);
      assert.equal(s.canvas[c.position], c.token);
      assert.notEqual(c.token, MASK, `${label}: committed the mask id`);
      assert.equal(Math.floor(c.position / L), s.block, `${label}: step ${s.step} committed ${c.position} outside block ${s.block}`);
    }
    // everything before the block is decided (semi-AR), everything after it is still masked
    for (let i = 0; i < s.block * L; i++) assert.notEqual(s.canvas[i], MASK, `${label}: earlier block not finished at step ${s.step}`);
    prev.set(s.row, s.canvas);
  }
}

for (const decoder of DECODERS) {
  // joint_threshold edits what it committed and decodes by argmax only (options.ts refuses a temperature)
  const edits = decoderSpec(decoder).count === 'joint-threshold';
  for (const temperature of edits ? [0] : [0, 0.7]) {
    test(`${decoder} τ=${temperature}: commits only masks of the current block, never changes a token, leaves no mask`, async () => {
      const model = fakeDenoiser();
      const { steps, result } = await drain(generate(model, { prompt: PROMPT }, opts(decoder, { temperature, seed: 9 })));
      checkSteps(steps, 24, 8, decoder, edits);
      assert.ok(!result.canvas.includes(MASK));
      assert.equal(result.nfe, model.calls);
      assert.equal(steps.at(-1)!.finished, true);
      for (const inp of model.inputs) {
        assert.deepEqual(Array.from(inp.tokens.subarray(0, PROMPT.length)), PROMPT, 'the prompt never changes');
        assert.equal(inp.region!.end - inp.region!.start, 8, 'each call asks for the current block only');
      }
      if (decoder === 'fixed')
        assert.deepEqual(
          steps.map((s) => s.committed.length),
          Array(12).fill(2),
        ); // 8 masks / 4 steps per block
      if (decoder === 'threshold' || decoder === 'factor') assert.ok(steps.every((s) => s.committed.length >= 1));
    });
  }
  if (!edits)
    test(`${decoder}: same seed → same output; another seed differs (τ > 0)`, async () => {
      const run = async (seed: number) =>
        (await drain(generate(fakeDenoiser(), { prompt: PROMPT }, opts(decoder, { temperature: 1, seed, genLength: 32 })))).result.canvas;
      assert.deepEqual(await run(5), await run(5));
      assert.notDeepEqual(await run(5), await run(6));
    });
  test(`${decoder}: a batch of prompts of different lengths equals each row decoded alone`, async () => {
    // origin draws its unmasking coins even at τ = 0, so rows carry their own seeds (as a server would)
    const reqs: GenerateRequest[] = [
      { prompt: PROMPT, seed: 1 },
      { prompt: [12], seed: 2 },
      { prompt: [5, 5, 2, 8, 8, 1, 0, 3], seed: 3 },
    ];
    for (const temperature of edits ? [0] : [0, 0.8]) {
      const o = opts(decoder, { temperature });
      const batch = await drain(generateBatch(fakeDenoiser(), reqs, o));
      for (let r = 0; r < reqs.length; r++) {
        const alone = await drain(generate(fakeDenoiser(), { prompt: reqs[r]!.prompt }, { ...o, seed: r + 1 }));
        assert.deepEqual(batch.result[r]!.canvas, alone.result.canvas, `row ${r}`);
        assert.equal(batch.result[r]!.nfe, alone.result.nfe, `row ${r} NFE`);
        assert.deepEqual(
          batch.steps.filter((s) => s.row === r).map((s) => s.committed),
          alone.steps.map((s) => s.committed),
        );
      }
    }
  });
}

test('row 0 of a batch at τ > 0 equals the prompt alone with the same seed (row r draws from stream r)', async () => {
  const o = opts('fixed', { temperature: 0.9, seed: 4 });
  const batch = await drain(generateBatch(fakeDenoiser(), [{ prompt: PROMPT }, { prompt: [1, 2] }], o));
  assert.deepEqual(batch.result[0]!.canvas, (await drain(generate(fakeDenoiser(), { prompt: PROMPT }, o))).result.canvas);
});

test('padded batches: keyValid hides the padding and positions start at 0 at each first real token', async () => {
  const model = fakeDenoiser();
  await drain(generateBatch(model, [{ prompt: [1, 2, 3] }, { prompt: [4] }], { genLength: 8, blockLength: 8, steps: 8 }));
  const inp = model.inputs[0]!;
  assert.equal(inp.T, 3 + 8);
  assert.deepEqual(Array.from(inp.keyValid!.subarray(11, 22)), [0, 0, ...Array(9).fill(1)]);
  assert.deepEqual(Array.from(inp.positions!.subarray(11, 22)), [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const alone = fakeDenoiser();
  await drain(generate(alone, { prompt: [1, 2, 3] }, { genLength: 8, blockLength: 8, steps: 8 }));
  assert.equal(alone.inputs[0]!.keyValid, undefined, 'no padding, no mask');
});

test('early stop: EOS with everything before it decided fills the rest with EOS, skips later blocks, saves NFE', async () => {
  for (const decoder of ['fixed', 'threshold', 'maskgit_plus'] as const) {
    const spec = { eosFrom: PROMPT.length + 10 }; // the fake wants EOS from generated position 10 on
    const o = opts(decoder, { genLength: 32, steps: 32 });
    const full = await drain(generate(fakeDenoiser(spec), { prompt: PROMPT }, o));
    const early = await drain(generate(fakeDenoiser(spec), { prompt: PROMPT }, { ...o, earlyStop: true }));
    assert.equal(early.result.finishReason, 'stop');
    const end = early.result.canvas.findIndex((t) => t === EOS || t === EOT);
    assert.ok(end >= 0 && end <= 10, `${decoder}: ends at ${end}`);
    assert.deepEqual(Array.from(early.result.ids), Array.from(early.result.canvas.subarray(0, end)));
    assert.ok(
      early.result.canvas.subarray(end + 1).every((t) => t === EOS),
      `${decoder}: filled with EOS`,
    );
    assert.ok(early.result.nfe < full.result.nfe, `${decoder}: NFE ${early.result.nfe} < ${full.result.nfe}`);
    assert.ok(early.steps.at(-1)!.finished && early.steps.at(-1)!.block < 3, `${decoder}: later blocks skipped`);
    assert.equal(early.result.tokensPerForward, end / early.result.nfe);
    checkSteps(early.steps, 32, 8, `${decoder} early`);
  }
});

test('early stop in a batch: each row stops on its own and leaves the batch', async () => {
  const model = fakeDenoiser({ eosFrom: 9 });
  const reqs = [{ prompt: [1, 2, 3, 4, 5, 6] }, { prompt: [7] }]; // row 0 reaches EOS at generated 3, row 1 at 8
  const { result } = await drain(generateBatch(model, reqs, { genLength: 32, blockLength: 8, steps: 32, earlyStop: true }));
  assert.ok(result[0]!.nfe < result[1]!.nfe, `row NFE ${result[0]!.nfe} vs ${result[1]!.nfe}`);
  assert.ok(
    model.inputs.some((i) => i.B === 1),
    'the finished row left the batch',
  );
  model.inputs.forEach((inp, i) => {
    if (i > 0 && inp.B !== model.inputs[i - 1]!.B) assert.equal(inp.region!.blockStart, true, 'a new batch membership refreshes caches');
  });
});

test('EOS suppression: logitsEosInf never samples EOS; confidenceEosEotInf commits EOS/EoT last in their block', async () => {
  const spec = { eosFrom: PROMPT.length + 3 };
  const banned = await drain(generate(fakeDenoiser(spec), { prompt: PROMPT }, opts('fixed', { logitsEosInf: true })));
  assert.ok(!banned.result.canvas.includes(EOS));
  const last = await drain(generate(fakeDenoiser(spec), { prompt: PROMPT }, opts('fixed', { confidenceEosEotInf: true })));
  for (let b = 0; b < 3; b++) {
    const order = last.steps.filter((s) => s.block === b).flatMap((s) => s.committed.map((c) => c.token));
    const first = order.findIndex((t) => t === EOS || t === EOT);
    if (first >= 0)
      assert.ok(
        order.slice(first).every((t) => t === EOS || t === EOT),
        `block ${b}: ${order}`,
      );
  }
});

test('classifier-free guidance: conditional and unconditional rows in one call, prompt masked in the second', async () => {
  const model = fakeDenoiser();
  const { result } = await drain(generate(model, { prompt: PROMPT, suffix: [6, 6] }, opts('fixed', { cfgScale: 1.5 })));
  assert.ok(!result.canvas.includes(MASK));
  const inp = model.inputs[0]!;
  assert.equal(inp.B, 2);
  const un = inp.tokens.subarray(inp.T);
  assert.ok(Array.from(un.subarray(0, PROMPT.length)).every((t) => t === MASK));
  assert.deepEqual(Array.from(un.subarray(inp.T - 2)), [MASK, MASK], 'the suffix conditions too');
});

test('infilling: prefix and suffix never change; the middle is exactly genLength tokens without EOS', async () => {
  const suffix = [11, 12, 13];
  for (const decoder of ['fixed', 'threshold', 'entropy'] as const) {
    const model = fakeDenoiser({ eosFrom: PROMPT.length + 4 });
    const { result } = await drain(generate(model, { prompt: PROMPT, suffix }, opts(decoder, { genLength: 16 })));
    for (const inp of model.inputs) {
      assert.deepEqual(Array.from(inp.tokens.subarray(0, 5)), PROMPT);
      assert.deepEqual(Array.from(inp.tokens.subarray(inp.T - 3)), suffix);
    }
    assert.equal(result.ids.length, 16);
    assert.ok(!result.canvas.some((t) => t === EOS || t === EOT || t === MASK), `${decoder}: ${result.canvas}`);
    assert.equal(result.finishReason, 'length');
  }
});

test('infilling with infillMayEnd: the middle may end early with EOS, then fills with EOS', async () => {
  const model = fakeDenoiser({ eosFrom: PROMPT.length + 5 });
  const { result } = await drain(
    generate(model, { prompt: PROMPT, suffix: [11, 12] }, opts('fixed', { genLength: 16, infillMayEnd: true })),
  );
  assert.equal(result.finishReason, 'stop');
  assert.ok(result.ids.length <= 5);
  assert.ok(result.canvas.subarray(result.ids.length + 1).every((t) => t === EOS));
});

test('pinned ids stay where they were put, are never committed, and shrink the schedule', async () => {
  const pinned = [
    { offset: 0, ids: [20] },
    { offset: 5, ids: [21, 22] },
    { offset: 15, ids: [23] },
  ];
  const { steps, result } = await drain(generate(fakeDenoiser(), { prompt: PROMPT, pinned }, { genLength: 16, blockLength: 8, steps: 8 }));
  const at = new Map([
    [0, 20],
    [5, 21],
    [6, 22],
    [15, 23],
  ]);
  for (const s of steps) {
    for (const [p, t] of at) assert.equal(s.canvas[p], t);
    for (const c of s.committed) assert.ok(!at.has(c.position), `pinned position ${c.position} committed`);
  }
  // block 0: 5 masks over 4 steps → [2,1,1,1]; block 1: 7 masks → [2,2,2,1] (get_num_transfer_tokens counts masks only)
  assert.deepEqual(
    steps.map((s) => s.committed.length),
    [2, 1, 1, 1, 2, 2, 2, 1],
  );
  assert.ok(!result.canvas.includes(MASK));
  await assert.rejects(
    drain(generate(fakeDenoiser(), { prompt: PROMPT, pinned: [{ offset: 15, ids: [1, 2] }] }, { genLength: 16 })),
    /do not fit/,
  );
});

test('the model sees blockStart on the first call of every block', async () => {
  const model = fakeDenoiser();
  await drain(generate(model, { prompt: PROMPT }, opts('threshold')));
  const starts = model.inputs.filter((i) => i.region!.blockStart).map((i) => i.region!.start);
  assert.deepEqual(starts, [5, 13, 21]);
});

// Decoding loop properties with a deterministic fake denoiser (logits a fixed function of position and canvas);
// `selection` names the LLaDA-family decoder (fixed, threshold, factor).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, type DecodeResult, type DecodeStep } from '../../src/sampler/decode.js';
import { drain } from '../../src/sampler/drain.js';
import type { DecodeOptions } from '../../src/sampler/options.js';
import { transferCounts } from '../../src/sampler/schedule.js';
import type { DenoiseInput, Denoiser } from '../../src/sampler/types.js';

const V = 20,
  MASK = 19,
  EOS = 18;

/** logits favour token (position·7 + #unmasked) % 17 with a confidence that varies by position; EOS after `eosAt` */
function fake(eosAt = Infinity): Denoiser & { calls: number } {
  return {
    vocabSize: V,
    specials: { mask: MASK, eos: EOS, eot: EOS, pad: EOS },
    calls: 0,
    async denoise(inp: DenoiseInput) {
      this.calls++;
      const s = inp.region?.start ?? 0,
        e = inp.region?.end ?? inp.T;
      const out = new Float32Array((e - s) * V);
      let unmasked = 0;
      for (let i = 0; i < inp.T; i++) if (inp.tokens[i] !== MASK) unmasked++;
      for (let p = s; p < e; p++) {
        const fav = p >= eosAt ? EOS : (p * 7 + unmasked) % 17;
        for (let v = 0; v < V; v++) out[(p - s) * V + v] = v === fav ? 2 + ((p * 13) % 5) : (v * 0.37) % 1;
      }
      return out;
    },
  };
}

type Opts = Partial<DecodeOptions> & { selection?: 'fixed' | 'threshold' | 'factor' };
async function run(model: Denoiser, prompt: Int32Array, o: Opts): Promise<{ steps: DecodeStep[]; res: DecodeResult }> {
  const { selection = 'fixed', ...rest } = o;
  const { steps, result } = await drain(generate(model, { prompt }, { ...rest, decoder: selection }));
  return { steps, res: result };
}

test('transferCounts = get_num_transfer_tokens on a table of cases', () => {
  const cases: [number, number, number[]][] = [
    [10, 4, [3, 3, 2, 2]],
    [32, 32, Array(32).fill(1)],
    [32, 8, Array(8).fill(4)],
    [7, 3, [3, 2, 2]],
    [5, 8, [1, 1, 1, 1, 1, 0, 0, 0]],
    [0, 3, [0, 0, 0]],
  ];
  for (const [n, s, want] of cases) assert.deepEqual(Array.from(transferCounts(n, s)), want, `(${n}, ${s})`);
  for (let n = 0; n < 70; n++)
    for (let s = 1; s < 20; s++) {
      const c = Array.from(transferCounts(n, s));
      assert.equal(
        c.reduce((a, b) => a + b, 0),
        n,
      );
      assert.ok(c.every((x, i) => i === 0 || x <= c[i - 1]!) && Math.max(...c) - Math.min(...c) <= 1);
    }
});

for (const selection of ['fixed', 'threshold', 'factor'] as const) {
  test(`${selection}: committed tokens never change, prompt untouched, blocks in order, no masks left`, async () => {
    const prompt = Int32Array.from([1, 2, 3]);
    const { steps, res } = await run(fake(), prompt, {
      genLength: 16,
      blockLength: 4,
      steps: 8,
      selection,
      threshold: 0.5,
      temperature: 0,
    });
    let prev: Int32Array = new Int32Array(16).fill(MASK);
    for (const st of steps) {
      for (let i = 0; i < 16; i++) if (prev[i] !== MASK) assert.equal(st.canvas[i], prev[i], `step ${st.step}: position ${i} changed`);
      for (const c of st.committed)
        assert.ok(Math.floor(c.position / 4) === st.block, `step ${st.step}: committed ${c.position} outside block ${st.block}`);
      assert.ok(st.committed.length >= 1, 'every step commits at least one token');
      prev = st.canvas;
    }
    assert.ok(!res.canvas.includes(MASK));
    if (selection === 'fixed')
      assert.equal(res.nfe, 8); // 2 per block, the schedule
    else assert.ok(res.nfe <= 16);
  });
}

test('fixed schedule: each step commits exactly the scheduled number', async () => {
  const { steps } = await run(fake(), Int32Array.of(1), { genLength: 12, blockLength: 6, steps: 4, selection: 'fixed' });
  assert.deepEqual(
    steps.map((s) => s.committed.length),
    [3, 3, 3, 3],
  );
});

test('same seed → same output at temperature > 0; another seed differs', async () => {
  const o = { genLength: 16, blockLength: 8, steps: 16, temperature: 1, seed: 5 };
  const a = await run(fake(), Int32Array.of(1), o),
    b = await run(fake(), Int32Array.of(1), o),
    c = await run(fake(), Int32Array.of(1), { ...o, seed: 6 });
  assert.deepEqual(a.res.canvas, b.res.canvas);
  assert.notDeepEqual(a.res.canvas, c.res.canvas);
});

test('early stop: EOS with everything before it decided fills the rest and saves forwards', async () => {
  const o = { genLength: 32, blockLength: 8, steps: 32, selection: 'fixed' as const };
  const full = await run(fake(4 + 10), Int32Array.from([1, 2, 3, 4]), o);
  const early = await run(fake(4 + 10), Int32Array.from([1, 2, 3, 4]), { ...o, earlyStop: true });
  assert.equal(early.res.finishReason, 'stop');
  assert.equal(early.res.ids.length, 10);
  assert.deepEqual(Array.from(early.res.canvas.subarray(10)), Array(22).fill(EOS));
  assert.ok(early.res.nfe < full.res.nfe, `early stop NFE ${early.res.nfe} < ${full.res.nfe}`);
  assert.deepEqual(early.res.ids, full.res.ids);
});

test('logitsEosInf never samples EOS; confidenceEosEotInf commits EOS last in its block', async () => {
  const a = await run(fake(4 + 2), Int32Array.of(1, 2, 3, 4), { genLength: 8, blockLength: 8, steps: 8, logitsEosInf: true });
  assert.ok(!a.res.canvas.includes(EOS));
  const b = await run(fake(4 + 2), Int32Array.of(1, 2, 3, 4), { genLength: 8, blockLength: 8, steps: 8, confidenceEosEotInf: true });
  const order = b.steps.flatMap((s) => s.committed.map((c) => c.token));
  const firstEos = order.indexOf(EOS);
  assert.ok(firstEos >= 0 && order.slice(firstEos).every((t) => t === EOS), `EOS tokens are committed after all others: ${order}`);
});

test('bad options are refused with the reason', async () => {
  await assert.rejects(run(fake(), Int32Array.of(1), { genLength: 10, blockLength: 4 }), /multiple of blockLength/);
  await assert.rejects(
    run(fake(), Int32Array.of(1), { genLength: 8, blockLength: 4, steps: 3 }),
    /"steps" \(3\) must be a multiple of the number of blocks \(2\)/,
  );
});

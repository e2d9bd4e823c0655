// Schedules: LLaDA's get_num_transfer_tokens on a table of cases and its properties; Dream's eps schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transferCounts, dreamTimesteps, dreamTransferCount, dreamFraction } from '../../src/sampler/schedule.js';

test('transferCounts = get_num_transfer_tokens on a table of cases', () => {
  const cases: [number, number, number[]][] = [
    [10, 4, [3, 3, 2, 2]], // style.md §3.2's worked example
    [32, 32, Array(32).fill(1)],
    [32, 8, Array(8).fill(4)],
    [32, 4, [8, 8, 8, 8]], // LLaDA main(): block 32
    [7, 3, [3, 2, 2]],
    [11, 4, [3, 3, 3, 2]],
    [13, 5, [3, 3, 3, 2, 2]], // remainders front-loaded
    [5, 8, [1, 1, 1, 1, 1, 0, 0, 0]],
    [1, 1, [1]],
    [0, 3, [0, 0, 0]],
  ];
  for (const [n, s, want] of cases) assert.deepEqual(Array.from(transferCounts(n, s)), want, `(${n}, ${s})`);
});

test('transferCounts: sums to n, non-increasing, entries differ by at most 1', () => {
  for (let n = 0; n < 140; n++)
    for (let s = 1; s < 40; s++) {
      const c = Array.from(transferCounts(n, s));
      assert.equal(c.length, s);
      assert.equal(
        c.reduce((a, b) => a + b, 0),
        n,
        `(${n}, ${s}) sum`,
      );
      assert.ok(
        c.every((x, i) => i === 0 || x <= c[i - 1]!),
        `(${n}, ${s}) non-increasing`,
      );
      assert.ok(Math.max(...c) - Math.min(...c) <= 1, `(${n}, ${s}) spread`);
    }
});

test('dreamTimesteps = torch.linspace(1, eps, steps + 1) in float32', () => {
  const ts = dreamTimesteps(1e-3, 512);
  assert.equal(ts.length, 513);
  assert.equal(ts[0], 1);
  assert.equal(ts[512], Math.fround(1e-3));
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! < ts[i - 1]!, 'strictly decreasing');
  const d = (1 - 1e-3) / 512;
  for (let i = 0; i < ts.length; i++) assert.ok(Math.abs(ts[i]! - (1 - i * d)) < 1e-6, `ts[${i}]`);
  assert.deepEqual(Array.from(dreamTimesteps(0.5, 2)), [1, 0.75, 0.5]);
});

test('dreamTransferCount: int(M·(1 − s/t)), everything on the last step; origin fraction 1 on the last step', () => {
  const steps = 16,
    ts = dreamTimesteps(1e-3, steps);
  assert.equal(dreamTransferCount(16, ts, 0, steps), 0); // 16·(1 − t1/t0) = 16·0.0624… = 0.999 → 0 (Dream commits nothing first)
  assert.equal(dreamTransferCount(16, ts, 1, steps), 1);
  assert.equal(dreamTransferCount(5, ts, steps - 1, steps), 5);
  assert.equal(dreamFraction(ts, steps - 1, steps), 1);
  for (let i = 0; i < steps - 1; i++) assert.ok(dreamFraction(ts, i, steps) > 0 && dreamFraction(ts, i, steps) < 1);
  // masks left after following the schedule from M = 64 is exactly 0 at the end
  let m = 64;
  for (let i = 0; i < steps; i++) m -= dreamTransferCount(m, ts, i, steps);
  assert.equal(m, 0);
});

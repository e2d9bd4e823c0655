// dllm bench --roofline: the ridge and block-length choice from a step-cost curve, and the file that
// `--block-length auto` reads. The curve itself is measured on the tiny llada fixture (numbers vary; only
// their shape is checked here — benchmarks are not tests).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  autoBlockLength,
  bestBlock,
  measureRows,
  ridgeOf,
  rooflineFile,
  stepMsAt,
  type Roofline,
  type RooflinePoint,
} from '../../src/platform/node-roofline.js';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';

const curve = (floor: number, perRow: number): RooflinePoint[] =>
  [1, 2, 4, 8, 16, 32, 64].map((rows) => {
    const ms = Math.max(floor, rows * perRow);
    return { rows, ms, msPerRow: ms / rows };
  });

test('the ridge is where the compute line meets the one-row floor; step ms interpolates between points', () => {
  const pts = curve(2, 0.25); // floor 2 ms, 0.25 ms per row → ridge at 8 rows
  assert.equal(ridgeOf(pts), 8);
  assert.equal(stepMsAt(pts, 4), 2);
  assert.equal(stepMsAt(pts, 24), 6); // between 16 (4 ms) and 32 (8 ms)
  assert.equal(stepMsAt(pts, 128), 32); // past the last point: linear in rows
  assert.throws(() => ridgeOf(pts.slice(1)), /1-row/);
});

test('the best block maximises TPF / step ms, and auto reads it from the user cache (only lengths dividing genLength)', () => {
  const pts = curve(2, 0.25);
  const tpf: Record<number, number> = { 4: 1.5, 8: 2.5, 16: 3.5, 32: 4, 64: 4.2 };
  const blocks = [4, 8, 16, 32, 64].map((L) => ({
    blockLength: L,
    tpf: tpf[L]!,
    stepMs: stepMsAt(pts, L),
    expectedTokensPerSecond: (1000 * tpf[L]!) / stepMsAt(pts, L),
    measuredTokensPerSecond: 0,
  }));
  assert.equal(bestBlock(blocks), 8); // 2.5 / 2 ms beats 3.5 / 4 ms: past the ridge each extra row costs time
  const home = mkdtempSync(join(tmpdir(), 'dllm-roofline-'));
  process.env['XDG_CACHE_HOME'] = home;
  try {
    assert.match(autoBlockLength('m', 'ort', 2, 128).why, /dllm bench --roofline --model m/, 'no file: says how to make one');
    const file = rooflineFile('m', 'ort', 2);
    assert.ok(file.startsWith(home));
    const r: Roofline = { model: 'm', backend: 'ort', threads: 2, context: 256, date: '', points: pts, ridge: 8, blocks, best: 8 };
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(r));
    assert.equal(autoBlockLength('m', 'ort', 2, 128).blockLength, 8);
    assert.equal(autoBlockLength('m', 'ort', 2, 12).blockLength, 4, 'only 4 of the measured lengths divides 12');
    assert.equal(autoBlockLength('m', 'ort', 2, 6).blockLength, null, 'none divides 6');
  } finally {
    delete process.env['XDG_CACHE_HOME'];
  }
});

test('measureRows times cached forwards of 1 … N rows on a real model', async () => {
  const k = await createKernels({ threads: 1 });
  const m = await loadModelDir(fileURLToPath(new URL('../../../test/fixtures/llada/', import.meta.url)), k);
  try {
    const pts = await measureRows(m.model, 8, [1, 2, 4], 2);
    assert.deepEqual(
      pts.map((p) => p.rows),
      [1, 2, 4],
    );
    for (const p of pts) assert.ok(p.ms > 0 && Math.abs(p.msPerRow - p.ms / p.rows) < 1e-12, `rows ${p.rows}: ${p.ms} ms`);
    await assert.rejects(measureRows(m.model, m.config.maxPositions, [4]), /exceed/);
  } finally {
    m.model.dispose();
    k.dispose();
  }
});

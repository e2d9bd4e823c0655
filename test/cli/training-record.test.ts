// training.json of an export: a run resumed and exported again into the models/ folder it started from must not
// nest its own earlier export (that would count its first steps twice); a real init's record stays nested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainingRecord } from '../../src/cli/training-record.js';

function runFolder(initRecord: Record<string, unknown>): { dir: string; checkpoint: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-record-'));
  const run = join(dir, 'run'),
    init = join(dir, 'init');
  for (const d of [join(run, 'checkpoint'), join(dir, 'data'), init]) mkdirSync(d, { recursive: true });
  const config = { objective: 'ar', arch: 'llama', hiddenSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 2, ffnSize: 64 };
  const state = { format: 'dllm-checkpoint', version: 1, engine: 'ts', step: 10, tokens: 320, elapsedMs: 1000, rng: [1, 2, 3, 4] };
  writeFileSync(
    join(run, 'checkpoint', 'trainer_state.json'),
    JSON.stringify({
      ...state,
      optimizerStep: 10,
      config: { ...config, seqLen: 16, batchSize: 2, steps: 10, data: join(dir, 'data'), out: run, initFrom: init },
    }),
  );
  writeFileSync(join(run, 'checkpoint', 'config.json'), JSON.stringify({ vocab_size: 64 }));
  writeFileSync(join(run, 'log.jsonl'), '{"event": "start", "threads": 1}\n');
  writeFileSync(join(dir, 'data', 'manifest.json'), '{}');
  writeFileSync(join(init, 'training.json'), JSON.stringify(initRecord).replaceAll('RUN', run));
  return { dir, checkpoint: join(run, 'checkpoint') };
}

test('training.json: an earlier export of the same run is skipped in the init chain; another run is kept', () => {
  const earlier = { tokensSeen: 160, config: { out: 'RUN' }, initFromTraining: { tokensSeen: 7, config: { out: '/another/run' } } };
  const a = runFolder(earlier);
  try {
    const r = trainingRecord(a.checkpoint)!;
    assert.equal(r['tokensSeen'], 320);
    assert.deepEqual(r['initFromTraining'], { tokensSeen: 7, config: { out: '/another/run' } }, 'the same run counted once');
  } finally {
    rmSync(a.dir, { recursive: true, force: true });
  }
  const b = runFolder({ tokensSeen: 9, config: { out: '/another/run' } });
  try {
    assert.deepEqual(trainingRecord(b.checkpoint)!['initFromTraining'], { tokensSeen: 9, config: { out: '/another/run' } });
  } finally {
    rmSync(b.dir, { recursive: true, force: true });
  }
});

// How a checkpoint reaches the disk so that no kill can lose one, for both training engines (the torch
// engine's scripts/train/checkpoint.py does the same steps in the same order):
//   1. recover: settle whatever an earlier kill left (below), so at most RUN/checkpoint is there
//   2. write every file into RUN/checkpoint.tmp, each fsynced, trainer_state.json last; fsync the folder
//   3. rename checkpoint → checkpoint.old; fsync RUN        (the previous checkpoint is kept, renamed)
//   4. rename checkpoint.tmp → checkpoint; fsync RUN        (the new one is in place and durable)
//   5. remove checkpoint.old                                 (only now: its successor is durable)
// A kill leaves one of: checkpoint (+ a partial tmp, or a partly removed old), old + tmp (between 3 and 4:
// both complete), tmp only (first save, killed before 4), old only (tmp lost by hand or by old code that
// cleared it first). Recovery takes the first complete one of checkpoint, checkpoint.tmp, checkpoint.old —
// the committed one, else the newest — renames it to checkpoint, and only then removes the others.
import { join } from 'node:path';
import { readSafetensorsHeader } from '../io/safetensors.js';
import { parseTrainerState } from '../train/trainer-state.js';
import { nodeDurableFs, type DurableFs } from '../platform/durable-fs.js';
import { FileByteSource, fileExists, readJsonFile } from '../platform/node-files.js';

export const CHECKPOINT_DIR = 'checkpoint',
  CHECKPOINT_TMP = 'checkpoint.tmp',
  CHECKPOINT_OLD = 'checkpoint.old';
/** every file of a checkpoint folder; trainer_state.json is written last, so it marks a finished write */
export const CHECKPOINT_FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'optimizer.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'trainer_state.json',
] as const;

/** why the folder is not a complete checkpoint, or null when it is (headers and sizes checked, not every value) */
export async function incompleteReason(dir: string): Promise<string | null> {
  try {
    for (const f of CHECKPOINT_FILES) if (!(await fileExists(join(dir, f)))) return `${f} is missing`;
    parseTrainerState(await readJsonFile(join(dir, 'trainer_state.json')), join(dir, 'trainer_state.json'));
    for (const f of ['config.json', 'generation_config.json', 'tokenizer_config.json']) await readJsonFile(join(dir, f));
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      const src = await FileByteSource.open(join(dir, f));
      try {
        await readSafetensorsHeader(src, join(dir, f));
      } finally {
        await src.close();
      }
    }
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** which checkpoint folders of a run exist (any of them means the run folder holds a checkpoint) */
export async function checkpointDirs(run: string, fs: DurableFs = nodeDurableFs): Promise<string[]> {
  const present = new Set(await fs.list(run));
  return [CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD].filter((n) => present.has(n));
}

/**
 * Settle the run folder after any kill: afterwards RUN/checkpoint is the complete checkpoint (returned), and
 * checkpoint.tmp / checkpoint.old are gone. Returns null when there is no complete checkpoint at all; then
 * nothing is touched (the files stay for inspection; a later save clears them, as they hold no checkpoint).
 */
export async function recoverCheckpoint(
  run: string,
  fs: DurableFs = nodeDurableFs,
  warn: (msg: string) => void = console.error,
): Promise<string | null> {
  const present = await checkpointDirs(run, fs);
  const final = join(run, CHECKPOINT_DIR);
  if (present.length === 0) return null;
  if (present.length === 1 && present[0] === CHECKPOINT_DIR) return final; // the usual case: loading checks it
  let chosen: string | null = null;
  const reasons: string[] = [];
  for (const name of [CHECKPOINT_DIR, CHECKPOINT_TMP, CHECKPOINT_OLD]) {
    if (!present.includes(name)) continue;
    const why = await incompleteReason(join(run, name));
    if (why === null) {
      chosen = name;
      break;
    }
    reasons.push(`${name}: ${why}`);
  }
  if (chosen === null) {
    warn(`warning: ${run} has no complete checkpoint (${reasons.join('; ')})`);
    return null;
  }
  if (chosen !== CHECKPOINT_DIR) {
    // the chosen one is complete; checkpoint/ (if there) is not, so removing it loses nothing
    await fs.rm(final);
    await fs.rename(join(run, chosen), final);
    await fs.syncDir(run);
    warn(`warning: ${final} recovered from ${chosen}, left by an interrupted save${reasons.length ? ` (${reasons.join('; ')})` : ''}`);
  }
  // the committed checkpoint is in place and durable: the rest is an older copy or an unfinished write
  for (const name of [CHECKPOINT_TMP, CHECKPOINT_OLD]) if (name !== chosen) await fs.rm(join(run, name));
  return final;
}

/** write a checkpoint with `write(tmpDir)` (files through fs.writeFile, trainer_state.json last) and commit it */
export async function commitCheckpoint(
  run: string,
  write: (tmp: string) => Promise<void>,
  fs: DurableFs = nodeDurableFs,
  warn: (msg: string) => void = console.error,
): Promise<void> {
  const final = join(run, CHECKPOINT_DIR),
    tmp = join(run, CHECKPOINT_TMP),
    old = join(run, CHECKPOINT_OLD);
  await recoverCheckpoint(run, fs, warn);
  // after recovery tmp and old are gone or incomplete: clearing them can only remove unfinished writes
  await fs.rm(tmp);
  await fs.mkdir(tmp);
  await write(tmp);
  await fs.syncDir(tmp);
  await fs.rm(old);
  if ((await fs.list(run)).includes(CHECKPOINT_DIR)) {
    await fs.rename(final, old);
    await fs.syncDir(run);
  }
  await fs.rename(tmp, final);
  await fs.syncDir(run);
  await fs.rm(old);
}

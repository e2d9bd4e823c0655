// Reading the evaluation sets (../shared/data by default, or --data DIR): JSON lines, gzipped or not, and
// MBPP's full file; the task definitions themselves are in eval/ (no I/O there).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { gsm8k, type MathSample } from '../eval/gsm8k.js';
import {
  humaneval,
  humanevalInfilling,
  humanevalTs,
  INFILL_FILES,
  mbpp,
  type CodeSample,
  type InfillSplit,
  type TaskName,
} from '../eval/tasks.js';

/** where the evaluation sets are looked for without --data: $DLLM_EVAL_DATA, ../shared/data next to the checkout, /work/shared/data */
export const DATA_DIR_CANDIDATES: readonly string[] = [
  ...(process.env['DLLM_EVAL_DATA'] ? [process.env['DLLM_EVAL_DATA']] : []),
  resolve(new URL('../../../../shared/data', import.meta.url).pathname),
  '/work/shared/data',
];
export const DEFAULT_DATA_DIR = DATA_DIR_CANDIDATES.find((d) => existsSync(d)) ?? DATA_DIR_CANDIDATES[0]!;

export function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) throw new Error(`eval data: ${path} does not exist (give the folder with --data DIR)`);
  const buf = readFileSync(path);
  const text = (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`eval data: ${path} line ${i + 1} is not JSON: ${(e as Error).message}`);
      }
    });
}

export type LoadedTask = { kind: 'code'; samples: CodeSample[] } | { kind: 'math'; samples: MathSample[] };

/** stripPrompt: HumanEval's prompts (humaneval, syntax) without their trailing whitespace (tasks.ts humaneval) */
export function loadTask(task: TaskName, dataDir: string, split: InfillSplit = 'single-line', stripPrompt = true): LoadedTask {
  // syntax reads HumanEval's prompts (its check is a parse, not the tests)
  switch (task) {
    case 'humaneval':
    case 'syntax':
      return { kind: 'code', samples: humaneval(readJsonl(join(dataDir, 'humaneval/HumanEval.jsonl.gz')), stripPrompt) };
    case 'mbpp':
      return { kind: 'code', samples: mbpp(readJsonl(join(dataDir, 'mbpp/mbpp.jsonl'))) };
    case 'humaneval-infilling':
      return { kind: 'code', samples: humanevalInfilling(readJsonl(join(dataDir, 'humaneval-infilling', INFILL_FILES[split])), split) };
    case 'humaneval-ts':
      return { kind: 'code', samples: humanevalTs(readJsonl(join(dataDir, 'multipl-e/humaneval-ts.jsonl'))) };
    case 'gsm8k':
      return { kind: 'math', samples: gsm8k(readJsonl(join(dataDir, 'gsm8k/test.jsonl')), readJsonl(join(dataDir, 'gsm8k/train.jsonl'))) };
  }
}

// The evaluation texts a training corpus must not contain: every string of every record of the code
// evaluation sets (HumanEval, HumanEval-infilling, MBPP, MultiPL-E HumanEval-TS), read only to build the
// 13-gram index. GSM8K is not code and is not indexed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ContaminationIndex } from '../data/ngrams.js';
import { DEFAULT_DATA_DIR } from '../platform/node-eval-data.js';

export const CODE_EVAL_FOLDERS = ['humaneval', 'humaneval-infilling', 'mbpp', 'multipl-e'];

function strings(v: unknown, out: string[]): void {
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => strings(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => strings(x, out));
}

export async function contaminationIndex(dir = DEFAULT_DATA_DIR): Promise<ContaminationIndex> {
  const index = new ContaminationIndex();
  let files = 0;
  for (const folder of CODE_EVAL_FOLDERS) {
    const d = join(dir, folder);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) {
      if (!/\.(jsonl|json)(\.gz)?$/.test(name)) continue;
      const buf = readFileSync(join(d, name));
      const text = (name.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
      const texts: string[] = [];
      if (/\.json(\.gz)?$/.test(name)) strings(JSON.parse(text), texts);
      else for (const line of text.split('\n')) if (line.trim()) strings(JSON.parse(line), texts);
      texts.forEach((t) => index.add(t));
      files++;
    }
  }
  if (files === 0) throw new Error(`data corpus: no evaluation sets under ${dir} to decontaminate against (give --eval-data DIR)`);
  return index;
}

// dllm data sft --data DIR [--seq-len 256] [--limit N]
// The corpus's docstring → body views (views-train.jsonl, views-val.jsonl: signature + docstring as the
// prompt, the body as the answer) as SFT rows for `dllm train --objective sft` (train/sft-data.ts): each
// tokenized with the corpus's tokenizer, prompt + body + EOS, EOS-padded to seqLen; too long ones dropped.
// Writes DIR/sft-train.bin, DIR/sft-val.bin (the corpus's dtype) and DIR/sft.json (rows, dropped, seqLen).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { JSON_LIMITS } from '../io/json-limits.js';
import { readJsonFile, writeFileAtomic } from '../platform/node-files.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { packSftRows, type SftExample } from '../train/sft-data.js';

/** the flags of the command (usage.ts lists them) */
export const SFT_FLAGS = { data: { type: 'string' }, 'seq-len': { type: 'string', default: '256' }, limit: { type: 'string' } } as const;

export async function dataSft(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: SFT_FLAGS,
  });
  if (!values.data) throw new Error('usage: dllm data sft --data DIR [--seq-len 256] (DIR: a folder from `dllm data corpus`)');
  const seqLen = Number(values['seq-len']),
    limit = values.limit === undefined ? Infinity : Number(values.limit);
  if (!Number.isInteger(seqLen) || seqLen < 8) throw new Error(`--seq-len must be an integer ≥ 8, got "${values['seq-len']}"`);
  if (!(limit >= 1)) throw new Error(`--limit must be ≥ 1, got "${values.limit}"`);
  const dir = values.data,
    manifest = await readJsonFile(join(dir, 'manifest.json'));
  const tok = new TextTokenizer({
    tokenizerJson: await readJsonFile(join(dir, 'tokenizer.json'), JSON_LIMITS.tokenizer),
    tokenizerConfig: await readJsonFile(join(dir, 'tokenizer_config.json')),
  });
  const eos = tok.specials.eos;
  if (eos === null) throw new Error(`${dir}/tokenizer_config.json: no EOS token (SFT rows end and pad with it)`);
  const dtype = String(manifest['dtype']);
  const stats: Record<string, unknown> = {
    seqLen,
    eos,
    source: 'views-{train,val}.jsonl (docstring → body)',
    corpusSha256: manifest['corpusSha256'],
  };
  for (const split of ['train', 'val'] as const) {
    const file = join(dir, `views-${split}.jsonl`);
    const examples = function* (): Generator<SftExample> {
      let n = 0;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim() || n++ >= limit) continue;
        const v = JSON.parse(line) as { prompt?: unknown; body?: unknown };
        if (typeof v.prompt !== 'string' || typeof v.body !== 'string')
          throw new Error(`${file}: line ${n}: a view needs "prompt" and "body" strings`);
        yield { prompt: tok.encode(v.prompt), answer: tok.encode(v.body) }; // plain text: special strings stay text
      }
    };
    const { rows, dropped } = packSftRows(examples(), seqLen, eos);
    const flat = dtype === 'uint32' ? new Uint32Array(rows.flat()) : new Uint16Array(rows.flat());
    await writeFileAtomic(join(dir, `sft-${split}.bin`), new Uint8Array(flat.buffer));
    stats[split] = { rows: rows.length, dropped, answerTokens: rows.reduce((a, r) => a + (seqLen - r[0]!), 0) };
    console.error(
      `sft ${split}: ${rows.length} rows of ${seqLen} (${dropped} too long or empty, dropped) → ${join(dir, `sft-${split}.bin`)}`,
    );
  }
  await writeFileAtomic(join(dir, 'sft.json'), JSON.stringify(stats, null, 2) + '\n');
  return 0;
}

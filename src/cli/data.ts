// dllm data build --input DIR --ext .py --out DIR [--vocab-size N] [--val-percent P] [--tokenizer FILE]
// A folder of source files → de-duplicated file list, train/validation split by file, a byte-level BPE
// tokenizer (trained on the train split unless one is given), token streams train.bin / val.bin (uint16 when
// the vocabulary fits) and manifest.json (file-list hash, counts, bytes per token).
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { writeTokenData } from './data-streams.js';
import { writeFileAtomic, readJsonFile } from '../platform/node-files.js';

export { OUR_SPECIALS } from './data-streams.js';

// evaluation data must never be trained on: refuse any input inside the shared evaluation folder
const EVAL_DATA_MARKER = `${sep}shared${sep}data`;

async function listFiles(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== '__pycache__' && e.name !== 'site-packages' && !e.name.startsWith('.')) await walk(p);
      } else if (e.isFile() && e.name.endsWith(ext)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** the flags of the command (usage.ts lists them) */
export const DATA_BUILD_FLAGS = {
  input: { type: 'string' },
  ext: { type: 'string', default: '.py' },
  out: { type: 'string' },
  'vocab-size': { type: 'string', default: '4096' },
  'val-percent': { type: 'string', default: '5' },
  tokenizer: { type: 'string' },
} as const;

export async function dataBuild(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: DATA_BUILD_FLAGS,
  });
  if (!values.input || !values.out) throw new Error('usage: dllm data build --input DIR --ext .py --out DIR');
  const vocabSize = Number(values['vocab-size']),
    valPercent = Number(values['val-percent']);
  if (!Number.isInteger(vocabSize) || vocabSize < 300)
    throw new Error(`--vocab-size must be an integer ≥ 300, got ${values['vocab-size']}`);
  if (!(valPercent > 0 && valPercent < 50)) throw new Error(`--val-percent must be in (0, 50), got ${values['val-percent']}`);
  const input = await realpath(resolve(values.input));
  if ((input + sep).includes(EVAL_DATA_MARKER + sep) || (input + sep).includes(`${sep}eval-data${sep}`))
    throw new Error(`${input} is inside the evaluation data folder; never train on it`);
  if (!(await stat(input)).isDirectory()) throw new Error(`${input} is not a folder`);
  const files = await listFiles(input, values.ext!);
  if (files.length === 0) throw new Error(`no ${values.ext} files under ${input}`);
  // de-duplicate by content, split by a hash of the relative path (stable when files are added)
  const seen = new Set<string>();
  const train: { path: string; text: string }[] = [],
    val: { path: string; text: string }[] = [];
  const listHash = createHash('sha256');
  let duplicates = 0,
    bytes = 0;
  for (const f of files) {
    const buf = await readFile(f);
    const h = createHash('sha256').update(buf).digest('hex');
    if (seen.has(h)) {
      duplicates++;
      continue;
    }
    seen.add(h);
    const rel = relative(input, f);
    listHash.update(`${rel}\t${h}\n`);
    bytes += buf.length;
    const bucket = createHash('sha256').update(rel).digest().readUInt16BE(0) % 100;
    (bucket < valPercent ? val : train).push({ path: rel, text: buf.toString('utf8') });
  }
  await mkdir(values.out, { recursive: true });
  const tokenizerJson = values.tokenizer ? await readJsonFile(values.tokenizer) : undefined;
  const st = await writeTokenData(values.out, train, val, { vocabSize, tokenizerJson, tokenizerSampleBytes: Infinity, fim: true });
  const manifest = {
    format: 'dllm-data',
    version: 1,
    source: input,
    ext: values.ext,
    files: files.length,
    duplicates,
    trainFiles: train.length,
    valFiles: val.length,
    fileListSha256: listHash.digest('hex'),
    bytes,
    ...st,
    valPaths: val.map((v) => v.path),
  };
  await writeFileAtomic(join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  console.log(
    `data: ${train.length} train / ${val.length} val files (${duplicates} duplicates dropped), ` +
      `${st.trainTokens} / ${st.valTokens} tokens, ${st.valBytesPerToken} bytes/token held out → ${values.out}`,
  );
  return 0;
}

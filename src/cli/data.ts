// dllm data build --input DIR --ext .py --out DIR [--vocab-size N] [--val-percent P] [--tokenizer FILE]
// A folder of source files → de-duplicated file list, train/validation split by file, a byte-level BPE
// tokenizer (trained on the train split unless one is given), token streams train.bin / val.bin (uint16 when
// the vocabulary fits) and manifest.json (file-list hash, counts, bytes per token).
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { countWords, toTokenizerJson, trainBpe } from '../tokenizer/bpe-train.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { writeFileAtomic, readJsonFile } from '../platform/node-files.js';

/** special tokens of our own models (names follow LLaDA's vocabulary: <|endoftext|> EOS, <|mdm_mask|> mask) */
export const OUR_SPECIALS = ['<|endoftext|>', '<|mdm_mask|>'];

// evaluation data must never be trained on: refuse any input inside the shared evaluation folder
const EVAL_DATA_MARKER = `${sep}shared${sep}data`;

async function listFiles(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) { if (e.name !== '__pycache__' && e.name !== 'site-packages' && !e.name.startsWith('.')) await walk(p); }
      else if (e.isFile() && e.name.endsWith(ext)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

export async function dataBuild(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true,
    options: {
      input: { type: 'string' }, ext: { type: 'string', default: '.py' }, out: { type: 'string' },
      'vocab-size': { type: 'string', default: '4096' }, 'val-percent': { type: 'string', default: '5' },
      tokenizer: { type: 'string' },
    },
  });
  if (!values.input || !values.out) throw new Error('usage: dllm data build --input DIR --ext .py --out DIR');
  const vocabSize = Number(values['vocab-size']), valPercent = Number(values['val-percent']);
  if (!Number.isInteger(vocabSize) || vocabSize < 300) throw new Error(`--vocab-size must be an integer ≥ 300, got ${values['vocab-size']}`);
  if (!(valPercent > 0 && valPercent < 50)) throw new Error(`--val-percent must be in (0, 50), got ${values['val-percent']}`);
  const input = await realpath(resolve(values.input));
  if ((input + sep).includes(EVAL_DATA_MARKER + sep) || (input + sep).includes(`${sep}eval-data${sep}`)) throw new Error(`${input} is inside the evaluation data folder; never train on it`);
  if (!(await stat(input)).isDirectory()) throw new Error(`${input} is not a folder`);
  const files = await listFiles(input, values.ext!);
  if (files.length === 0) throw new Error(`no ${values.ext} files under ${input}`);
  // de-duplicate by content, split by a hash of the relative path (stable when files are added)
  const seen = new Set<string>();
  const train: { path: string; text: string }[] = [], val: { path: string; text: string }[] = [];
  const listHash = createHash('sha256');
  let duplicates = 0, bytes = 0;
  for (const f of files) {
    const buf = await readFile(f);
    const h = createHash('sha256').update(buf).digest('hex');
    if (seen.has(h)) { duplicates++; continue; }
    seen.add(h);
    const rel = relative(input, f);
    listHash.update(`${rel}\t${h}\n`);
    bytes += buf.length;
    const bucket = createHash('sha256').update(rel).digest().readUInt16BE(0) % 100;
    (bucket < valPercent ? val : train).push({ path: rel, text: buf.toString('utf8') });
  }
  await mkdir(values.out, { recursive: true });
  let tokenizerJson: Record<string, unknown>;
  if (values.tokenizer) tokenizerJson = await readJsonFile(values.tokenizer);
  else tokenizerJson = toTokenizerJson(trainBpe(countWords(train.map((t) => t.text)), { vocabSize, specialTokens: OUR_SPECIALS }));
  const tokenizerConfig = { eos_token: OUR_SPECIALS[0], mask_token: OUR_SPECIALS[1], pad_token: OUR_SPECIALS[0], clean_up_tokenization_spaces: false, model_max_length: 1024 };
  const tok = new TextTokenizer({ tokenizerJson, tokenizerConfig });
  const eos = tok.specials.eos;
  if (eos === null || tok.specials.mask === null) throw new Error('tokenizer needs <|endoftext|> and <|mdm_mask|> special tokens');
  const encode = (docs: { text: string }[]) => {
    const parts: Int32Array[] = [];
    let n = 0, b = 0;
    for (const d of docs) { const ids = tok.encode(d.text); parts.push(ids); n += ids.length + 1; b += Buffer.byteLength(d.text); }
    const Arr = tok.vocabSize <= 65536 ? Uint16Array : Uint32Array;
    const out = new Arr(n);
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; out[o++] = eos; } // EOS after every file
    return { ids: out, bytes: b };
  };
  const tr = encode(train), va = encode(val);
  await writeFileAtomic(join(values.out, 'train.bin'), new Uint8Array(tr.ids.buffer));
  await writeFileAtomic(join(values.out, 'val.bin'), new Uint8Array(va.ids.buffer));
  await writeFileAtomic(join(values.out, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFileAtomic(join(values.out, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  const manifest = {
    format: 'dllm-data', version: 1, source: input, ext: values.ext, files: files.length, duplicates,
    trainFiles: train.length, valFiles: val.length, fileListSha256: listHash.digest('hex'), bytes,
    dtype: tr.ids instanceof Uint16Array ? 'uint16' : 'uint32', vocabSize: tok.vocabSize,
    trainTokens: tr.ids.length, valTokens: va.ids.length,
    trainBytesPerToken: +(tr.bytes / tr.ids.length).toFixed(4), valBytesPerToken: +(va.bytes / va.ids.length).toFixed(4),
    valPaths: val.map((v) => v.path),
  };
  await writeFileAtomic(join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  console.log(`data: ${train.length} train / ${val.length} val files (${duplicates} duplicates dropped), ` +
    `${tr.ids.length} / ${va.ids.length} tokens, ${manifest.valBytesPerToken} bytes/token held out → ${values.out}`);
  return 0;
}

// dllm data corpus --out DIR [--packages FILE] [--cache DIR] [--eval-data DIR] [--vocab-size N] [--tokenizer FILE] [--offline]
// A reproducible, licensed, decontaminated Python corpus from pinned Debian packages (corpus-debs.ts):
// per file a licence (data/licence.ts), the filters (data/filters.ts), exact and near dedup
// (data/minhash.ts), 13-gram decontamination against the evaluation sets (data/ngrams.ts) and Python's own
// parser (scripts/corpus/pyast.py, which also cuts the docstring → body view). Validation = whole packages
// marked `val` in the list. Ends with token streams (data-streams.ts) and manifest.json, whose
// corpusSha256 hashes the kept file list: the same list and the same .debs give the same hash.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { droppedBy, isTestFile, MAX_TEST_SHARE } from '../data/filters.js';
import { licenceAllowed, licenceFor, parseCopyright } from '../data/licence.js';
import { NearDedup, signature } from '../data/minhash.js';
import { ContaminationIndex } from '../data/ngrams.js';
import { writeFileAtomic } from '../platform/node-files.js';
import { copyrightText, fetchPackage, parsePackageList, pythonFiles } from './corpus-debs.js';
import { contaminationIndex } from './corpus-eval.js';
import { parsePython, type DocstringView } from './corpus-python.js';
import { writeTokenData, type Doc } from './data-streams.js';

export const DEFAULT_PACKAGES = fileURLToPath(new URL('../../../configs/corpus/packages.txt', import.meta.url));
/** bytes of train text the tokenizer is trained on (a strided sample over every package) */
export const TOKENIZER_SAMPLE_BYTES = 24_000_000;

interface Candidate {
  package: string;
  split: 'train' | 'val';
  path: string;
  licence: string;
  sha256: string;
  test: boolean;
  text: string;
}

/** the flags of the command (usage.ts lists them) */
export const CORPUS_FLAGS = {
  out: { type: 'string' },
  packages: { type: 'string', default: DEFAULT_PACKAGES },
  cache: { type: 'string' },
  'eval-data': { type: 'string' },
  // 8192: best held-out bits/byte of 4096 / 8192 / 16384 at equal compute (bench/results/vocab-study)
  'vocab-size': { type: 'string', default: '8192' },
  offline: { type: 'boolean', default: false },
  'no-tokens': { type: 'boolean', default: false },
  tokenizer: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const;

export async function dataCorpus(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: CORPUS_FLAGS,
  });
  if (!values.out) throw new Error('usage: dllm data corpus --out DIR [--packages FILE] [--cache DIR]');
  const vocabSize = Number(values['vocab-size']);
  if (!Number.isInteger(vocabSize) || vocabSize < 300)
    throw new Error(`--vocab-size must be an integer ≥ 300, got ${values['vocab-size']}`);
  const out = resolve(values.out),
    cache = resolve(values.cache ?? join(out, 'debs'));
  const pins = parsePackageList(await readFile(values.packages!, 'utf8'), values.packages!);
  const log = (s: string) => {
    if (!values.quiet) console.error(s);
  };
  const contamination: ContaminationIndex = await contaminationIndex(values['eval-data']);
  log(`corpus: ${pins.length} packages, ${contamination.size} evaluation 13-grams`);

  const dropped: Record<string, number> = {};
  const drop = (why: string) => {
    dropped[why] = (dropped[why] ?? 0) + 1;
  };
  const packages: Record<string, unknown>[] = [];
  const candidates: Candidate[] = [];
  const seenSha = new Set<string>();
  const bar = new cliProgress.SingleBar(
    { format: 'corpus |{bar}| {value}/{total} packages | {pkg}', noTTYOutput: !values.quiet, notTTYSchedule: 20000 },
    cliProgress.Presets.shades_classic,
  );
  if (!values.quiet) bar.start(pins.length, 0, { pkg: '' });
  for (const pin of pins) {
    const u = await fetchPackage(cache, pin, values.offline!);
    let cr = await copyrightText(u.root, pin.name);
    if (cr.linkedTo) {
      const other = await fetchPackage(cache, { ...pin, name: cr.linkedTo }, values.offline!);
      cr = await copyrightText(other.root, cr.linkedTo);
    }
    const copyright = parseCopyright(cr.text);
    // a copyright file that is not DEP-5 names no licence per file: the list may state one (read by a person)
    if (!copyright.machineReadable && pin.licence) copyright.textLicence = pin.licence;
    const files = await pythonFiles(u.root);
    let kept = 0;
    for (const f of files) {
      const buf = await readFile(join(u.root, f.file));
      const text = new TextDecoder('utf-8', { fatal: false }).decode(buf);
      if (text.includes('\uFFFD')) {
        drop('notUtf8');
        continue;
      }
      const licence = licenceFor(copyright, f.rel);
      if (!licenceAllowed(licence)) {
        drop(licence ? 'licence' : 'licenceUnknown');
        continue;
      }
      const rule = droppedBy(f.rel, text);
      if (rule) {
        drop(rule);
        continue;
      }
      const sha256 = createHash('sha256').update(buf).digest('hex');
      if (seenSha.has(sha256)) {
        drop('exactDuplicate');
        continue;
      }
      seenSha.add(sha256);
      if (contamination.contaminated(text)) {
        drop('contaminated');
        continue;
      }
      candidates.push({ package: pin.name, split: pin.split, path: f.file, licence: licence!, sha256, test: isTestFile(f.rel), text });
      kept++;
    }
    packages.push({
      name: pin.name,
      version: pin.version,
      split: pin.split,
      debSha256: u.debSha256,
      pythonFiles: files.length,
      candidates: kept,
      copyright: copyright.machineReadable ? 'dep5' : copyright.textLicence ? `text:${copyright.textLicence}` : 'none',
    });
    if (!values.quiet) bar.increment(1, { pkg: pin.name });
  }
  if (!values.quiet) bar.stop();

  log(`corpus: parsing ${candidates.length} files with python3`);
  const parsed = await parsePython(candidates.map((c) => c.text));
  const dedup = new NearDedup();
  const keptAll: (Candidate & { views: DocstringView[] })[] = [];
  candidates.forEach((c, i) => {
    const p = parsed[i]!;
    if (!p.ok) {
      drop('syntax');
      return;
    }
    if (dedup.add(signature(c.text)) >= 0) {
      drop('nearDuplicate');
      return;
    }
    keptAll.push({ ...c, views: p.views });
  });
  // test code: at most MAX_TEST_SHARE of the kept bytes per split, the first files in list order (bytes stand in for tokens)
  const kept: typeof keptAll = [];
  for (const split of ['train', 'val'] as const) {
    const inSplit = keptAll.filter((c) => c.split === split);
    const nonTest = inSplit.filter((c) => !c.test).reduce((s, c) => s + c.text.length, 0);
    let budget = (nonTest * MAX_TEST_SHARE) / (1 - MAX_TEST_SHARE);
    for (const c of inSplit) {
      if (c.test) {
        if (c.text.length > budget) {
          drop('testShare');
          continue;
        }
        budget -= c.text.length;
      }
      kept.push(c);
    }
  }
  const listHash = createHash('sha256');
  for (const c of kept) listHash.update(`${c.package}\t${c.path}\t${c.sha256}\t${c.split}\n`);
  const corpusSha256 = listHash.digest('hex');

  await mkdir(out, { recursive: true });
  const docs = (split: string): Doc[] =>
    kept.filter((c) => c.split === split).map((c) => ({ path: `${c.package}/${c.path}`, text: c.text }));
  const viewLines = (split: string) =>
    kept
      .filter((c) => c.split === split)
      .flatMap((c) => c.views.map((v) => JSON.stringify({ package: c.package, path: c.path, ...v })))
      .join('\n') + '\n';
  await writeFileAtomic(join(out, 'views-train.jsonl'), viewLines('train'));
  await writeFileAtomic(join(out, 'views-val.jsonl'), viewLines('val'));
  // the held-out files as text: `dllm eval ppl --data OUT` scores the same bytes with every model's tokenizer
  await writeFileAtomic(
    join(out, 'heldout.jsonl'),
    docs('val')
      .map((d) => JSON.stringify(d))
      .join('\n') + '\n',
  );
  const train = docs('train'),
    val = docs('val');
  const stats = values['no-tokens']
    ? null
    : await writeTokenData(out, train, val, {
        vocabSize,
        tokenizerSampleBytes: TOKENIZER_SAMPLE_BYTES,
        fim: true,
        onProgress: log,
        // an existing tokenizer (e.g. a model's, to extend its corpus) instead of training one
        tokenizerJson: values.tokenizer ? (JSON.parse(await readFile(values.tokenizer, 'utf8')) as Record<string, unknown>) : undefined,
      });
  const licences: Record<string, number> = {};
  for (const c of kept) licences[c.licence] = (licences[c.licence] ?? 0) + 1;
  const manifest = {
    format: 'dllm-corpus',
    version: 1,
    corpusSha256,
    packageList: values.packages,
    packages,
    dropped,
    counts: {
      candidates: candidates.length,
      kept: kept.length,
      train: train.length,
      val: val.length,
      testFiles: kept.filter((c) => c.test).length,
      views: {
        train: kept.filter((c) => c.split === 'train').reduce((s, c) => s + c.views.length, 0),
        val: kept.filter((c) => c.split === 'val').reduce((s, c) => s + c.views.length, 0),
      },
    },
    licences,
    contaminationGrams: contamination.size,
    ...(stats ?? {}),
    files: kept.map((c) => ({ path: c.path, package: c.package, licence: c.licence, sha256: c.sha256, split: c.split, test: c.test })),
  };
  await writeFileAtomic(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  console.log(
    `corpus: ${kept.length} files kept (${train.length} train / ${val.length} val), dropped ${JSON.stringify(dropped)}` +
      (stats ? `, ${stats.trainTokens} / ${stats.valTokens} tokens` : '') +
      `, corpusSha256 ${corpusSha256} → ${out}`,
  );
  return 0;
}

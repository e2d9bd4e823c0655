// dllm eval TASK --model NAME|DIR [--limit N] [--out DIR] [--data DIR] [--split …] [--strip-prompt true|false] [decoder flags] [--cache …]
// TASK: humaneval | mbpp | humaneval-infilling | humaneval-ts | gsm8k | ppl. Generation tasks write one JSON
// line per sample to OUT/samples.jsonl as they go (a rerun skips the samples already there, so an
// interrupted eval resumes), check code by execution in the sandbox, and write OUT/summary.json atomically.
// The settings are fixed per OUT folder: resuming with other settings is refused. Code runs only in the
// sandbox (node-sandbox.ts); without one it is refused unless --unsafe-no-sandbox, which summary.json records.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { parsePython } from './corpus-python.js';
import { TASKS, cutMiddle, truncate, type CodeSample, type InfillSplit, type TaskName } from '../eval/tasks.js';
import type { MathSample } from '../eval/gsm8k.js';
import { extractAnswer } from '../eval/gsm8k.js';
import { parseHfConfig } from '../model/config.js';
import { CACHE_MODES, type CacheMode } from '../model/diffusion-lm.js';
import { isGgufFile } from '../platform/node-model.js';
import { defaultCache, modelDecodeDefaults } from '../text/generator.js';
import { parseBackend } from '../platform/node-backend.js';
import { checkAll } from '../platform/node-eval-check.js';
import { DEFAULT_DATA_DIR, loadTask } from '../platform/node-eval-data.js';
import { readJsonFile, writeFileAtomic } from '../platform/node-files.js';
import { isolation, requireIsolation, unsafeIsolation, UNSAFE_WARNING, type SandboxOptions } from '../platform/node-sandbox.js';
import { DECODE_DEFAULTS, parseDecodeOptions, type DecodeOptions } from '../sampler/index.js';
import { flagOptions, flagValues, parseBoolFlag } from './flags.js';
import { DEFAULT_MODEL, resolveModel } from './generate.js';
import { modelName } from '../platform/node-generator.js';
import { EvalModel } from './eval-model.js';
import { evalPpl } from './eval-ppl.js';

/** generated positions per task when --gen-length is not given: room for a function body, a line, an answer */
const GEN_LENGTH: Record<string, number> = {
  syntax: 64,
  humaneval: 128,
  mbpp: 128,
  'humaneval-ts': 128,
  gsm8k: 128,
  'single-line': 16,
  'multi-line': 64,
  'random-span': 64,
};

/** the flags of the command (usage.ts lists them) */
export const EVAL_FLAGS = {
  model: { type: 'string', default: DEFAULT_MODEL },
  limit: { type: 'string' },
  out: { type: 'string' },
  data: { type: 'string' },
  split: { type: 'string', default: 'single-line' },
  'strip-prompt': { type: 'string', default: 'true' }, // HumanEval's prompts (humaneval, syntax): tasks.ts humaneval
  cache: { type: 'string' }, // default: the model's (text/generator.ts defaultCache)
  threads: { type: 'string' },
  backend: { type: 'string' },
  'timeout-ms': { type: 'string', default: '10000' },
  'memory-mb': { type: 'string', default: '1024' },
  quiet: { type: 'boolean' },
  'unsafe-no-sandbox': { type: 'boolean' },
  ...flagOptions(DECODE_DEFAULTS),
} as const;

export async function evalCommand(argv: string[]): Promise<number> {
  const [task, ...rest] = argv;
  if (task === 'ppl') return evalPpl(rest);
  if (!task || !(TASKS as readonly string[]).includes(task))
    throw new Error(`usage: dllm eval ${[...TASKS, 'ppl'].join('|')} --model NAME|DIR [--limit N] [--out DIR]`);
  const { values } = parseArgs({
    args: rest,
    strict: true,
    allowPositionals: false,
    options: EVAL_FLAGS,
  });
  const split = values.split as InfillSplit;
  if (!['single-line', 'multi-line', 'random-span'].includes(split))
    throw new Error(`--split must be single-line, multi-line or random-span, got "${values.split}"`);
  const stripPrompt = parseBoolFlag('strip-prompt', String(values['strip-prompt'])),
    humanEvalPrompts = task === 'humaneval' || task === 'syntax';
  const dir = resolveModel(values.model!);
  const name = modelName(dir);
  // the model's own decoding defaults (a block-diffusion model: its block length and the block cache)
  const modelConfig = isGgufFile(dir) ? null : parseHfConfig(await readJsonFile(join(dir, 'config.json')), dir);
  const cache = (values.cache ?? (modelConfig ? defaultCache(modelConfig) : 'none')) as CacheMode;
  if (!(CACHE_MODES as readonly string[]).includes(cache))
    throw new Error(`--cache must be ${CACHE_MODES.join(', ')}, got "${values.cache}"`);
  const bdSize = modelConfig?.bdSize;
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return n;
  };
  const limit = values.limit === undefined ? Infinity : int('limit', values.limit, 1);
  const threads = values.threads === undefined ? 0 : int('threads', values.threads, 1);
  const unsafe = values['unsafe-no-sandbox'] === true;
  // only when set, so the settings of folders made before the flag existed still match
  const sandbox = {
    timeoutMs: int('timeout-ms', values['timeout-ms'], 100),
    memoryMb: int('memory-mb', values['memory-mb'], 64),
    ...(unsafe ? { unsafeNoSandbox: true } : {}),
  };
  const flags = flagValues(values as Record<string, unknown>, DECODE_DEFAULTS);
  const key = task === 'humaneval-infilling' ? split : task;
  // the CLI's decoding defaults (threshold, early stop); a middle may end early at EOS
  const decode = parseDecodeOptions({
    decoder: 'threshold',
    earlyStop: true,
    ...(task === 'humaneval-infilling' ? { infillMayEnd: true } : {}),
    genLength: GEN_LENGTH[key],
    // the model's own (text/generator.ts); a block-diffusion model infills through FIM, so its suffix never reaches the denoiser
    ...(modelConfig ? modelDecodeDefaults(modelConfig, cache, task === 'humaneval-infilling' && bdSize === undefined) : {}),
    ...flags,
  });
  const dataDir = resolve(values.data ?? DEFAULT_DATA_DIR);
  const loaded = loadTask(task as TaskName, dataDir, split, stripPrompt);
  const executes = loaded.kind === 'code' && task !== 'syntax';
  if (executes) requireIsolation(unsafe); // before the model loads: refuse early, not after an hour of generation
  if (executes && unsafe) console.error(`\n${UNSAFE_WARNING}\n`);
  const out = resolve(values.out ?? join('runs/eval', name, task === 'humaneval-infilling' ? `${task}-${split}` : task));
  const settings = {
    task,
    split: task === 'humaneval-infilling' ? split : null,
    ...(humanEvalPrompts ? { stripPrompt } : {}),
    healPrompt: task !== 'humaneval-infilling', // eval-model.ts: a prompt without a suffix is healed (text/heal.ts)
    model: name,
    decode,
    cache,
    data: dataDir,
    sandbox,
  };
  mkdirSync(out, { recursive: true });
  const settingsFile = join(out, 'settings.json');
  if (existsSync(settingsFile)) {
    const old = readFileSync(settingsFile, 'utf8');
    if (old !== JSON.stringify(settings, null, 2))
      throw new Error(`${out} holds results made with other settings; use another --out or delete it`);
  } else await writeFileAtomic(settingsFile, JSON.stringify(settings, null, 2));

  const samplesFile = join(out, 'samples.jsonl');
  const done = new Map<string, Record<string, unknown>>();
  if (existsSync(samplesFile)) {
    for (const l of readFileSync(samplesFile, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        const r = JSON.parse(l) as Record<string, unknown>;
        done.set(r['id'] as string, r);
      } catch {
        /* a line cut by an interruption: redo that sample */
      }
    }
  }
  const all = (loaded.samples as Array<CodeSample | MathSample>).slice(0, limit);
  const todo = all.filter((s) => !done.has(s.id));
  const model = await EvalModel.load(dir, name, { backend: parseBackend(values.backend), threads }, cache);
  const bar = values.quiet
    ? null
    : new cliProgress.SingleBar(
        { format: `${task} ${name} [{bar}] {value}/{total} | pass {pass} | {eta_formatted} left`, stream: process.stderr },
        cliProgress.Presets.shades_classic,
      );
  bar?.start(all.length, all.length - todo.length, { pass: '–' });
  const t0 = performance.now();
  let passedSoFar = [...done.values()].filter((r) => r['passed']).length;
  try {
    for (const s of todo) {
      const rec =
        task === 'syntax'
          ? await runSyntax(model, s as CodeSample, decode)
          : loaded.kind === 'code'
            ? await runCode(model, s as CodeSample, decode, sandbox)
            : await runMath(model, s as MathSample, decode);
      appendFileSync(samplesFile, JSON.stringify(rec) + '\n');
      done.set(s.id, rec);
      if (rec['passed']) passedSoFar++;
      bar?.increment(1, { pass: `${passedSoFar}/${done.size}` });
    }
  } finally {
    bar?.stop();
    model.dispose();
  }
  const recs = all.map((s) => done.get(s.id)!);
  const n = recs.length,
    c = recs.filter((r) => r['passed']).length;
  const sum = (f: string) => recs.reduce((a, r) => a + (r[f] as number), 0);
  const summary = {
    ...settings,
    kind: model.kind,
    backend: model.backend,
    samples: n,
    passed: c,
    metric: task === 'syntax' ? 'parses' : loaded.kind === 'code' ? 'pass@1' : 'exact match',
    pass1: n ? c / n : 0, // one greedy sample per problem: pass@1 is the pass rate
    generatedTokens: sum('tokens'),
    nfe: sum('nfe'),
    tokensPerForward: sum('nfe') ? sum('tokens') / sum('nfe') : 0,
    tokensPerSecond: sum('ms') ? (sum('tokens') * 1000) / sum('ms') : 0,
    truncatedPrompts: recs.filter((r) => r['truncatedPrompt']).length,
    isolation: executes ? (unsafe ? unsafeIsolation() : isolation()) : null,
    wallSeconds: (performance.now() - t0) / 1000,
    date: new Date().toISOString(),
  };
  await writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
  console.log(
    `${task}${settings.split ? ` (${split})` : ''} ${name}: ${summary.metric} ${(100 * summary.pass1).toFixed(1)} % (${c}/${n}), ` +
      `${summary.tokensPerSecond.toFixed(1)} tok/s, TPF ${summary.tokensPerForward.toFixed(2)} → ${out}`,
  );
  if (executes && unsafe) console.error(UNSAFE_WARNING);
  return 0;
}

async function runCode(model: EvalModel, s: CodeSample, o: DecodeOptions, sandbox: SandboxOptions): Promise<Record<string, unknown>> {
  // an AR model sees the suffix only through FIM sentinels (eval-model.ts); without them it continues the prefix
  const infill = s.suffix !== undefined;
  const c = await model.complete(s.prompt, infill ? s.suffix! : null, o, s.stop);
  const completion = infill ? cutMiddle(s, c.text) : truncate(c.text, s.stop);
  const [run] = await checkAll([{ sample: s, completion }], sandbox, 1);
  return {
    id: s.id,
    passed: run!.status === 'passed',
    status: run!.status,
    completion,
    raw: c.text,
    tokens: c.tokens,
    nfe: c.nfe,
    ms: Math.round(c.ms),
    promptTokens: c.promptTokens,
    truncatedPrompt: c.truncatedPrompt,
    stderr: run!.status === 'passed' ? '' : run!.stderr.slice(-300),
  };
}

/**
 * syntax: the completion, cut at EOS (the decoder's) or at the end of the function (HumanEval's stop strings),
 * parses with the prompt. An empty completion does not count: a HumanEval prompt already parses on its own
 * (the docstring is a body), so a model that ends at once would otherwise score high by writing nothing.
 */
async function runSyntax(model: EvalModel, s: CodeSample, o: DecodeOptions): Promise<Record<string, unknown>> {
  const c = await model.complete(s.prompt, null, o, s.stop);
  const completion = truncate(c.text, s.stop);
  const [p] = await parsePython([s.prompt + completion]);
  const empty = completion.trim() === '';
  return {
    id: s.id,
    passed: p!.ok && !empty,
    status: empty ? 'empty' : p!.ok ? 'parses' : 'syntax-error',
    error: p!.error ?? '',
    completion,
    tokens: c.tokens,
    nfe: c.nfe,
    ms: Math.round(c.ms),
    promptTokens: c.promptTokens,
    truncatedPrompt: c.truncatedPrompt,
  };
}

async function runMath(model: EvalModel, s: MathSample, o: DecodeOptions): Promise<Record<string, unknown>> {
  const c = await model.complete(s.prompt, null, o, s.stop);
  const text = truncate(c.text, s.stop),
    got = extractAnswer(text);
  return {
    id: s.id,
    passed: got === s.answer,
    answer: s.answer,
    extracted: got,
    completion: text,
    tokens: c.tokens,
    nfe: c.nfe,
    ms: Math.round(c.ms),
    promptTokens: c.promptTokens,
    truncatedPrompt: c.truncatedPrompt,
  };
}

// dllm train --config FILE.json [--resume | --overwrite] [--<key> value …]: flags map 1:1 to TrainConfig keys
// (--lr-max ↔ lrMax); precedence defaults < config file < flags. Progress bar (loss, tokens/s, ETA),
// JSONL log, validation every evalEvery steps, atomic checkpoints, a loss plot (loss.svg) at the end.
// A run folder that already holds a checkpoint is never started over silently: --resume continues it,
// --overwrite discards it; without either the command refuses.
import { appendFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createKernels } from '../platform/node.js';
import { readJsonFile, writeFileAtomic } from '../platform/node-files.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { parseTrainConfig, TRAIN_DEFAULTS, type TrainConfig } from '../train/config.js';
import { Trainer, modelConfigFor, type EvalEvent, type StepEvent } from '../train/loop.js';
import { loadCheckpoint, readTrainerState, saveCheckpoint } from './checkpoint.js';
import { checkpointDirs } from './checkpoint-commit.js';
import { repairRunLog } from './run-log.js';
import { nodeDurableFs } from '../platform/durable-fs.js';
import { JSON_LIMITS } from '../io/json-limits.js';
import { writeLossPlot } from './plot.js';
import { flagOptions, flagValues } from './flags.js';
import { loadModelDir } from '../platform/node-model.js';
import type { Kernels } from '../kernels/backend.js';
import { trainTorch } from './train-torch.js';
import { sftRowCount } from '../train/sft-data.js';

/** the held-out stream of an objective: the sft rows of the held-out packages' views, else the plain val stream */
export const valFileFor = (cfg: Pick<TrainConfig, 'objective'>): string => (cfg.objective === 'sft' ? 'sft-val.bin' : 'val.bin');

export async function readStream(path: string, dtype: string): Promise<{ ids: Uint16Array | Uint32Array }> {
  const buf = await readFile(path);
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return { ids: dtype === 'uint32' ? new Uint32Array(ab) : new Uint16Array(ab) };
}

/** the flags of train: its own, then one per key of the training config (usage.ts lists them) */
export const TRAIN_FLAGS: Record<string, { type: 'string' | 'boolean' }> = {
  config: { type: 'string' },
  resume: { type: 'boolean' },
  overwrite: { type: 'boolean' },
  quiet: { type: 'boolean' },
  ...flagOptions(TRAIN_DEFAULTS),
};

export async function train(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: TRAIN_FLAGS });
  let cfg: TrainConfig;
  const overrides = flagValues(values as Record<string, unknown>, TRAIN_DEFAULTS);
  if (values['resume'] && values['overwrite'])
    throw new Error("train: --resume continues the run folder's checkpoint, --overwrite discards it: give one");
  if (values['resume']) {
    const out = String(values['out'] ?? (values['config'] ? (await readJsonFile(String(values['config'])))['out'] : ''));
    if (!out) throw new Error('--resume needs --out RUN_DIR (or --config with "out")');
    const state = await readTrainerState(out);
    // the saved config wins, except for keys given as flags now (e.g. --steps to train longer)
    cfg = parseTrainConfig(overrides, parseTrainConfig(state.config), '--resume flags');
  } else {
    const fromFile = values['config']
      ? parseTrainConfig(await readJsonFile(String(values['config'])), TRAIN_DEFAULTS, String(values['config']))
      : TRAIN_DEFAULTS;
    cfg = parseTrainConfig(overrides, fromFile, 'flags');
  }
  if (!cfg.data || !cfg.out) throw new Error('train: "data" (a folder from `dllm data build`) and "out" (the run folder) are required');
  const logPath = join(cfg.out, 'log.jsonl');
  const discard = values['resume'] ? [] : await refuseReuse(cfg.out, Boolean(values['overwrite']));
  const manifest = await readJsonFile(join(cfg.data, 'manifest.json'));
  const tokPaths = { tokenizerJson: join(cfg.data, 'tokenizer.json'), tokenizerConfig: join(cfg.data, 'tokenizer_config.json') };
  const tok = new TextTokenizer({
    tokenizerJson: await readJsonFile(tokPaths.tokenizerJson, JSON_LIMITS.tokenizer),
    tokenizerConfig: await readJsonFile(tokPaths.tokenizerConfig),
  });
  const vocabSize = cfg.vocabSize || tok.vocabSize;
  if (tok.specials.eos === null) throw new Error('train: the tokenizer has no EOS token');
  // the inputs are read: only now does --overwrite discard the old checkpoint, or --resume mend the log
  for (const name of discard) await nodeDurableFs.rm(join(cfg.out, name));
  if (discard.length) console.error(`train: --overwrite: removed ${discard.map((n) => join(cfg.out, n)).join(', ')}`);
  if (values['resume']) repairRunLog(logPath);
  if (cfg.engine === 'torch') {
    return trainTorch(cfg, {
      vocabSize,
      dtype: String(manifest['dtype']),
      tokPaths,
      specials: { eos: tok.specials.eos, mask: tok.specials.mask },
      resume: Boolean(values['resume']),
      quiet: Boolean(values['quiet']),
    });
  }
  const trainStream = await readStream(join(cfg.data, cfg.trainFile), String(manifest['dtype']));
  const valStream = await readStream(join(cfg.data, valFileFor(cfg)), String(manifest['dtype']));
  if (cfg.objective === 'sft') {
    sftRowCount(trainStream, cfg.seqLen);
    sftRowCount(valStream, cfg.seqLen);
  } // whole rows of this seqLen
  const kernels = await createKernels(cfg.threads > 0 ? { threads: cfg.threads } : {});
  const trainer = new Trainer(cfg, modelConfigFor(cfg, vocabSize), kernels, tok.specials.mask);
  await mkdir(cfg.out, { recursive: true });
  if (values['resume']) await loadCheckpoint(cfg.out, trainer);
  else {
    trainer.initWeights();
    if (cfg.initFrom) await initFromModel(cfg.initFrom, trainer, kernels);
    await writeFileAtomic(logPath, '');
  }
  appendFileSync(
    logPath,
    JSON.stringify({
      event: values['resume'] ? 'resume' : 'start',
      step: trainer.state.step,
      config: cfg,
      kernels: kernels.name,
      threads: kernels.threads,
    }) + '\n',
  );
  let stopRequested = false;
  const onSignal = () => {
    stopRequested = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const bar = new cliProgress.SingleBar(
    {
      format: 'train |{bar}| {value}/{total} steps | loss {loss} | val {val} | {tps} tok/s | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: !values['quiet'],
      notTTYSchedule: 30000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(cfg.steps, trainer.state.step, { loss: '-', val: '-', tps: '-' });
  let lastVal = '-';
  try {
    await trainer.train(trainStream, valStream, {
      onStep: (e: StepEvent) => {
        bar.update(e.step, { loss: e.loss.toFixed(4), val: lastVal, tps: e.tokensPerSecond.toFixed(0) });
        appendFileSync(logPath, JSON.stringify({ event: 'step', ...e }) + '\n');
      },
      onEval: (e: EvalEvent) => {
        lastVal = e.valLoss.toFixed(4);
        appendFileSync(logPath, JSON.stringify({ event: 'eval', ...e, pplBound: Math.exp(e.valLoss) }) + '\n');
      },
      onCheckpoint: async (t) => saveCheckpoint(cfg.out, t, tokPaths, { eos: tok.specials.eos!, mask: tok.specials.mask }),
      shouldStop: () => stopRequested,
    });
  } finally {
    bar.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await writeLossPlot(cfg);
  const s = trainer.state;
  console.log(
    `train: ${stopRequested ? 'stopped' : 'done'} at step ${s.step}, ${s.tokens} tokens in ${(s.elapsedMs / 1000).toFixed(0)} s → ${join(cfg.out, 'checkpoint')}`,
  );
  trainer.dispose();
  kernels.dispose();
  return 0;
}

/** a fresh run may use `out` only when it holds no checkpoint, or when --overwrite says to discard it (returned) */
async function refuseReuse(out: string, overwrite: boolean): Promise<string[]> {
  const found = await checkpointDirs(out);
  if (found.length > 0 && !overwrite) {
    throw new Error(
      `train: ${out} already holds a training checkpoint (${found.join(', ')}); ` +
        'pass --resume to continue it, or --overwrite to discard it and start over',
    );
  }
  return found;
}

/** start from a model folder's weights (e.g. a shipped model): shapes must match the config exactly. A bias
 *  the folder lacks starts at zero, the same function: a llama (AR) folder into a dream run (Qwen2 layout) */
async function initFromModel(dir: string, t: Trainer, k: Kernels): Promise<void> {
  const m = await loadModelDir(dir, k);
  for (const spec of t.model.specs) {
    const w = m.model.weights.get(spec.name);
    if (!w && spec.kind === 'bias') {
      t.model.p(spec.name).fill(0);
      continue;
    }
    if (!w || w.kind !== 'f32') throw new Error(`--init-from ${dir}: weight ${spec.name} is missing`);
    if (w.data.length !== t.model.p(spec.name).length)
      throw new Error(`--init-from ${dir}: ${spec.name} has ${w.data.length} values, the config needs ${t.model.p(spec.name).length}`);
    t.model.p(spec.name).set(w.data);
  }
  m.model.dispose();
}

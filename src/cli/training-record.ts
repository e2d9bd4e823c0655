// training.json of an exported model: what it cost and what it saw, read from the run folder the checkpoint
// came from (trainer_state.json, log.jsonl, torch-job.json) and the data folder's manifest:
//   { engine, hardware, threads or device, objectives, steps, tokensSeen, params, flops (6·N·tokens; ×2 for bd, ×4 with bdComplement),
//     wallSeconds, corpusSha256, corpusTokens, initFrom, heldout: { split, natsPerToken, bitsPerByte } }
// A model adapted from another (initFrom) carries that model's record too, so the total compute adds up.
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { numel, parameterTable } from '../model/params.js';
import { modelConfigFor } from '../train/loop.js';
import { parseTrainerState } from '../train/trainer-state.js';
import { readRunLog } from './run-log.js';

type Json = Record<string, unknown>;
const readJson = (p: string): Json => JSON.parse(readFileSync(p, 'utf8')) as Json;

export function trainingRecord(checkpoint: string): Json | null {
  const statePath = join(checkpoint, 'trainer_state.json');
  if (!existsSync(statePath)) return null;
  const state = parseTrainerState(readJson(statePath), statePath);
  const cfg = state.config;
  const run = dirname(checkpoint);
  const log = readRunLog(join(run, 'log.jsonl'));
  const start = log.filter((e) => e['event'] === 'start' || e['event'] === 'resume').pop() ?? {};
  const evals = log.filter((e) => e['event'] === 'eval');
  const lastEval = evals.filter((e) => Number(e['step']) <= state.step).pop();
  const manifestPath = join(cfg.data, 'manifest.json');
  const manifest = existsSync(manifestPath) ? readJson(manifestPath) : {};
  const vocab = Number(readJson(join(checkpoint, 'config.json'))['vocab_size']);
  const params = parameterTable(modelConfigFor(cfg, vocab)).reduce((s, p) => s + numel(p.shape), 0);
  const tokens = state.tokens;
  const nats = lastEval ? Number(lastEval['valLoss']) : null;
  const bpt = Number(manifest['valBytesPerToken']);
  let initTraining = cfg.initFrom && existsSync(join(cfg.initFrom, 'training.json')) ? readJson(join(cfg.initFrom, 'training.json')) : null;
  // the init folder may hold an earlier export of this very run (resumed, then exported again into the folder
  // it started from): that record counts this run's first steps, so the chain goes on from its own init
  const sameRun = (r: Json | null): boolean => r !== null && (r['config'] as Json | undefined)?.['out'] === cfg.out;
  while (sameRun(initTraining)) initTraining = (initTraining!['initFromTraining'] as Json | undefined) ?? null;
  return {
    engine: cfg.engine,
    hardware: cfg.device === 'cuda' ? 'cuda' : `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`,
    ...(cfg.device === 'cuda' ? { device: 'cuda' } : { threads: Number(start['threads'] ?? cfg.threads) }),
    ...(Number(start['world'] ?? 1) > 1 ? { procs: Number(start['world']) } : {}), // data-parallel ranks of the last (re)start
    objectives: [cfg.objective],
    trainFile: cfg.trainFile,
    steps: state.step,
    tokensSeen: tokens,
    params,
    // bd reads each data token twice ([x_t ⊕ x_0], objectives.ts prepareBd), four times with its complementary rows
    flops: 6 * params * tokens * (cfg.objective === 'bd' ? (cfg.bdComplement ? 4 : 2) : 1),
    wallSeconds: Math.round(state.elapsedMs / 1000),
    corpusSha256: manifest['corpusSha256'] ?? manifest['fileListSha256'] ?? null,
    corpusTokens: manifest['trainTokens'] ?? null,
    initFrom: cfg.initFrom || null,
    ...(initTraining ? { initFromTraining: initTraining } : {}),
    heldout:
      nats === null
        ? null
        : {
            split: manifest['format'] === 'dllm-corpus' ? 'val (whole packages held out)' : 'val',
            windows: `${cfg.evalBatches}×${cfg.batchSize}×${cfg.seqLen}`,
            natsPerToken: nats,
            kind: cfg.objective === 'ar' ? 'exact NLL' : cfg.objective === 'bd' ? 'block-diffusion NELBO bound' : 'ELBO bound',
            bitsPerByte: Number.isFinite(bpt) && bpt > 0 ? nats / Math.LN2 / bpt : null,
          },
    config: cfg,
  };
}

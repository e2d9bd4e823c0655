// dllm train --engine torch: the same resolved TrainConfig, run by scripts/train/torch_train.py on PyTorch
// (Debian's python3-torch; bf16 autocast on CPUs, --device cuda on a GPU). This side writes the job file
// (config, our parameter table, the checkpoint's config.json, special ids), starts Python, draws the
// progress bar from the JSON events it prints, and writes loss.svg at the end, as the TypeScript engine does.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { parameterTable } from '../model/params.js';
import { checkpointConfigs } from './checkpoint.js';
import { writeFileAtomic } from '../platform/node-files.js';
import type { TrainConfig } from '../train/config.js';
import { modelConfigFor } from '../train/loop.js';
import { writeLossPlot } from './plot.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/train/torch_train.py', import.meta.url));
/** Debian's python3-torch lives under /usr/bin/python3 (a pyenv or venv python3 on PATH lacks it); $DLLM_TORCH_PYTHON overrides */
export const TORCH_PYTHON = process.env['DLLM_TORCH_PYTHON'] ?? '/usr/bin/python3';

export interface TorchRun {
  vocabSize: number;
  dtype: string;
  resume: boolean;
  quiet: boolean;
  tokPaths: { tokenizerJson: string; tokenizerConfig: string };
  specials: { eos: number; mask: number | null };
}

/** the job file torch_train.py reads: everything it needs, decided here, so both engines share one config parse */
export function torchJob(cfg: TrainConfig, r: TorchRun): Record<string, unknown> {
  const mc = modelConfigFor(cfg, r.vocabSize);
  if (cfg.objective !== 'ar' && r.specials.mask === null) throw new Error('train: the mdm objective needs a mask token in the tokenizer');
  const altTable = parameterTable({ ...mc, arch: mc.arch === 'llada' ? 'llama' : 'llada' });
  return {
    format: 'dllm-torch-job',
    version: 1,
    config: { ...cfg, out: resolve(cfg.out), data: resolve(cfg.data), initFrom: cfg.initFrom ? resolve(cfg.initFrom) : '' },
    vocabSize: r.vocabSize,
    dtype: r.dtype,
    device: cfg.device,
    resume: r.resume,
    maskId: r.specials.mask,
    eosId: r.specials.eos,
    // the other layout's names: --init-from a llama (AR) folder into a llada (diffusion) run, the AR → diffusion adaptation
    paramTable: parameterTable(mc).map((s, i) => ({ ...s, altNames: [altTable[i]!.hfName] })),
    ...(({ config, generationConfig }) => ({ hfConfig: config, generationConfig }))(checkpointConfigs(mc, r.specials)),
    tokenizerFiles: { 'tokenizer.json': resolve(r.tokPaths.tokenizerJson), 'tokenizer_config.json': resolve(r.tokPaths.tokenizerConfig) },
  };
}

/** a TCP port free on this machine now (the ranks' rendezvous) */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => res(port));
    });
  });
}

export async function trainTorch(cfg: TrainConfig, r: TorchRun): Promise<number> {
  await mkdir(cfg.out, { recursive: true });
  const jobPath = join(cfg.out, 'torch-job.json');
  await writeFileAtomic(jobPath, JSON.stringify(torchJob(cfg, r), null, 1));
  // procs > 1: the ranks are started here with the env:// variables torchrun would set (Debian bookworm's torchrun,
  // torch 1.13 under Python 3.11, fails in its own code); rank 0 prints the events, the others only their errors
  const world = cfg.procs;
  const port = world > 1 ? await freePort() : 0;
  const rankEnv = (rank: number): NodeJS.ProcessEnv =>
    world === 1
      ? process.env
      : {
          ...process.env,
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          WORLD_SIZE: String(world),
          RANK: String(rank),
          LOCAL_RANK: String(rank),
        };
  const others: ChildProcess[] = [];
  for (let rank = 1; rank < world; rank++)
    others.push(spawn(TORCH_PYTHON, [SCRIPT, jobPath], { stdio: ['ignore', 'ignore', 'inherit'], env: rankEnv(rank) }));
  const child = spawn(TORCH_PYTHON, [SCRIPT, jobPath], { stdio: ['ignore', 'pipe', 'inherit'], env: rankEnv(0) });
  const bar = new cliProgress.SingleBar(
    {
      format: 'train [torch] |{bar}| {value}/{total} steps | loss {loss} | val {val} | {tps} tok/s | ETA {eta_formatted}',
      hideCursor: true,
      noTTYOutput: !r.quiet,
      notTTYSchedule: 30000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false,
    lastVal = '-',
    final: Record<string, unknown> | null = null;
  const forward = (sig: NodeJS.Signals) => () => [child, ...others].forEach((c) => c.kill(sig)); // Python checkpoints, then exits
  const onInt = forward('SIGINT'),
    onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  createInterface({ input: child.stdout }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      console.error(line);
      return;
    }
    if (e['event'] === 'start' || e['event'] === 'resume') {
      bar.start(cfg.steps, Number(e['step']), { loss: '-', val: '-', tps: '-' });
      started = true;
    } else if (e['event'] === 'eval') lastVal = Number(e['valLoss']).toFixed(4);
    else if (e['event'] === 'step')
      bar.update(Number(e['step']), { loss: Number(e['loss']).toFixed(4), val: lastVal, tps: Number(e['tokensPerSecond']).toFixed(0) });
    else if (e['event'] === 'done' || e['event'] === 'stopped') final = e;
  });
  const code = await new Promise<number>((res, rej) => {
    child.on('error', (e) =>
      rej(
        new Error(
          `train --engine torch needs ${TORCH_PYTHON} with torch and numpy (apt-get install python3-torch python3-numpy): ${e.message}`,
        ),
      ),
    );
    child.on('close', (c) => res(c ?? 1));
  });
  const otherCodes = await Promise.all(
    others.map((o) => new Promise<number>((res) => (o.exitCode !== null ? res(o.exitCode) : o.on('close', (c) => res(c ?? 1))))),
  );
  if (started) bar.stop();
  process.off('SIGINT', onInt);
  process.off('SIGTERM', onTerm);
  if (code !== 0) throw new Error(`train --engine torch: ${SCRIPT} exited with ${code}`);
  const bad = otherCodes.findIndex((c) => c !== 0);
  if (bad >= 0) throw new Error(`train --engine torch: rank ${bad + 1} of ${world} exited with ${otherCodes[bad]}`);
  await writeLossPlot(cfg, ' (torch)');
  const f = final as Record<string, unknown> | null;
  console.log(
    `train: ${f?.['event'] ?? 'ended'} at step ${f?.['step'] ?? '?'}, ${f?.['tokens'] ?? '?'} tokens in ${(Number(f?.['elapsedMs'] ?? 0) / 1000).toFixed(0)} s → ${join(cfg.out, 'checkpoint')}`,
  );
  return 0;
}

// Training checkpoints in Hugging Face layout, committed so that no kill loses one (checkpoint-commit.ts:
// fsynced files in checkpoint.tmp/, renames, recovery of every state a kill can leave), and loaded strictly:
// every tensor of the parameter table present in model and optimizer files, F32 and of the table's shape,
// trainer_state.json through its typed parse — a damaged checkpoint is refused, never trained on.
//   config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json
//   optimizer.safetensors (AdamW m, v), trainer_state.json (step, tokens, time, RNG state, TrainConfig)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, parseSafetensorsHeader, readTensor } from '../io/safetensors.js';
import { toHfConfig, type ModelConfig } from '../model/config.js';
import type { ParamSpec } from '../model/params.js';
import type { Trainer } from '../train/loop.js';
import { Rng } from '../train/rng.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, parseTrainerState, type TrainerStateFile } from '../train/trainer-state.js';
import { nodeDurableFs, type DurableFs } from '../platform/durable-fs.js';
import { readJsonFile } from '../platform/node-files.js';
import { commitCheckpoint, recoverCheckpoint } from './checkpoint-commit.js';

export { CHECKPOINT_FORMAT, CHECKPOINT_VERSION, type TrainerStateFile } from '../train/trainer-state.js';

export interface TokenizerFilesOnDisk {
  tokenizerJson: string;
  tokenizerConfig: string;
}

function tensorsOf(map: Map<string, Float32Array>, names: { name: string; hfName: string; shape: readonly number[] }[], useHf: boolean) {
  return names.map((s) => ({ name: useHf ? s.hfName : s.name, dtype: 'F32' as const, shape: [...s.shape], data: map.get(s.name)! }));
}

/** config.json and generation_config.json of a checkpoint (both engines write the same ones) */
export function checkpointConfigs(
  mc: ModelConfig,
  specials: { eos: number; mask: number | null },
): { config: Record<string, unknown>; generationConfig: Record<string, unknown> } {
  const extra = {
    eos_token_id: specials.eos,
    pad_token_id: specials.eos,
    ...(specials.mask !== null ? { mask_token_id: specials.mask } : {}),
  };
  return { config: toHfConfig(mc, extra), generationConfig: { eos_token_id: specials.eos, pad_token_id: specials.eos } };
}

export async function saveCheckpoint(
  dir: string,
  t: Trainer,
  tok: TokenizerFilesOnDisk,
  specials: { eos: number; mask: number | null },
  fs: DurableFs = nodeDurableFs,
): Promise<void> {
  // everything is serialised before the first write, so the files of one checkpoint describe one moment
  const files = checkpointConfigs(t.modelConfig, specials);
  const opt = [
    ...tensorsOf(t.optim.m, t.model.specs, false).map((x) => ({ ...x, name: `m.${x.name}` })),
    ...tensorsOf(t.optim.v, t.model.specs, false).map((x) => ({ ...x, name: `v.${x.name}` })),
  ];
  const state = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    step: t.state.step,
    tokens: t.state.tokens,
    elapsedMs: t.state.elapsedMs,
    rng: Array.from(t.state.rng),
    optimizerStep: t.optim.step,
    config: t.cfg,
  };
  const contents: [string, Uint8Array | string][] = [
    ['config.json', JSON.stringify(files.config, null, 2)],
    ['generation_config.json', JSON.stringify(files.generationConfig, null, 2)],
    ['model.safetensors', writeSafetensors(tensorsOf(t.model.params, t.model.specs, true), { format: 'pt' })],
    ['optimizer.safetensors', writeSafetensors(opt)],
    ['tokenizer.json', new Uint8Array(await readFile(tok.tokenizerJson))],
    ['tokenizer_config.json', new Uint8Array(await readFile(tok.tokenizerConfig))],
    ['trainer_state.json', JSON.stringify(state, null, 2)], // last: its presence marks a finished write
  ];
  await commitCheckpoint(
    dir,
    async (tmp) => {
      for (const [name, data] of contents) await fs.writeFile(join(tmp, name), data);
    },
    fs,
  );
}

/** trainer_state.json of a run's checkpoint, after recovering whatever an interrupted save left behind */
export async function readTrainerState(dir: string, fs: DurableFs = nodeDurableFs): Promise<TrainerStateFile> {
  const ckpt = await recoverCheckpoint(dir, fs);
  if (!ckpt) throw new Error(`${dir}: no checkpoint to resume (no complete ${join(dir, 'checkpoint')})`);
  const path = join(ckpt, 'trainer_state.json');
  return parseTrainerState(await readJsonFile(path), path);
}

/** every tensor of `specs` from a checkpoint file: present, F32, of the table's shape, and nothing else */
function loadTensors(path: string, specs: { name: string; spec: ParamSpec; dst: Float32Array }[], bytes: Uint8Array): void {
  const header = parseSafetensorsHeader(bytes, bytes.length, path);
  const wanted = new Set(specs.map((s) => s.name));
  for (const name of header.tensors.keys()) if (!wanted.has(name)) throw new Error(`${path}: unexpected tensor ${name}`);
  for (const { name, spec, dst } of specs) {
    const info = header.tensors.get(name);
    if (!info) throw new Error(`${path}: tensor ${name} is missing (the parameter table has ${spec.name} [${spec.shape}])`);
    // a relabelled dtype of the same width (F32 → I32/U32) passes every size check: only the label tells
    if (info.dtype !== 'F32') throw new Error(`${path}: tensor ${name} is ${info.dtype}; training checkpoints hold F32`);
    if (info.shape.join(',') !== spec.shape.join(','))
      throw new Error(`${path}: tensor ${name} has shape [${info.shape}], the parameter table has [${spec.shape}]`);
    dst.set(readTensor(bytes, header, name) as Float32Array);
  }
}

/** restore weights, optimizer moments, step counters and RNG state into a freshly built trainer */
export async function loadCheckpoint(dir: string, t: Trainer, fs: DurableFs = nodeDurableFs): Promise<void> {
  const s = await readTrainerState(dir, fs);
  const ckpt = join(dir, 'checkpoint');
  const specs = t.model.specs;
  const read = async (f: string) => new Uint8Array(await readFile(join(ckpt, f)));
  loadTensors(
    join(ckpt, 'model.safetensors'),
    specs.map((sp) => ({ name: sp.hfName, spec: sp, dst: t.model.p(sp.name) })),
    await read('model.safetensors'),
  );
  loadTensors(
    join(ckpt, 'optimizer.safetensors'),
    specs.flatMap((sp) => [
      { name: `m.${sp.name}`, spec: sp, dst: t.optim.m.get(sp.name)! },
      { name: `v.${sp.name}`, spec: sp, dst: t.optim.v.get(sp.name)! },
    ]),
    await read('optimizer.safetensors'),
  );
  t.optim.step = s.optimizerStep;
  // a torch-engine checkpoint keeps numpy's generator state, which this engine cannot continue: the same
  // weights and moments, and a fresh data order from the seed and step (what the torch engine does for ours)
  const rng = s.rng.length === 4 ? new Rng(Uint32Array.from(s.rng)) : new Rng((s.config.seed + s.step) >>> 0);
  t.state = { step: s.step, tokens: s.tokens, elapsedMs: s.elapsedMs, rng: rng.state() };
  t.rng = rng;
}

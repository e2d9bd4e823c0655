// Training checkpoints in Hugging Face layout, written atomically: everything goes into a temp folder that
// is renamed over `checkpoint/` (the previous one is renamed aside first, then removed), so a run killed at
// any moment leaves a complete checkpoint behind and loses at most checkpointEvery steps.
//   config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json
//   optimizer.safetensors (AdamW m, v), trainer_state.json (step, tokens, time, RNG state, TrainConfig)
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors, parseSafetensorsHeader, readTensor } from '../io/safetensors.js';
import { toHfConfig, type ModelConfig } from '../model/config.js';
import { numel } from '../model/params.js';
import type { Trainer } from '../train/loop.js';
import { Rng } from '../train/rng.js';
import { fileExists, readJsonFile } from '../platform/node-files.js';

export const CHECKPOINT_FORMAT = 'dllm-checkpoint';
export const CHECKPOINT_VERSION = 1;

export interface TokenizerFilesOnDisk { tokenizerJson: string; tokenizerConfig: string; }

function tensorsOf(map: Map<string, Float32Array>, names: { name: string; hfName: string; shape: readonly number[] }[], useHf: boolean) {
  return names.map((s) => ({ name: useHf ? s.hfName : s.name, dtype: 'F32' as const, shape: [...s.shape], data: map.get(s.name)! }));
}

/** config.json and generation_config.json of a checkpoint (both engines write the same ones) */
export function checkpointConfigs(mc: ModelConfig, specials: { eos: number; mask: number | null }): { config: Record<string, unknown>; generationConfig: Record<string, unknown> } {
  const extra = { eos_token_id: specials.eos, pad_token_id: specials.eos, ...(specials.mask !== null ? { mask_token_id: specials.mask } : {}) };
  return { config: toHfConfig(mc, extra), generationConfig: { eos_token_id: specials.eos, pad_token_id: specials.eos } };
}

export async function saveCheckpoint(dir: string, t: Trainer, tok: TokenizerFilesOnDisk, specials: { eos: number; mask: number | null }): Promise<void> {
  const final = join(dir, 'checkpoint'), tmp = join(dir, 'checkpoint.tmp'), old = join(dir, 'checkpoint.old');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const files = checkpointConfigs(t.modelConfig, specials);
  await writeFile(join(tmp, 'config.json'), JSON.stringify(files.config, null, 2));
  await writeFile(join(tmp, 'generation_config.json'), JSON.stringify(files.generationConfig, null, 2));
  await writeFile(join(tmp, 'model.safetensors'), writeSafetensors(tensorsOf(t.model.params, t.model.specs, true), { format: 'pt' }));
  const opt = [...tensorsOf(t.optim.m, t.model.specs, false).map((x) => ({ ...x, name: `m.${x.name}` })),
    ...tensorsOf(t.optim.v, t.model.specs, false).map((x) => ({ ...x, name: `v.${x.name}` }))];
  await writeFile(join(tmp, 'optimizer.safetensors'), writeSafetensors(opt));
  await writeFile(join(tmp, 'tokenizer.json'), await readFile(tok.tokenizerJson));
  await writeFile(join(tmp, 'tokenizer_config.json'), await readFile(tok.tokenizerConfig));
  const state = {
    format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, step: t.state.step, tokens: t.state.tokens,
    elapsedMs: t.state.elapsedMs, rng: Array.from(t.state.rng), optimizerStep: t.optim.step, config: t.cfg,
  };
  await writeFile(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2));
  await rm(old, { recursive: true, force: true });
  if (await fileExists(final)) await rename(final, old);
  await rename(tmp, final);
  await rm(old, { recursive: true, force: true });
}

export interface TrainerStateFile {
  format: string; version: number; step: number; tokens: number; elapsedMs: number; rng: number[]; optimizerStep: number;
  config: Record<string, unknown>;
}

export async function readTrainerState(dir: string): Promise<TrainerStateFile> {
  const path = join(dir, 'checkpoint', 'trainer_state.json');
  const s = (await readJsonFile(path)) as unknown as TrainerStateFile;
  if (s.format !== CHECKPOINT_FORMAT) throw new Error(`${path}: not a dllm checkpoint (format "${s.format}")`);
  if (s.version !== CHECKPOINT_VERSION) throw new Error(`${path}: checkpoint version ${s.version}, this dllm reads ${CHECKPOINT_VERSION}`);
  return s;
}

/** restore weights, optimizer moments, step counters and RNG state into a freshly built trainer */
export async function loadCheckpoint(dir: string, t: Trainer): Promise<void> {
  const s = await readTrainerState(dir);
  const load = async (file: string, target: (name: string) => Float32Array | undefined) => {
    const bytes = new Uint8Array(await readFile(join(dir, 'checkpoint', file)));
    const header = parseSafetensorsHeader(bytes);
    for (const [name, info] of header.tensors) {
      const dst = target(name);
      if (!dst) throw new Error(`${file}: unexpected tensor ${name}`);
      if (numel(info.shape) !== dst.length) throw new Error(`${file}: ${name} has shape [${info.shape}], the model needs ${dst.length} values`);
      dst.set(readTensor(bytes, header, name) as Float32Array);
    }
  };
  const byHf = new Map(t.model.specs.map((sp) => [sp.hfName, sp.name]));
  await load('model.safetensors', (n) => t.model.params.get(byHf.get(n) ?? ''));
  await load('optimizer.safetensors', (n) => (n.startsWith('m.') ? t.optim.m.get(n.slice(2)) : n.startsWith('v.') ? t.optim.v.get(n.slice(2)) : undefined));
  t.optim.step = s.optimizerStep;
  t.state = { step: s.step, tokens: s.tokens, elapsedMs: s.elapsedMs, rng: Uint32Array.from(s.rng) };
  t.rng = new Rng(Uint32Array.from(s.rng));
}

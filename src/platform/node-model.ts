// Open a checkpoint folder on disk and load everything dllm needs from it: weights (model/load.ts),
// tokenizer and special ids (tokenizer/), into a Transformer on the given kernels.
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { JSON_LIMITS } from '../io/json-limits.js';
import type { Kernels } from '../kernels/backend.js';
import type { CheckpointFiles, LoadOptions } from '../model/load.js';
import { loadTokenizer, loadWeights } from '../model/load.js';
export { loadTokenizer } from '../model/load.js';
import { createRefKernels } from '../kernels/ref/index.js';
import { Transformer } from '../model/forward.js';
import type { ModelConfig } from '../model/config.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { FileByteSource, fileExists, readJsonFile } from './node-files.js';

export function folderFiles(dir: string): CheckpointFiles {
  return {
    where: dir,
    async json(name) {
      const p = join(dir, name);
      return (await fileExists(p)) ? readJsonFile(p, name === 'tokenizer.json' ? JSON_LIMITS.tokenizer : JSON_LIMITS.default) : null;
    },
    async open(name) {
      const p = join(dir, name);
      if (!(await fileExists(p))) throw new Error(`${p} is missing`);
      return FileByteSource.open(p);
    },
    exists: (name) => fileExists(join(dir, name)),
  };
}

export interface LoadedModel {
  dir: string;
  config: ModelConfig;
  model: Transformer;
  tokenizer: TextTokenizer | null;
  weightBytes: number;
  checkpointDtypes: string[];
  loadMs: number;
}

export async function loadModelDir(dir: string, kernels: Kernels, opts: LoadOptions = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  if (!(await fileExists(dir))) throw new Error(`model folder ${dir} does not exist`);
  const files = folderFiles(dir);
  // refused before allocation when it cannot fit in this machine's memory (not after minutes of swapping)
  const loaded = await loadWeights(files, kernels, { memoryBytes: totalmem(), ...opts });
  const tokenizer = await loadTokenizer(files);
  return {
    dir,
    config: loaded.config,
    model: new Transformer(loaded.config, kernels, loaded.weights),
    tokenizer,
    weightBytes: loaded.bytes,
    checkpointDtypes: [...loaded.dtypes],
    loadMs: performance.now() - t0,
  };
}

/** f32 weights of a checkpoint folder by our parameter names (F32/F16/BF16 on disk, widened) */
export async function loadF32Weights(dir: string): Promise<{ config: ModelConfig; weights: Map<string, Float32Array> }> {
  if (!(await fileExists(dir))) throw new Error(`model folder ${dir} does not exist`);
  const loaded = await loadWeights(folderFiles(dir), createRefKernels(), { dtype: 'f32', memoryBytes: totalmem() });
  const weights = new Map<string, Float32Array>();
  for (const [name, w] of loaded.weights) {
    if (w.kind !== 'f32') throw new Error(`${name}: expected f32 weights after loading`);
    weights.set(name, w.data);
  }
  return { config: loaded.config, weights };
}

/** tokenizer.json with its config files (special ids from the checkpoint), or null when there is none */

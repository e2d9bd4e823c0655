// Open a checkpoint folder on disk and load everything dllm needs from it: weights (model/load.ts),
// tokenizer and special ids (tokenizer/), into a Transformer on the given kernels. A llama.cpp GGUF file
// (FILE.gguf: F32, F16, BF16, Q8_0, Q4_0 or Q4_K tensors, decoded to f32, then stored at the dtype asked for)
// opens the same way; its tokenizer is rebuilt from its metadata, or read from a tokenizer.json beside it.
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { JSON_LIMITS } from '../io/json-limits.js';
import type { Kernels } from '../kernels/backend.js';
import type { CheckpointFiles, LoadOptions } from '../model/load.js';
import { f32Tensors, loadTokenizer, loadWeights } from '../model/load.js';
export { loadTokenizer } from '../model/load.js';
import { createRefKernels } from '../kernels/ref/index.js';
import { Transformer } from '../model/forward.js';
import type { ModelConfig } from '../model/config.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { FileByteSource, fileExists, readJsonFile } from './node-files.js';
import { metaString } from '../io/gguf.js';
import { modelFromGguf } from '../model/gguf-map.js';
import { ggufSpecialFiles, tokenizerFilesFromGguf } from '../model/gguf-tokenizer.js';
import { parameterTable } from '../model/params.js';
import { storeWeight, weightBytes, type Weights } from '../model/weights.js';
import { dirname } from 'node:path';

/** a path to a llama.cpp GGUF file rather than a checkpoint folder */
export const isGgufFile = (path: string): boolean => path.toLowerCase().endsWith('.gguf');

/** a GGUF file's config, f32 tensors by our names, and tokenizer (a tokenizer.json beside it wins) */
async function readGgufFile(
  path: string,
): Promise<{ config: ModelConfig; tensors: Map<string, Float32Array>; tokenizer: TextTokenizer | null }> {
  if (!(await fileExists(path))) throw new Error(`model file ${path} does not exist`);
  const src = await FileByteSource.open(path);
  try {
    const g = await modelFromGguf(src, path);
    const template = g.metadata.has('tokenizer.chat_template') ? metaString(g.metadata, 'tokenizer.chat_template') : null;
    // a tokenizer.json beside the file wins (with the GGUF's special ids where no config file beside names them)
    const near = folderFiles(dirname(path)),
      besideJson = await near.json('tokenizer.json');
    let tokenizer: TextTokenizer | null = null;
    if (besideJson) {
      const own = g.tokenizer ? ggufSpecialFiles(g.tokenizer, template) : { tokenizerConfig: {}, generationConfig: {} };
      tokenizer = new TextTokenizer({
        tokenizerJson: besideJson,
        tokenizerConfig: (await near.json('tokenizer_config.json')) ?? own.tokenizerConfig,
        generationConfig: (await near.json('generation_config.json')) ?? own.generationConfig,
      });
    } else if (g.tokenizer) tokenizer = new TextTokenizer(tokenizerFilesFromGguf(g.tokenizer, template, path));
    return { config: g.config, tensors: g.tensors, tokenizer };
  } finally {
    await src.close();
  }
}

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
  if (isGgufFile(dir)) {
    const g = await readGgufFile(dir),
      dtype = opts.dtype ?? 'f32';
    const weights: Weights = new Map(
      parameterTable(g.config).map((spec) => [spec.name, storeWeight(kernels, spec, g.tensors.get(spec.name)!, dtype)]),
    );
    return {
      dir,
      config: g.config,
      model: new Transformer(g.config, kernels, weights),
      tokenizer: g.tokenizer,
      weightBytes: [...weights.values()].reduce((a, w) => a + weightBytes(w), 0),
      checkpointDtypes: ['gguf'],
      loadMs: performance.now() - t0,
    };
  }
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
  if (isGgufFile(dir)) {
    const g = await readGgufFile(dir);
    return { config: g.config, weights: g.tensors };
  }
  if (!(await fileExists(dir))) throw new Error(`model folder ${dir} does not exist`);
  const loaded = await loadWeights(folderFiles(dir), createRefKernels(), { dtype: 'f32', memoryBytes: totalmem() });
  return { config: loaded.config, weights: f32Tensors(loaded) };
}

/** tokenizer.json with its config files (special ids from the checkpoint), or null when there is none */

/** f32 weights and the tokenizer of a checkpoint folder or a GGUF file (ONNX Runtime builds its graph from these) */
export async function loadF32Model(
  path: string,
): Promise<{ config: ModelConfig; weights: Map<string, Float32Array>; tokenizer: TextTokenizer | null }> {
  if (isGgufFile(path)) {
    const g = await readGgufFile(path);
    return { config: g.config, weights: g.tensors, tokenizer: g.tokenizer };
  }
  const { config, weights } = await loadF32Weights(path);
  return { config, weights, tokenizer: await loadTokenizer(folderFiles(path)) };
}

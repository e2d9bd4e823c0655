// Load a Hugging Face checkpoint folder: config.json (each family's field names, config.ts), the weights
// from model.safetensors or the shards of model.safetensors.index.json, read tensor by tensor through a
// ByteSource (an 8B checkpoint is never copied whole into the JS heap), converted from F32/F16/BF16 to the
// requested storage (f32, f16 → f32 compute, or q8 weight-only int8). Tokenizer files are loaded beside it.
// No file access here: the caller passes a CheckpointFiles (platform/node-model.ts opens a folder).
import type { Kernels } from '../kernels/backend.js';
import {
  parseShardIndex,
  readSafetensorsHeader,
  readTensorFrom,
  type ByteSource,
  type SafetensorsHeader,
  type TensorInfo,
} from '../io/safetensors.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { parseHfConfig, type ModelConfig } from './config.js';
import { planWeights } from './load-check.js';
import { numel } from './params.js';
import { storeWeight, weightBytes, type WeightDtype, type Weights } from './weights.js';

export interface CheckpointFiles {
  /** a JSON file of the folder, or null when absent */
  json(name: string): Promise<Record<string, unknown> | null>;
  /** open a binary file of the folder; throws a clear error when missing */
  open(name: string): Promise<ByteSource & { close?(): Promise<void> }>;
  exists(name: string): Promise<boolean>;
  /** for messages */
  where: string;
}

export interface LoadedWeights {
  config: ModelConfig;
  weights: Weights;
  /** bytes held by the weights (after conversion) and checkpoint dtypes seen */
  bytes: number;
  dtypes: Set<string>;
}

/** weights kept in the kernels' memory by default; the rest stay on the JS heap (a wasm32 memory holds at most 4 GiB) */
export const DEFAULT_RESIDENT_BYTES = 2.5 * 2 ** 30;

export interface LoadOptions {
  dtype?: WeightDtype;
  /** keep weights in kernel memory up to this many bytes (wasm32: 4 GiB total); beyond, plain arrays */
  residentBytes?: number;
  /** refuse (before allocating) a model whose weights and RoPE tables need more than this; platform/ passes the RAM */
  memoryBytes?: number;
  onProgress?(done: number, total: number, name: string): void;
}

/** convert one tensor's raw values (F32 / F16 / BF16 bit patterns) to f32 */
export function toF32(raw: ArrayBufferView, dtype: string, k: Kernels, where: string): Float32Array {
  if (dtype === 'F32') return raw as Float32Array;
  if (dtype !== 'F16' && dtype !== 'BF16') throw new Error(`${where}: dtype ${dtype} is not a float dtype dllm loads (F32, F16, BF16)`);
  const src = raw as Uint16Array,
    out = new Float32Array(src.length);
  if (dtype === 'BF16') k.bf16ToF32(out, src, src.length);
  else k.f16ToF32(out, src, src.length);
  return out;
}

export async function loadWeights(files: CheckpointFiles, k: Kernels, opts: LoadOptions = {}): Promise<LoadedWeights> {
  const cfgJson = await files.json('config.json');
  if (!cfgJson) throw new Error(`${files.where}: config.json is missing`);
  const config = parseHfConfig(cfgJson, `${files.where}/config.json`);
  // tensor name → shard file
  let shardOf: (name: string) => string = () => 'model.safetensors';
  let shardFiles = ['model.safetensors'];
  const index = await files.json('model.safetensors.index.json');
  if (index) {
    const map = parseShardIndex(index, `${files.where}/model.safetensors.index.json`);
    shardFiles = [...new Set(map.values())];
    shardOf = (name) => {
      const f = map.get(name);
      if (!f) throw new Error(`${files.where}: tensor ${name} is not in model.safetensors.index.json`);
      return f;
    };
  } else if (!(await files.exists('model.safetensors'))) {
    throw new Error(`${files.where}: neither model.safetensors nor model.safetensors.index.json is there`);
  }
  const shards = new Map<string, { src: ByteSource & { close?(): Promise<void> }; header: SafetensorsHeader }>();
  const shard = async (file: string) => {
    let s = shards.get(file);
    if (!s) {
      const src = await files.open(file).catch((e: Error) => {
        throw new Error(`${files.where}: shard ${file} cannot be opened (${e.message})`);
      });
      let header: SafetensorsHeader;
      try {
        header = await readSafetensorsHeader(src, `${files.where}/${file}`);
      } catch (e) {
        await src.close?.();
        throw e;
      }
      s = { src, header };
      shards.set(file, s);
    }
    return s;
  };
  const dtype = opts.dtype ?? 'f32';
  const budget = opts.residentBytes ?? DEFAULT_RESIDENT_BYTES;
  const weights: Weights = new Map();
  const dtypes = new Set<string>();
  let bytes = 0;
  try {
    // every header first (small and bounded), so config.json is checked against all tensors before any is read
    const all = new Map<string, TensorInfo & { file: string }>();
    for (const file of shardFiles) {
      for (const [name, info] of (await shard(file)).header.tensors) all.set(name, { ...info, file: `${files.where}/${file}` });
    }
    const { specs } = planWeights(config, all, `${files.where}/config.json`, dtype, opts.memoryBytes);
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      const file = shardOf(spec.hfName);
      const { src, header } = await shard(file);
      const info = header.tensors.get(spec.hfName);
      const where = `${files.where}/${file}: ${spec.hfName}`;
      if (!info) throw new Error(`${files.where}/${file}: tensor ${spec.hfName} (${spec.name}) is missing`);
      dtypes.add(info.dtype);
      const f32 = toF32(await readTensorFrom(src, header, spec.hfName), info.dtype, k, where);
      if (f32.length !== numel(spec.shape)) throw new Error(`${where}: ${f32.length} values, expected ${numel(spec.shape)}`);
      const w = storeWeight(bytes < budget ? k : null, spec, f32, dtype);
      bytes += weightBytes(w);
      weights.set(spec.name, w);
      opts.onProgress?.(i + 1, specs.length, spec.name);
    }
  } finally {
    for (const s of shards.values()) await s.src.close?.();
  }
  return { config, weights, bytes, dtypes };
}

/** the f32 tensors of weights loaded with dtype 'f32' (what ONNX Runtime's graph builder reads) */
export function f32Tensors(loaded: LoadedWeights): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, w] of loaded.weights) {
    if (w.kind !== 'f32') throw new Error(`${name}: expected f32 weights after loading, got ${w.kind}`);
    out.set(name, w.data);
  }
  return out;
}

/** the tokenizer of a checkpoint (tokenizer.json + tokenizer_config / config / generation_config where present), or null */
export async function loadTokenizer(files: CheckpointFiles): Promise<TextTokenizer | null> {
  const tokenizerJson = await files.json('tokenizer.json');
  if (!tokenizerJson) return null;
  const [tokenizerConfig, modelConfig, generationConfig] = await Promise.all(
    ['tokenizer_config.json', 'config.json', 'generation_config.json'].map((n) => files.json(n)),
  );
  return new TextTokenizer({
    tokenizerJson,
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    ...(modelConfig ? { modelConfig } : {}),
    ...(generationConfig ? { generationConfig } : {}),
  });
}

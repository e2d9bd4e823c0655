// Before a single weight is allocated: does config.json agree with the tensors the files hold, and does the
// model fit in memory? Both from the safetensors headers alone (already bounded in size and entry count), so
// a config.json that claims a billion layers or a billion positions is refused in milliseconds, naming the
// file and the field, instead of building a billion-entry parameter table until V8 aborts.
import type { TensorInfo } from '../io/safetensors.js';
import { hfFieldName, type Arch, type ModelConfig } from './config.js';
import { numel, parameterTable, type ParamSpec } from './params.js';
import { Q4_BLOCK } from '../kernels/quantize.js';
import { storageOf, type WeightDtype } from './weights.js';

const HF_LAYERS = /^model\.layers\.(\d+)\./;
const LAYER_PREFIX: Readonly<Record<Arch, RegExp>> = {
  llada: /^model\.transformer\.blocks\.(\d+)\./,
  dream: HF_LAYERS,
  llama: HF_LAYERS,
  lladamoe: HF_LAYERS,
  llada2: HF_LAYERS,
};
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export interface WeightsPlan {
  specs: ParamSpec[];
  /** bytes the weights take once loaded at the requested dtype, plus the RoPE table */
  bytes: number;
}

const gb = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

/**
 * `tensors`: every tensor of the checkpoint's files by name (with the file it is in, for messages);
 * `configWhere`: how to name config.json in errors. Throws on the first disagreement.
 */
export function planWeights(
  config: ModelConfig,
  tensors: ReadonlyMap<string, TensorInfo & { file: string }>,
  configWhere: string,
  dtype: WeightDtype,
  memoryBytes = Infinity,
): WeightsPlan {
  const field = (k: keyof ModelConfig) => `"${hfFieldName(config.arch, k)}"`;
  // the layer count first: it sizes the parameter table itself
  let layers = 0;
  for (const name of tensors.keys()) {
    const m = LAYER_PREFIX[config.arch].exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (config.numLayers > layers) {
    throw new Error(
      `${configWhere}: ${field('numLayers')} is ${config.numLayers}, but the weights hold ${layers} layer${layers === 1 ? '' : 's'}`,
    );
  }
  const specs = parameterTable(config);
  let bytes = 4 * config.maxPositions * config.headDim; // RoPE cos and sin tables, (P, D/2) f32 each
  let largest = 0;
  for (const spec of specs) {
    const info = tensors.get(spec.hfName);
    if (!info) continue; // the loader names the missing tensor and its shard
    if (info.shape.join(',') !== spec.shape.join(',')) {
      const hint =
        spec.name === 'tokEmbed' || spec.name === 'lmHead'
          ? ` (${field('vocabSize')} ${config.vocabSize}, ${field('hiddenSize')} ${config.hiddenSize})`
          : '';
      throw new Error(`${info.file}: ${spec.hfName} has shape [${info.shape}], config.json implies [${spec.shape}]${hint}`);
    }
    if (!FLOAT_DTYPES.has(info.dtype))
      throw new Error(`${info.file}: ${spec.hfName}: dtype ${info.dtype} is not a float dtype dllm loads (F32, F16, BF16)`);
    const n = numel(spec.shape);
    bytes += storedBytes(spec, dtype, n);
    largest = Math.max(largest, n * 4 + info.byteLength); // one tensor in flight: its bytes and their f32 copy
  }
  const rope = 4 * config.maxPositions * config.headDim;
  if (bytes + largest > memoryBytes) {
    if (rope > bytes - rope) {
      // the positions, not the weights, are what does not fit
      throw new Error(
        `${configWhere}: ${field('maxPositions')} is ${config.maxPositions}: with its RoPE tables (${gb(rope)}) the model needs ${gb(bytes + largest)}, this machine has ${gb(memoryBytes)}`,
      );
    }
    throw new Error(
      `${configWhere}: the model needs ${gb(bytes + largest)} at dtype ${dtype}, this machine has ${gb(memoryBytes)}` +
        (dtype === 'q4' ? '' : dtype === 'q8' ? ' (try --dtype q4)' : ' (try --dtype q8 or q4)'),
    );
  }
  return { specs, bytes };
}

/** bytes a tensor of n values takes at `dtype` (weights.ts storeWeight's choices) */
function storedBytes(spec: ParamSpec, dtype: WeightDtype, n: number): number {
  const as = storageOf(spec, dtype);
  if (as === 'f32') return 4 * n;
  if (as === 'f16') return 2 * n;
  if (as === 'q4') return n / 2 + (4 * n) / Q4_BLOCK;
  return n + 4 * spec.shape[0]!; // q8: a byte per value, an f32 scale per row
}

// dllm's public library surface (browser-safe: nothing here imports node:*). Node.js users also import
// `createKernels` from 'dllm/node', which wires the WebAssembly engine to worker_threads and the file system.
export type { Kernels, AttentionShape, MaskKind, AdamWParams } from './kernels/backend.js';
export { selectKernels, type KernelOptions } from './kernels/select.js';
export { createRefKernels } from './kernels/ref/index.js';
export { createWasmKernels, type WasmPlatform, type WasmOptions, type WasmVariant } from './kernels/wasm/load.js';
export { workerLoop, type PoolWorkerData } from './kernels/wasm/protocol.js';
export { ropeTable, type RopeTable } from './kernels/rope-table.js';
export { quantizeQ8, type Q8Weights } from './kernels/quantize.js';
export { VERSION } from './version.js';
export * from './sampler/index.js';
export { parseHfConfig, toHfConfig, type ModelConfig, type Arch } from './model/config.js';
export { parameterTable, parameterCount, type ParamSpec } from './model/params.js';
export { Transformer, type ForwardInput, type KVCache } from './model/forward.js';
export { DiffusionLM, type CacheMode } from './model/diffusion-lm.js';
export { CausalLM } from './model/causal-lm.js';
export { loadWeights, type CheckpointFiles, type LoadOptions } from './model/load.js';
export { TextTokenizer, type SpecialTokens, type ChatMessage } from './tokenizer/index.js';
export {
  TextGenerator,
  TEXT_DEFAULTS,
  fimIds,
  type TextOptions,
  type TextStep,
  type Completion,
  type ModelKind,
} from './text/generator.js';

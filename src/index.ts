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

// 'dllm/web': the library plus the browser platform (WASM engine on Web Workers, files over fetch). The
// package's browser bundle (build/web/dllm.js, scripts/build-web.mjs) is this module with its dependencies;
// kernels-*.wasm and dllm-pool-worker.js lie beside it. Nothing reachable from here imports node:*
// (test/arch/imports.test.ts walks the graph).
export * from './index.js';
export { createKernels, webWasmPlatform, canShareMemory, type WebKernelOptions } from './platform/web.js';
export { WebGpuTransformer, requestGpuDevice, webGpuUnsupported } from './webgpu/forward.js';
export { loadModel, parseWebLoadOptions, loadTokenizerFiles, type WebLoadOptions } from './platform/web-generator.js';
export {
  fetchFiles,
  blobFiles,
  modelFiles,
  readBody,
  type FileProgress,
  type ModelSource,
  type ModelFileMap,
  type ProgressCallback,
} from './platform/web-files.js';
export {
  decodeFrames,
  type StepFrame,
  type FinalFrame,
  type FrameCell,
  type FrameInput,
  type FrameTimings,
} from './platform/web-stream.js';

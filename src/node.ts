// 'dllm/node': the library plus the Node.js platform (WASM engine on worker_threads, files).
export * from './index.js';
export { createKernels, nodeWasmPlatform } from './platform/node.js';
export { loadModelDir, folderFiles, type LoadedModel } from './platform/node-model.js';
export { loadModel, resolveModel, DEFAULT_MODEL, type LoadModelOptions } from './platform/node-generator.js';
export { fetchModel, type FetchModelOptions } from './platform/node-generator.js';
export {
  pullModel,
  ensureHubModel,
  HubError,
  type PullOptions,
  type PullProgress,
  type PullResult,
  type PullFile,
} from './platform/node-hub.js';
export { hubEnv, cachedModel, isHubId, type HubEnv } from './platform/node-hub-cache.js';

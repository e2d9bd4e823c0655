// Entry of a pool worker in the browser (a module Web Worker; scripts/build-web.mjs bundles it as
// dllm-pool-worker.js): the first message carries the compiled module and the shared memory; then it serves
// kernel jobs until the pool stops. Workers may Atomics.wait, so an idle one sleeps instead of spinning.
import { workerLoop, type PoolWorkerData } from '../kernels/wasm/protocol.js';

addEventListener(
  'message',
  (e: MessageEvent<PoolWorkerData>) => {
    workerLoop(e.data);
  },
  { once: true },
);

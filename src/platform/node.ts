// Node.js side of the engine: reads the built .wasm files, turns on relaxed SIMD in Node 20 (where V8 has it
// behind a flag; on by default from Node 22), and runs pool workers on worker_threads.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../kernels/backend.js';
import { selectKernels, type KernelOptions } from '../kernels/select.js';
import type { WasmPlatform, WasmVariant } from '../kernels/wasm/load.js';
import type { PoolWorkerData } from '../kernels/wasm/protocol.js';

// build/src/platform/node.js → build/wasm/
const wasmDir = new URL('../../wasm/', import.meta.url);
const workerUrl = new URL('./node-pool-worker.js', import.meta.url);

let relaxedFlagSet = false;

export const nodeWasmPlatform: WasmPlatform = {
  async loadWasm(variant: WasmVariant): Promise<Uint8Array<ArrayBuffer>> {
    const path = fileURLToPath(new URL(`kernels-${variant}.wasm`, wasmDir));
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      throw new Error(`kernels: cannot read ${path} (${(e as Error).message}); run \`npm run build:wasm\``);
    }
  },
  enableRelaxedSimd(): void {
    if (relaxedFlagSet) return;
    // must happen before the module is compiled; harmless where the feature is already on
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    relaxedFlagSet = true;
  },
  spawnWorker(data: PoolWorkerData) {
    const w = new Worker(workerUrl, { workerData: data });
    w.unref(); // an idle pool must not keep the process alive
    w.on('error', (e) => {
      throw e;
    });
    return w;
  },
  hardwareThreads: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
  canBlock: true,
};

/** The kernels for this Node.js process: WASM SIMD on all cores unless options say otherwise. */
export function createKernels(opts: KernelOptions = {}): Promise<Kernels> {
  return selectKernels(nodeWasmPlatform, opts);
}

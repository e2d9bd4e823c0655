// The browser side of the engine (no node:* here): the WebAssembly kernels fetched beside the bundle, and the
// thread pool on Web Workers over a shared WebAssembly.Memory. Shared memory needs a cross-origin isolated
// page (the server sends Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy:
// require-corp); without it `crossOriginIsolated` is false, SharedArrayBuffer is missing and the kernels run
// on the calling thread alone, on unshared memory (load.ts picks that variant by itself).
import type { Kernels } from '../kernels/backend.js';
import { selectKernels, type KernelOptions } from '../kernels/select.js';
import type { WasmPlatform, WasmVariant } from '../kernels/wasm/load.js';
import type { PoolWorkerData } from '../kernels/wasm/protocol.js';
import { folderUrl } from './web-files.js';

/**
 * The bundle's files, beside it (scripts/build-web.mjs lays them out in build/web/). Literal
 * `new URL('./…', import.meta.url)` expressions, so that an application's bundler (Vite, webpack) sees and
 * copies them too.
 */
const BUNDLED_WASM: Readonly<Record<WasmVariant, () => URL>> = {
  'relaxed-shared': () => new URL('./kernels-relaxed-shared.wasm', import.meta.url),
  'simd-shared': () => new URL('./kernels-simd-shared.wasm', import.meta.url),
  relaxed: () => new URL('./kernels-relaxed.wasm', import.meta.url),
  simd: () => new URL('./kernels-simd.wasm', import.meta.url),
};
const bundledWorker = () => new URL('./dllm-pool-worker.js', import.meta.url);

export interface WebKernelOptions extends KernelOptions {
  /** where kernels-*.wasm and dllm-pool-worker.js are (default: beside the bundle) */
  assets?: string | URL;
  /** the fetch to read the .wasm with (default globalThis.fetch) */
  fetch?: typeof fetch;
}

/** whether this page can run the pool: shared memory exists only in a cross-origin isolated context */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && (typeof crossOriginIsolated === 'undefined' || crossOriginIsolated);
}

/** a window's main thread may not Atomics.wait (it spins instead); a worker may */
function mayBlock(): boolean {
  return typeof document === 'undefined';
}

/** the platform for this page; `workerErrors` collects what failed in a pool worker (shown instead of a timeout) */
export function webWasmPlatform(o: Pick<WebKernelOptions, 'assets' | 'fetch'> = {}, workerErrors: string[] = []): WasmPlatform {
  const at = (file: string, bundled: () => URL) => (o.assets !== undefined ? new URL(file, folderUrl(o.assets)) : bundled());
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const threads = typeof navigator !== 'undefined' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1;
  return {
    async loadWasm(variant: WasmVariant): Promise<Uint8Array<ArrayBuffer>> {
      const url = at(`kernels-${variant}.wasm`, BUNDLED_WASM[variant]);
      let res: Response;
      try {
        res = await doFetch(url);
      } catch (e) {
        throw new Error(`kernels: cannot fetch ${url} (${(e as Error).message})`);
      }
      if (!res.ok) throw new Error(`kernels: ${url} answered HTTP ${res.status}; serve build/web/ beside the bundle or pass { assets }`);
      return new Uint8Array(await res.arrayBuffer());
    },
    spawnWorker:
      typeof Worker === 'undefined'
        ? null
        : (data: PoolWorkerData) => {
            const w = new Worker(at('dllm-pool-worker.js', bundledWorker), { type: 'module', name: `dllm-pool-${data.tid}` });
            w.addEventListener('error', (e) => {
              workerErrors.push(
                e.message || `pool worker ${data.tid} failed to start (is dllm-pool-worker.js served with the page's COEP header?)`,
              );
            });
            w.postMessage(data); // the module and the shared memory travel by structured clone
            return w;
          },
    hardwareThreads: threads,
    canBlock: mayBlock(),
  };
}

/**
 * The kernels for this page: WASM SIMD, threaded over Web Workers when the page is cross-origin isolated,
 * else on the calling thread alone. `threads` counts the calling thread (default: all hardware threads).
 */
export async function createKernels(opts: WebKernelOptions = {}): Promise<Kernels> {
  const { assets, fetch: f, ...kernelOpts } = opts;
  const errors: string[] = [];
  const platform = webWasmPlatform({ ...(assets !== undefined ? { assets } : {}), ...(f ? { fetch: f } : {}) }, errors);
  const threads = canShareMemory() ? kernelOpts.threads : 1;
  const want = { ...kernelOpts, ...(threads !== undefined ? { threads } : {}) };
  // a worker that cannot load never reports ready; say why within a second instead of the pool's 30 s timeout
  let timer: ReturnType<typeof setInterval> | undefined;
  const failed = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      if (errors.length) reject(new Error(`kernels: a pool worker failed: ${errors[0]}`));
    }, 200);
  });
  const made =
    canShareMemory() || want.memoryBytes !== undefined || want.backend === 'ref'
      ? selectKernels(platform, want)
      : unsharedKernels(platform, want);
  try {
    return await Promise.race([made, failed]);
  } catch (e) {
    void made.then(
      (k) => k.dispose(),
      () => {},
    );
    throw e;
  } finally {
    clearInterval(timer);
  }
}

/** unshared memory is reserved whole at creation: a phone may refuse 1 GiB, so ask for less before giving up */
const UNSHARED_BYTES = [2 ** 30, 2 ** 29, 2 ** 28];

async function unsharedKernels(platform: WasmPlatform, want: KernelOptions): Promise<Kernels> {
  let last: unknown = null;
  for (const memoryBytes of UNSHARED_BYTES) {
    try {
      return await selectKernels(platform, { ...want, backend: 'wasm', memoryBytes });
    } catch (e) {
      last = e;
      if (!(e instanceof RangeError)) break; // only an allocation refused is worth a smaller try
    }
  }
  if (want.backend === 'wasm') throw last;
  return selectKernels(null, { backend: 'ref' }); // auto: as selectKernels does, the reference kernels still work
}

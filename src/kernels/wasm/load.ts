// Instantiate the kernels module: pick the variant the runtime can run (relaxed SIMD if it validates, else
// plain SIMD128; shared memory + workers if available, else one thread on unshared memory), then start the pool.
import { Arena } from './arena.js';
import { WasmKernels, type WasmConstants } from './engine.js';
import { ThreadPool, type SpawnWorker } from './pool.js';

export type WasmVariant = 'relaxed-shared' | 'simd-shared' | 'relaxed' | 'simd';

/** What the platform layer (platform/node.ts, a browser page) supplies. */
export interface WasmPlatform {
  loadWasm(variant: WasmVariant): Promise<Uint8Array<ArrayBuffer>>;
  /** Node 20 needs a V8 flag before relaxed-SIMD modules validate; browsers need nothing */
  enableRelaxedSimd?: () => void;
  spawnWorker: SpawnWorker | null;
  hardwareThreads: number;
  /** whether the calling thread may Atomics.wait (not a browser main thread) */
  canBlock: boolean;
}

export interface WasmOptions {
  /** total threads including the caller; default: all hardware threads */
  threads?: number;
  /** 'auto' uses relaxed SIMD (FMA) where it validates */
  simd?: 'auto' | 'relaxed' | 'plain';
  /** unshared (single-thread) memory is fixed at creation; default 1 GiB */
  memoryBytes?: number;
}

const PAGE = 65536;
const MAX_PAGES = 65536; // wasm32: 4 GiB

function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** unshared memory cannot grow without detaching every view, so it is created at its final size */
function fixedMemory(pages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: pages });
}

export async function createWasmKernels(platform: WasmPlatform, opts: WasmOptions = {}): Promise<WasmKernels> {
  const threads = Math.max(1, Math.floor(opts.threads ?? platform.hardwareThreads));
  const shared = threads > 1 && platform.spawnWorker !== null && sharedMemoryAvailable();
  const simd = opts.simd ?? 'auto';
  if (simd !== 'plain') platform.enableRelaxedSimd?.();
  let bytes: Uint8Array<ArrayBuffer> | null = null;
  let relaxed = false;
  if (simd !== 'plain') {
    const candidate = await platform.loadWasm(shared ? 'relaxed-shared' : 'relaxed');
    if (WebAssembly.validate(candidate)) {
      bytes = candidate;
      relaxed = true;
    } else if (simd === 'relaxed') throw new Error('kernels: relaxed SIMD was requested but this runtime does not validate it');
  }
  if (!bytes) {
    bytes = await platform.loadWasm(shared ? 'simd-shared' : 'simd');
    if (!WebAssembly.validate(bytes)) throw new Error('kernels: this runtime has no WebAssembly SIMD128');
  }
  const module = await WebAssembly.compile(bytes);
  const memory = shared
    ? new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true })
    : fixedMemory(Math.min(MAX_PAGES, Math.ceil((opts.memoryBytes ?? 2 ** 30) / PAGE)));
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const pool = new ThreadPool(
    instance,
    shared ? { module, memory } : null,
    threads,
    shared ? platform.spawnWorker : null,
    platform.canBlock,
  );
  await pool.ready();
  const g = (name: string): number => (instance.exports[name] as WebAssembly.Global).value as number;
  const constants: WasmConstants = {
    MC: g('MC'),
    NC: g('NC'),
    GEMV_MAX_ROWS: g('GEMV_MAX_ROWS'),
    GEMV_COLS: g('GEMV_COLS'),
    CHUNK: g('CHUNK'),
    MATMUL_SCRATCH_BYTES: g('MATMUL_SCRATCH_BYTES'),
  };
  return new WasmKernels(relaxed ? 'wasm-relaxed-simd' : 'wasm-simd', new Arena(memory, shared), pool, constants);
}

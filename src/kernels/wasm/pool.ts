// The dispatching side of the thread pool: one persistent set of workers over a shared WebAssembly.Memory.
// The calling thread takes part in every op (it is thread 0), so `threads` = workers + 1. Without shared
// memory (a browser page that is not cross-origin isolated) the pool is just the calling thread.
import {
  CONTROL_SLOTS,
  DONE,
  GEN,
  GRAIN,
  ITEMS,
  MAX_ARGS,
  OP,
  READY,
  SLEEPERS,
  STOP,
  runChunks,
  taskTable,
  type PoolShared,
  type PoolWorkerData,
  type TaskFn,
  type TaskName,
  TASK_NAMES,
} from './protocol.js';

/** What the platform layer provides: start a worker that runs workerLoop(data), and stop it. */
/** rows per claim for row ops: ~16K floats of work per chunk amortises a claim (~100 ns) */
export const ROW_WORK = 16384;

export interface WorkerHandle {
  terminate(): void;
}
export type SpawnWorker = (data: PoolWorkerData) => WorkerHandle;

/** main-thread spin iterations while waiting for workers to finish their last chunks, before sleeping */
const MAIN_SPIN_ITERATIONS = 100000;

export class ThreadPool {
  readonly threads: number;
  private readonly tasks: TaskFn[];
  private readonly control: Int32Array; // (CONTROL_SLOTS)
  private readonly claim: BigInt64Array; // (1)
  private readonly args: Float64Array; // (MAX_ARGS)
  private readonly workers: WorkerHandle[] = [];
  private readonly canBlock: boolean;
  private gen = 0;
  /** ops dispatched to workers vs run inline on the calling thread (small ops skip dispatch) */
  readonly stats = { dispatched: 0, inline: 0 };

  constructor(
    instance: WebAssembly.Instance,
    shared: Omit<PoolShared, 'control' | 'claim' | 'args'> | null,
    threads: number,
    spawn: SpawnWorker | null,
    canBlock: boolean,
  ) {
    this.tasks = taskTable(instance);
    this.canBlock = canBlock;
    const sab = (n: number) => (typeof SharedArrayBuffer !== 'undefined' ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
    this.control = new Int32Array(sab(CONTROL_SLOTS * 4));
    this.claim = new BigInt64Array(sab(8));
    this.args = new Float64Array(sab(MAX_ARGS * 8));
    const workers = shared && spawn ? Math.max(0, threads - 1) : 0;
    for (let tid = 1; tid <= workers; tid++) {
      this.workers.push(
        spawn!({
          ...shared!,
          tid,
          control: this.control.buffer as SharedArrayBuffer,
          claim: this.claim.buffer as SharedArrayBuffer,
          args: this.args.buffer as SharedArrayBuffer,
        }),
      );
    }
    this.threads = workers + 1;
  }

  /** Resolves when every worker has instantiated the module (so the first op is not timed with startup). */
  async ready(timeoutMs = 30000): Promise<void> {
    const t0 = Date.now();
    while (Atomics.load(this.control, READY) < this.workers.length) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`thread pool: ${this.workers.length} workers not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /**
   * Run items [0, items) of `task` in chunks of `grain`, spread over all threads; returns when all are done.
   * Small jobs (one chunk) run inline: dispatch costs more than they do.
   */
  run(task: TaskName, items: number, grain: number, args: readonly number[]): void {
    if (items <= 0) return;
    if (args.length > MAX_ARGS) throw new Error(`thread pool: ${task} has ${args.length} args, max ${MAX_ARGS}`);
    const op = TASK_NAMES.indexOf(task);
    const fn = this.tasks[op]!;
    const g = Math.max(1, Math.floor(grain));
    if (this.workers.length === 0 || items <= g) {
      this.stats.inline++;
      const a = args;
      fn(
        0,
        items,
        0,
        a[0]!,
        a[1]!,
        a[2]!,
        a[3]!,
        a[4]!,
        a[5]!,
        a[6]!,
        a[7]!,
        a[8]!,
        a[9]!,
        a[10]!,
        a[11]!,
        a[12]!,
        a[13]!,
        a[14]!,
        a[15]!,
        a[16]!,
        a[17]!,
        a[18]!,
        a[19]!,
        a[20]!,
        a[21]!,
        a[22]!,
        a[23]!,
      );
      return;
    }
    this.stats.dispatched++;
    const c = this.control;
    for (let i = 0; i < args.length; i++) this.args[i] = args[i]!;
    c[ITEMS] = items;
    c[GRAIN] = g;
    c[OP] = op;
    Atomics.store(c, DONE, 0);
    this.gen = (this.gen + 1) | 0;
    Atomics.store(this.claim, 0, BigInt(this.gen & 0x7fffffff) << 32n);
    Atomics.store(c, GEN, this.gen);
    if (Atomics.load(c, SLEEPERS) > 0) Atomics.notify(c, GEN);
    runChunks(this.claim, c, this.args, fn, 0, this.gen);
    let spins = 0;
    for (let done = Atomics.load(c, DONE); done < items; done = Atomics.load(c, DONE)) {
      if (++spins < MAIN_SPIN_ITERATIONS || !this.canBlock) continue;
      Atomics.wait(c, DONE, done, 1);
    }
  }

  dispose(): void {
    Atomics.store(this.control, STOP, 1);
    Atomics.add(this.control, GEN, 1);
    Atomics.notify(this.control, GEN);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}

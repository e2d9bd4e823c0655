// The shared control block between the thread that dispatches an op and the pool workers.
// Dispatch: the main thread writes the op and its arguments, resets the claim counter, bumps GEN and wakes
// sleepers; every participant (main thread included) claims chunks of `grain` items with a compare-and-swap
// on CLAIM until the items run out, and adds what it finished to DONE; the op ends when DONE = items.
// CLAIM is 64-bit: high 32 bits = job generation, low 32 bits = next item, so a worker that wakes late for an
// old job can never take items of a newer one (its CAS carries the old generation and fails).

export const GEN = 0; // job generation; workers Atomics.wait on it
export const DONE = 1; // items finished in the current job
export const ITEMS = 2; // items in the current job
export const GRAIN = 3; // items per claim
export const OP = 4; // index into TASK_NAMES
export const STOP = 5; // 1 → workers exit
export const SLEEPERS = 6; // workers inside Atomics.wait (skip the notify syscall when 0)
export const READY = 7; // workers that finished instantiating
export const CONTROL_SLOTS = 16;
export const MAX_ARGS = 24;
/** spin iterations before a worker sleeps; ~30–60 µs here, longer than the gap between ops of one layer */
export const SPIN_ITERATIONS = 20000;

/** the module's task exports, in a fixed order shared by main thread and workers */
export const TASK_NAMES = [
  'matmulTiles',
  'gemvTTask',
  'gemvNTask',
  'gemvQ8Task',
  'gemvQ4Task',
  'addTask',
  'addBiasTask',
  'copyTask',
  'rmsnormForwardTask',
  'rmsnormBackwardXTask',
  'rmsnormBackwardWTask',
  'ropeTask',
  'swigluForwardTask',
  'swigluBackwardTask',
  'softmaxForwardTask',
  'softmaxBackwardTask',
  'attentionForwardTask',
  'attentionBackwardTask',
  'crossEntropyForwardTask',
  'crossEntropyBackwardTask',
  'embeddingForwardTask',
  'embeddingBackwardTask',
  'adamwTask',
  'f16ToF32Task',
  'f32ToF16Task',
  'bf16ToF32Task',
  'f32ToBf16Task',
] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export type TaskFn = (start: number, end: number, tid: number, ...args: number[]) => void;

/** Shared state handed to every worker (structured-cloneable). */
export interface PoolShared {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer; // Int32Array (CONTROL_SLOTS)
  claim: SharedArrayBuffer; // BigInt64Array (1)
  args: SharedArrayBuffer; // Float64Array (MAX_ARGS)
}

export interface PoolWorkerData extends PoolShared {
  tid: number;
}

export function taskTable(instance: WebAssembly.Instance): TaskFn[] {
  return TASK_NAMES.map((name) => {
    const fn = instance.exports[name];
    if (typeof fn !== 'function') throw new Error(`kernels wasm: export ${name} is missing (rebuild with npm run build:wasm)`);
    return fn as TaskFn;
  });
}

/**
 * Claim and run chunks of the current job until none are left; returns the number of items done.
 * `gen` is the generation this participant saw when it picked the job up.
 */
export function runChunks(claim: BigInt64Array, control: Int32Array, args: Float64Array, fn: TaskFn, tid: number, gen: number): void {
  const items = control[ITEMS]!;
  const grain = control[GRAIN]!;
  const a = args;
  const genHigh = BigInt(gen & 0x7fffffff) << 32n; // kept below 2^63: BigInt64Array is signed
  for (;;) {
    const cur = Atomics.load(claim, 0);
    if ((cur & ~0xffffffffn) !== genHigh) return; // a newer job started: ours is done
    const start = Number(cur & 0xffffffffn);
    if (start >= items) return;
    const end = Math.min(items, start + grain);
    if (Atomics.compareExchange(claim, 0, cur, genHigh | BigInt(end)) !== cur) continue;
    fn(
      start,
      end,
      tid,
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
    if (Atomics.add(control, DONE, end - start) + (end - start) === items) Atomics.notify(control, DONE);
  }
}

/** The body of a pool worker: instantiate the module on the shared memory, then serve jobs until STOP. */
export function workerLoop(data: PoolWorkerData): void {
  const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory } });
  const tasks = taskTable(instance);
  const control = new Int32Array(data.control);
  const claim = new BigInt64Array(data.claim);
  const args = new Float64Array(data.args);
  let seen = Atomics.load(control, GEN);
  Atomics.add(control, READY, 1);
  Atomics.notify(control, READY);
  for (;;) {
    let spins = 0;
    let gen = Atomics.load(control, GEN);
    while (gen === seen) {
      if (++spins >= SPIN_ITERATIONS) {
        Atomics.add(control, SLEEPERS, 1);
        Atomics.wait(control, GEN, seen);
        Atomics.sub(control, SLEEPERS, 1);
        spins = 0;
      }
      gen = Atomics.load(control, GEN);
    }
    seen = gen;
    if (Atomics.load(control, STOP) === 1) return;
    runChunks(claim, control, args, tasks[control[OP]!]!, data.tid, gen);
  }
}

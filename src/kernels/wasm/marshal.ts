// Pointers for kernel arguments. Buffers from the kernels' own alloc* already live in the wasm memory and
// pass straight through (the fast path); any other typed array is copied into a temporary region, and
// copied back afterwards if it is an output. Correct for every caller, fast for the ones that care.
import type { Arena } from './arena.js';

type View = Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array;

export class Marshal {
  private temps: number[] = [];
  private copyBack: { offset: number; view: View }[] = [];

  constructor(private readonly arena: Arena) {}

  /** pointer to `view`'s data for reading; 0 for null */
  in(view: View | null): number {
    if (view === null) return 0;
    if (this.arena.owns(view)) return view.byteOffset;
    const offset = this.arena.alloc(view.byteLength);
    this.temps.push(offset);
    new Uint8Array(this.arena.memory.buffer, offset, view.byteLength).set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    return offset;
  }

  /** pointer to `view`'s data for writing (contents copied in too: accumulating ops read them) */
  out(view: View): number {
    if (this.arena.owns(view)) return view.byteOffset;
    const offset = this.in(view);
    this.copyBack.push({ offset, view });
    return offset;
  }

  /** copy outputs back to foreign arrays and release the temporaries */
  end(): void {
    for (const { offset, view } of this.copyBack) {
      new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(new Uint8Array(this.arena.memory.buffer, offset, view.byteLength));
    }
    for (const t of this.temps) this.arena.release(t);
    this.temps = [];
    this.copyBack = [];
  }
}

/** the reference kernels' length check: one rule and one message for both engines */
export { need } from '../ref/types.js';

/** throw when a target class id is not below V (a wasm kernel would read past the logits row) */
export function needTargets(op: string, targets: Int32Array, N: number, V: number): void {
  for (let i = 0; i < N; i++) if (targets[i]! >= V) throw new Error(`${op}: targets[${i}] = ${targets[i]} is not below V=${V}`);
}

/** throw when a token id is outside the table's rows (a wasm kernel would read or write past it) */
export function needIds(op: string, ids: Int32Array, N: number, rows: number): void {
  for (let i = 0; i < N; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= rows) throw new Error(`${op}: ids[${i}] = ${id} is outside the table's 0..${rows - 1}`);
  }
}

// Shared pieces of the parity suites (parity.ts): buffers owned by the kernels under test, and small
// helpers for tolerance scales. Inputs are copied into the tested kernels' own alloc* buffers so their
// fast path (no copy in or out) is what gets tested; the reference always gets plain typed arrays.
import type { Kernels } from '../../src/kernels/backend.js';

type View = Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array;

/** buffers allocated by one Kernels, freed together */
export class Owned {
  private readonly bufs: View[] = [];

  constructor(private readonly k: Kernels) {}

  private keep<T extends View>(buf: T, src: T | number): T {
    if (typeof src !== 'number') buf.set(src as never); // same element type: a byte copy, NaN payloads kept
    this.bufs.push(buf);
    return buf;
  }
  f32(src: Float32Array | number): Float32Array {
    return this.keep(this.k.allocF32(size(src)), src);
  }
  i32(src: Int32Array | number): Int32Array {
    return this.keep(this.k.allocI32(size(src)), src);
  }
  u8(src: Uint8Array | number): Uint8Array {
    return this.keep(this.k.allocU8(size(src)), src);
  }
  i8(src: Int8Array | number): Int8Array {
    return this.keep(this.k.allocI8(size(src)), src);
  }
  u16(src: Uint16Array | number): Uint16Array {
    return this.keep(this.k.allocU16(size(src)), src);
  }

  freeAll(): void {
    for (const b of this.bufs) this.k.free(b);
    this.bufs.length = 0;
  }
}

function size(src: View | number): number {
  return typeof src === 'number' ? src : src.length;
}

/** run fn with buffers owned by k, freed afterwards even when fn throws */
export function withOwned<T>(k: Kernels, fn: (o: Owned) => T): T {
  const o = new Owned(k);
  try {
    return fn(o);
  } finally {
    o.freeAll();
  }
}

/** max |x|, ignoring non-finite entries */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i]!)) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

export function absOf(x: Float32Array): Float32Array {
  return x.map(Math.abs);
}

/** the transpose combinations of a matmul */
export const TRANSPOSES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

/** elementwise lengths: one element, SIMD tails (3, 5, 17), and a large odd count spanning many chunks and threads */
export const ELEMENTWISE_N = [1, 3, 5, 17, 1000003];

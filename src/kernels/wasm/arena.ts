// Allocation of typed arrays inside the WebAssembly memory, from JS (the module has no allocator).
// First-fit free list with coalescing, 64-byte alignment (a cache line; every v128 load is aligned).
// Shared memory can grow without detaching old views, so buffers handed out stay valid; unshared memory
// (single-thread fallback) is sized once at creation, because growing it would detach every view.

const ALIGN = 64;
const PAGE = 65536;
/** the module's static data (Mathf tables) lives below 64 KiB; allocations start above it */
export const HEAP_BASE = 65536;

interface Block {
  offset: number;
  bytes: number;
}

export class Arena {
  private free: Block[] = [];
  private used = new Map<number, number>(); // offset → bytes
  private top = HEAP_BASE;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private readonly growable: boolean;
  peakBytes = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly shared: boolean,
  ) {
    this.growable = shared;
    this.buffers.add(memory.buffer);
  }

  /** true when `view` lies in this memory (its offset can be handed to a kernel as a pointer) */
  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  get bytesInUse(): number {
    let s = 0;
    for (const b of this.used.values()) s += b;
    return s;
  }

  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.bytes < size) continue;
      const offset = b.offset;
      if (b.bytes === size) this.free.splice(i, 1);
      else {
        b.offset += size;
        b.bytes -= size;
      }
      this.used.set(offset, size);
      return offset;
    }
    const offset = this.top;
    this.ensure(offset + size);
    this.top = offset + size;
    this.used.set(offset, size);
    this.peakBytes = Math.max(this.peakBytes, this.top - HEAP_BASE);
    return offset;
  }

  release(offset: number): void {
    const size = this.used.get(offset);
    if (size === undefined) throw new Error(`wasm arena: free of offset ${offset} that was not allocated (double free?)`);
    this.used.delete(offset);
    // insert sorted, then merge neighbours; a block that ends at `top` gives its space back to the top
    let i = 0;
    while (i < this.free.length && this.free[i]!.offset < offset) i++;
    this.free.splice(i, 0, { offset, bytes: size });
    for (let j = Math.max(0, i - 1); j < this.free.length - 1;) {
      const a = this.free[j]!,
        b = this.free[j + 1]!;
      if (a.offset + a.bytes === b.offset) {
        a.bytes += b.bytes;
        this.free.splice(j + 1, 1);
      } else j++;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.offset + last.bytes === this.top) {
      this.top = last.offset;
      this.free.pop();
    }
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (!this.growable) {
      throw new Error(
        `wasm memory: need ${end} bytes but the unshared memory is fixed at ${have}; ` +
          'create the kernels with a larger memoryBytes (or serve the page cross-origin isolated for shared memory)',
      );
    }
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new Error(`wasm memory: cannot grow to ${end} bytes (wasm32 limit is 4 GiB): ${(e as Error).message}`);
    }
    this.buffers.add(this.memory.buffer);
  }
}

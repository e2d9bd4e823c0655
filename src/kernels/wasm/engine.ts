// Kernels backed by the WebAssembly SIMD module and the thread pool. Each method checks shapes, turns its
// arrays into pointers (marshal.ts), picks the work split, and hands the op to the pool.
// Work items and grains are chosen so that every output element is computed by one thread in a fixed
// order: results do not depend on the thread count.
import type { AdamWParams, Kernels } from '../backend.js';
import { Arena } from './arena.js';
import { type OpContext, wasmAttentionBackward, wasmAttentionForward } from './attention-ops.js';
import { Marshal, need, needIds, needTargets } from './marshal.js';
import { ROW_WORK, type ThreadPool } from './pool.js';

type View = Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array;

export interface WasmConstants {
  MC: number;
  NC: number;
  GEMV_MAX_ROWS: number;
  GEMV_COLS: number;
  CHUNK: number;
  MATMUL_SCRATCH_BYTES: number;
}

export class WasmKernels implements Kernels {
  readonly threads: number;
  private readonly scratch: number; // (threads, scratchStride) bytes
  private readonly scratchStride: number;
  private readonly ops: OpContext; // what the ops in other files need of this engine

  constructor(
    readonly name: 'wasm-simd' | 'wasm-relaxed-simd',
    readonly arena: Arena,
    readonly pool: ThreadPool,
    /** the module's exported sizes (work splits; the kernel benchmark's bandwidth probe reads CHUNK) */
    readonly c: WasmConstants,
  ) {
    this.threads = pool.threads;
    this.scratchStride = Math.ceil(c.MATMUL_SCRATCH_BYTES / 64) * 64;
    this.scratch = arena.alloc(this.scratchStride * this.threads);
    this.ops = { arena, pool, scratch: this.scratch, scratchStride: this.scratchStride };
  }

  private view<T extends View>(ctor: new (b: ArrayBufferLike, o: number, n: number) => T, n: number, bytesPer: number): T {
    const offset = this.arena.alloc(Math.max(1, n) * bytesPer);
    const v = new ctor(this.arena.memory.buffer, offset, n);
    v.fill(0);
    return v;
  }
  allocF32(n: number): Float32Array {
    return this.view(Float32Array, n, 4);
  }
  allocI32(n: number): Int32Array {
    return this.view(Int32Array, n, 4);
  }
  allocU8(n: number): Uint8Array {
    return this.view(Uint8Array, n, 1);
  }
  allocI8(n: number): Int8Array {
    return this.view(Int8Array, n, 1);
  }
  allocU16(n: number): Uint16Array {
    return this.view(Uint16Array, n, 2);
  }
  free(buf: View): void {
    if (!this.arena.owns(buf)) throw new Error('wasm kernels: free() of a buffer that allocF32/allocI32/… did not return');
    this.arena.release(buf.byteOffset);
  }
  dispose(): void {
    this.pool.dispose();
  }

  private rowGrain(cols: number): number {
    return Math.max(1, Math.floor(ROW_WORK / Math.max(1, cols)));
  }
  private chunks(n: number): number {
    return Math.ceil(n / this.c.CHUNK);
  }

  matmul(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array,
    M: number,
    K: number,
    N: number,
    transA: boolean,
    transB: boolean,
    alpha: number,
    beta: number,
  ): void {
    need('matmul', 'out', out, M * N);
    need('matmul', 'a', a, M * K);
    need('matmul', 'b', b, K * N);
    const m = new Marshal(this.arena);
    const pc = m.out(out),
      pa = m.in(a),
      pb = m.in(b);
    if (M <= this.c.GEMV_MAX_ROWS && !transA && K > 0) {
      const items = Math.ceil(N / this.c.GEMV_COLS);
      this.pool.run(transB ? 'gemvTTask' : 'gemvNTask', items, 1, [pc, pa, pb, M, K, N, alpha, beta, this.scratch]);
    } else {
      const tiles = Math.ceil(M / this.c.MC) * Math.ceil(N / this.c.NC);
      const flags = (transA ? 1 : 0) | (transB ? 2 : 0);
      this.pool.run('matmulTiles', tiles, 1, [pc, pa, pb, M, K, N, flags, alpha, beta, this.scratch, this.scratchStride, 0]);
    }
    m.end();
  }

  matmulQ4(out: Float32Array, x: Float32Array, q: Uint8Array, scales: Float32Array, M: number, K: number, N: number): void {
    if (K % 32 !== 0) throw new Error(`matmulQ4: K = ${K} is not a multiple of 32`);
    need('matmulQ4', 'out', out, M * N);
    need('matmulQ4', 'x', x, M * K);
    need('matmulQ4', 'q', q, (N * K) / 2);
    need('matmulQ4', 'scales', scales, (N * K) / 32);
    const m = new Marshal(this.arena);
    // one pass over the weights for all M rows: each weight row is decoded from L1 once per activation row
    this.pool.run('gemvQ4Task', Math.ceil(N / this.c.GEMV_COLS), 1, [m.out(out), m.in(x), m.in(q), m.in(scales), M, K, N]);
    m.end();
  }

  matmulQ8(out: Float32Array, x: Float32Array, wq: Int8Array, scales: Float32Array, M: number, K: number, N: number): void {
    need('matmulQ8', 'out', out, M * N);
    need('matmulQ8', 'x', x, M * K);
    need('matmulQ8', 'wq', wq, N * K);
    need('matmulQ8', 'scales', scales, N);
    const m = new Marshal(this.arena);
    const po = m.out(out),
      px = m.in(x),
      pw = m.in(wq),
      ps = m.in(scales);
    if (M <= this.c.GEMV_MAX_ROWS) {
      this.pool.run('gemvQ8Task', Math.ceil(N / this.c.GEMV_COLS), 1, [po, px, pw, ps, M, K, N]);
    } else {
      const tiles = Math.ceil(M / this.c.MC) * Math.ceil(N / this.c.NC);
      this.pool.run('matmulTiles', tiles, 1, [po, px, pw, M, K, N, 2 | 4, 1, 0, this.scratch, this.scratchStride, ps]);
    }
    m.end();
  }

  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    need('add', 'out', out, n);
    need('add', 'a', a, n);
    need('add', 'b', b, n);
    const m = new Marshal(this.arena);
    this.pool.run('addTask', this.chunks(n), 1, [m.out(out), m.in(a), m.in(b), n]);
    m.end();
  }

  addBias(out: Float32Array, x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
    need('addBias', 'out', out, rows * cols);
    need('addBias', 'x', x, rows * cols);
    need('addBias', 'bias', bias, cols);
    const m = new Marshal(this.arena);
    this.pool.run('addBiasTask', rows, this.rowGrain(cols), [m.out(out), m.in(x), m.in(bias), cols]);
    m.end();
  }

  rmsnormForward(out: Float32Array, rstd: Float32Array, x: Float32Array, w: Float32Array, N: number, C: number, eps: number): void {
    need('rmsnormForward', 'out', out, N * C);
    need('rmsnormForward', 'rstd', rstd, N);
    need('rmsnormForward', 'x', x, N * C);
    need('rmsnormForward', 'w', w, C);
    const m = new Marshal(this.arena);
    this.pool.run('rmsnormForwardTask', N, this.rowGrain(C), [m.out(out), m.out(rstd), m.in(x), m.in(w), C, eps]);
    m.end();
  }

  rmsnormBackward(
    dx: Float32Array,
    dw: Float32Array,
    dout: Float32Array,
    x: Float32Array,
    w: Float32Array,
    rstd: Float32Array,
    N: number,
    C: number,
  ): void {
    need('rmsnormBackward', 'dx', dx, N * C);
    need('rmsnormBackward', 'dw', dw, C);
    need('rmsnormBackward', 'dout', dout, N * C);
    need('rmsnormBackward', 'x', x, N * C);
    need('rmsnormBackward', 'w', w, C);
    need('rmsnormBackward', 'rstd', rstd, N);
    const m = new Marshal(this.arena);
    const pdx = m.out(dx),
      pdw = m.out(dw),
      pd = m.in(dout),
      px = m.in(x),
      pw = m.in(w),
      pr = m.in(rstd);
    // dw first: dx may alias dout
    this.pool.run('rmsnormBackwardWTask', Math.ceil(C / 64), 1, [pdw, pd, px, pr, N, C]);
    this.pool.run('rmsnormBackwardXTask', N, this.rowGrain(C), [pdx, pd, px, pw, pr, C]);
    m.end();
  }

  private rope(
    op: string,
    out: Float32Array,
    x: Float32Array,
    positions: Int32Array,
    cos: Float32Array,
    sin: Float32Array,
    N: number,
    H: number,
    D: number,
    sign: number,
  ): void {
    if (D % 2 !== 0) throw new Error(`${op}: head dim D=${D} must be even`);
    need(op, 'out', out, N * H * D);
    need(op, 'x', x, N * H * D);
    need(op, 'positions', positions, N);
    const half = D / 2;
    if (cos.length !== sin.length || cos.length % Math.max(1, half) !== 0) throw new Error(`${op}: cos/sin tables must both be (P, D/2)`);
    const P = cos.length / Math.max(1, half);
    for (let i = 0; i < N; i++) {
      const p = positions[i]!;
      if (p < 0 || p >= P) throw new Error(`${op}: positions[${i}] = ${p} is outside the table's 0..${P - 1}`);
    }
    const m = new Marshal(this.arena);
    this.pool.run('ropeTask', N, this.rowGrain(H * D), [m.out(out), m.in(x), m.in(positions), m.in(cos), m.in(sin), H, D, sign]);
    m.end();
  }
  ropeForward(
    out: Float32Array,
    x: Float32Array,
    positions: Int32Array,
    cos: Float32Array,
    sin: Float32Array,
    N: number,
    H: number,
    D: number,
  ): void {
    this.rope('ropeForward', out, x, positions, cos, sin, N, H, D, 1);
  }
  ropeBackward(
    dx: Float32Array,
    dout: Float32Array,
    positions: Int32Array,
    cos: Float32Array,
    sin: Float32Array,
    N: number,
    H: number,
    D: number,
  ): void {
    this.rope('ropeBackward', dx, dout, positions, cos, sin, N, H, D, -1);
  }

  swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    need('swigluForward', 'out', out, n);
    need('swigluForward', 'gate', gate, n);
    need('swigluForward', 'up', up, n);
    const m = new Marshal(this.arena);
    this.pool.run('swigluForwardTask', this.chunks(n), 1, [m.out(out), m.in(gate), m.in(up), n]);
    m.end();
  }
  swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
    for (const [k, v] of [
      ['dgate', dgate],
      ['dup', dup],
      ['dout', dout],
      ['gate', gate],
      ['up', up],
    ] as const)
      need('swigluBackward', k, v, n);
    const m = new Marshal(this.arena);
    this.pool.run('swigluBackwardTask', this.chunks(n), 1, [m.out(dgate), m.out(dup), m.in(dout), m.in(gate), m.in(up), n]);
    m.end();
  }

  softmaxForward(out: Float32Array, x: Float32Array, rows: number, cols: number): void {
    need('softmaxForward', 'out', out, rows * cols);
    need('softmaxForward', 'x', x, rows * cols);
    const m = new Marshal(this.arena);
    this.pool.run('softmaxForwardTask', rows, this.rowGrain(cols), [m.out(out), m.in(x), cols]);
    m.end();
  }
  softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void {
    need('softmaxBackward', 'dx', dx, rows * cols);
    need('softmaxBackward', 'dy', dy, rows * cols);
    need('softmaxBackward', 'y', y, rows * cols);
    const m = new Marshal(this.arena);
    this.pool.run('softmaxBackwardTask', rows, this.rowGrain(cols), [m.out(dx), m.in(dy), m.in(y), cols]);
    m.end();
  }

  attentionForward(...a: Parameters<Kernels['attentionForward']>): void {
    wasmAttentionForward(this.ops, ...a);
  }
  attentionBackward(...a: Parameters<Kernels['attentionBackward']>): void {
    wasmAttentionBackward(this.ops, ...a);
  }

  crossEntropyForward(losses: Float32Array, logits: Float32Array, targets: Int32Array, weights: Float32Array, N: number, V: number): void {
    need('crossEntropyForward', 'losses', losses, N);
    need('crossEntropyForward', 'logits', logits, N * V);
    need('crossEntropyForward', 'targets', targets, N);
    need('crossEntropyForward', 'weights', weights, N);
    needTargets('crossEntropyForward', targets, N, V);
    const m = new Marshal(this.arena);
    this.pool.run('crossEntropyForwardTask', N, this.rowGrain(V), [m.out(losses), m.in(logits), m.in(targets), m.in(weights), V]);
    m.end();
  }
  crossEntropyBackward(
    dlogits: Float32Array,
    logits: Float32Array,
    targets: Int32Array,
    weights: Float32Array,
    N: number,
    V: number,
    scale: number,
  ): void {
    need('crossEntropyBackward', 'dlogits', dlogits, N * V);
    need('crossEntropyBackward', 'logits', logits, N * V);
    need('crossEntropyBackward', 'targets', targets, N);
    need('crossEntropyBackward', 'weights', weights, N);
    needTargets('crossEntropyBackward', targets, N, V);
    const m = new Marshal(this.arena);
    this.pool.run('crossEntropyBackwardTask', N, this.rowGrain(V), [m.out(dlogits), m.in(logits), m.in(targets), m.in(weights), V, scale]);
    m.end();
  }

  embeddingForward(out: Float32Array, table: Float32Array, ids: Int32Array, N: number, C: number): void {
    need('embeddingForward', 'out', out, N * C);
    need('embeddingForward', 'ids', ids, N);
    needIds('embeddingForward', ids, N, Math.floor(table.length / C));
    const m = new Marshal(this.arena);
    this.pool.run('embeddingForwardTask', N, this.rowGrain(C), [m.out(out), m.in(table), m.in(ids), C]);
    m.end();
  }
  embeddingBackward(dtable: Float32Array, dout: Float32Array, ids: Int32Array, N: number, C: number): void {
    need('embeddingBackward', 'dout', dout, N * C);
    need('embeddingBackward', 'ids', ids, N);
    needIds('embeddingBackward', ids, N, Math.floor(dtable.length / C));
    const m = new Marshal(this.arena);
    this.pool.run('embeddingBackwardTask', Math.ceil(C / 64), 1, [m.out(dtable), m.in(dout), m.in(ids), N, C]);
    m.end();
  }

  adamwStep(param: Float32Array, grad: Float32Array, mom: Float32Array, vel: Float32Array, n: number, o: AdamWParams): void {
    for (const [k, v] of [
      ['param', param],
      ['grad', grad],
      ['m', mom],
      ['v', vel],
    ] as const)
      need('adamwStep', k, v, n);
    if (!(o.step >= 1)) throw new Error(`adamwStep: step must count from 1, got ${o.step}`);
    const stepSize = o.lr / (1 - Math.pow(o.beta1, o.step));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(o.beta2, o.step));
    const m = new Marshal(this.arena);
    this.pool.run('adamwTask', this.chunks(n), 1, [
      m.out(param),
      m.in(grad),
      m.out(mom),
      m.out(vel),
      n,
      o.lr,
      o.beta1,
      o.beta2,
      o.eps,
      o.weightDecay,
      stepSize,
      bc2Sqrt,
    ]);
    m.end();
  }

  private convert(task: 'f16ToF32Task' | 'f32ToF16Task' | 'bf16ToF32Task' | 'f32ToBf16Task', out: View, x: View, n: number): void {
    need(task, 'out', out, n);
    need(task, 'x', x, n);
    const m = new Marshal(this.arena);
    this.pool.run(task, this.chunks(n), 1, [m.out(out), m.in(x), n]);
    m.end();
  }
  f16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
    this.convert('f16ToF32Task', out, x, n);
  }
  f32ToF16(out: Uint16Array, x: Float32Array, n: number): void {
    this.convert('f32ToF16Task', out, x, n);
  }
  bf16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
    this.convert('bf16ToF32Task', out, x, n);
  }
  f32ToBf16(out: Uint16Array, x: Float32Array, n: number): void {
    this.convert('f32ToBf16Task', out, x, n);
  }
}

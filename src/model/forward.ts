// The transformer forward pass over the kernels, shared by the three families: LLaMA-style pre-norm blocks
// (RMSNorm → attention with RoPE → residual → RMSNorm → SwiGLU → residual), final RMSNorm, LM head.
// Bidirectional for llada/dream, causal for llama; the caller may override (e.g. block-causal).
// The MoE families (lladamoe, llada2) add, from their config: fused q/k/v rows, per-head q/k RMSNorm before
// RoPE, partial RoPE (the first R of each head's D), an output-projection bias, and MoE FFN layers (moe.ts).
// Glossary: B batch, T tokens per row, N = B·T, C width, H heads, Hkv kv heads, D head dim, R rotary dims,
// F FFN, V vocab.
import type { AttentionShape, Kernels, MaskKind } from '../kernels/backend.js';
import { checkMask } from '../kernels/ref/attention.js';
import { ropeTable, type RopeTable } from '../kernels/rope-table.js';
import type { ModelConfig } from './config.js';
import { MoeScratch, moeForward, type Routing } from './moe.js';
import { fusedQkv } from './params.js';
import type { Weight, Weights } from './weights.js';

export interface ForwardInput {
  tokens: Int32Array; // (B, T) the rows computed by this call
  B: number;
  T: number; // rows per batch entry in this call
  positions?: Int32Array; // (B, T); default rowStart .. rowStart+T-1 in every row
  keyValid?: Uint8Array | null; // (B, Tk): 0 = padding, never attended to (Tk = cache capacity, or T)
  mask?: { kind: MaskKind; blockLength?: number }; // default: the architecture's (bidirectional → none)
  logitRows?: Int32Array; // rows of (B·T) to compute logits for; default all
  /**
   * With a cache, the call computes rows [rowStart, rowStart+T) of a longer sequence: their K/V are written
   * into the cache at those rows, and attention reads keys 0..capacity-1 from the cache (rows not computed
   * in this call keep what an earlier call left there: Fast-dLLM's approximate prefix/dual caches, or the
   * exact past of AR decoding, whose unwritten future rows the causal mask never reaches).
   */
  cache?: KVCache;
  rowStart?: number;
}

/**
 * What the Denoiser and AR adapters (diffusion-lm.ts, causal-lm.ts) need from a forward engine: the
 * Transformer on our kernels, or the same model through ONNX Runtime (platform/node-ort.ts), whose forward
 * is asynchronous.
 */
export interface ForwardModel {
  readonly config: ModelConfig;
  forward(input: ForwardInput): Float32Array | Promise<Float32Array>;
  createCache(B: number, capacity: number): KVCache;
  freeCache(cache: KVCache): void;
  dispose(): void;
}

/** Post-RoPE keys and values of every layer for B sequences of up to `capacity` rows. */
export interface KVCache {
  B: number;
  capacity: number; // Tk
  k: Float32Array[]; // L × (B, Tk, Hkv·D)
  v: Float32Array[]; // L × (B, Tk, Hkv·D)
}

/** activation buffers for one N = B·T, allocated once in kernel memory and reused */
interface Acts {
  N: number;
  x: Float32Array; // (N, C) residual stream
  h: Float32Array; // (N, C) normed input of a sub-block; later the attention projection
  rstd: Float32Array; // (N)
  q: Float32Array; // (N, H·D)
  k: Float32Array; // (N, Hkv·D)
  v: Float32Array; // (N, Hkv·D)
  att: Float32Array; // (N, H·D)
  lse: Float32Array; // (B, H, T)
  gate: Float32Array; // (N, F)
  up: Float32Array; // (N, F)
  qkv: Float32Array | null; // (N, (H + 2·Hkv)·D) fused projection, rows q | k | v (llada2)
  headRstd: Float32Array | null; // (N·H) q/k norm scratch
  rot: Float32Array | null; // (N, H, R) partial-RoPE scratch
  ffnOut: Float32Array | null; // (N, C) MoE output
  moe: MoeScratch | null;
}

export class Transformer implements ForwardModel {
  private acts: Acts | null = null;
  private rope: RopeTable;
  private ropeBufs: { cos: Float32Array; sin: Float32Array };
  private readonly ropeDim: number; // R ≤ D
  private readonly fused: boolean;
  /** tests: sees each MoE layer's routing (layer index, choice) */
  onRouting: ((layer: number, r: Routing) => void) | null = null;

  constructor(
    readonly config: ModelConfig,
    readonly kernels: Kernels,
    readonly weights: Weights,
  ) {
    this.ropeDim = config.ropeDim ?? config.headDim;
    this.fused = fusedQkv(config.arch);
    this.rope = ropeTable(config.ropeTheta, this.ropeDim, config.maxPositions);
    const cos = kernels.allocF32(this.rope.cos.length),
      sin = kernels.allocF32(this.rope.sin.length);
    cos.set(this.rope.cos);
    sin.set(this.rope.sin);
    this.ropeBufs = { cos, sin };
  }

  private w(name: string): Weight {
    const w = this.weights.get(name);
    if (!w) throw new Error(`model: weight ${name} is missing`);
    return w;
  }
  private f32(name: string): Float32Array {
    const w = this.w(name);
    if (w.kind !== 'f32') throw new Error(`model: weight ${name} must be f32`);
    return w.data;
  }

  /** out (M, out) = x (M, in) · Wᵀ, f32, f16, int8 or 4-bit weights */
  private linear(out: Float32Array, x: Float32Array, name: string, M: number, inDim: number, outDim: number): void {
    const w = this.w(name);
    if (w.kind === 'f32') this.kernels.matmul(out, x, w.data, M, inDim, outDim, false, true, 1, 0);
    else if (w.kind === 'q8') this.kernels.matmulQ8(out, x, w.q, w.scales, M, inDim, outDim);
    else if (w.kind === 'q4') this.kernels.matmulQ4(out, x, w.q, w.scales, M, inDim, outDim);
    else {
      // f16: widen into a scratch matrix, use, release (memory-bound, ≈ one extra read of the weights)
      const wide = this.kernels.allocF32(outDim * inDim);
      try {
        this.kernels.f16ToF32(wide, w.bits, outDim * inDim);
        this.kernels.matmul(out, x, wide, M, inDim, outDim, false, true, 1, 0);
      } finally {
        this.kernels.free(wide);
      }
    }
  }

  private ensureActs(B: number, T: number): Acts {
    const N = B * T;
    if (this.acts && this.acts.N === N && this.acts.lse.length === B * this.config.numHeads * T) return this.acts;
    this.freeActs();
    const cfg = this.config,
      { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F } = cfg;
    const a = (n: number) => this.kernels.allocF32(n);
    this.acts = {
      N,
      x: a(N * C),
      h: a(N * C),
      rstd: a(N),
      q: a(N * H * D),
      k: a(N * Hkv * D),
      v: a(N * Hkv * D),
      att: a(N * H * D),
      lse: a(B * H * T),
      gate: a(N * F),
      up: a(N * F),
      qkv: this.fused ? a(N * (H + 2 * Hkv) * D) : null,
      headRstd: cfg.qkNorm ? a(N * H) : null,
      rot: this.ropeDim < D ? a(N * H * this.ropeDim) : null,
      ffnOut: cfg.moe ? a(N * C) : null,
      moe: cfg.moe ? new MoeScratch(this.kernels, N, C, cfg.moe) : null,
    };
    return this.acts;
  }

  private freeActs(): void {
    if (!this.acts) return;
    for (const [key, buf] of Object.entries(this.acts)) {
      if (key === 'N' || buf === null) continue;
      if (buf instanceof MoeScratch) buf.free();
      else this.kernels.free(buf as Float32Array);
    }
    this.acts = null;
  }

  private embed(x: Float32Array, tokens: Int32Array, N: number): void {
    const C = this.config.hiddenSize;
    const w = this.w('tokEmbed');
    // the ids were checked against the vocabulary by checkForwardInput
    if (w.kind === 'f32') {
      this.kernels.embeddingForward(x, w.data, tokens, N, C);
      return;
    }
    if (w.kind === 'f16') {
      // widen just the N gathered rows
      for (let i = 0; i < N; i++)
        this.kernels.f16ToF32(x.subarray(i * C, (i + 1) * C), w.bits.subarray(tokens[i]! * C, (tokens[i]! + 1) * C), C);
      return;
    }
    if (w.kind === 'q4') throw new Error('model: the embedding is never stored q4 (weights.ts stores it q8)');
    for (let i = 0; i < N; i++) {
      // int8 rows dequantized on gather: N·C work, no full-table copy
      const t = tokens[i]!,
        s = w.scales[t]!;
      for (let c = 0; c < C; c++) x[i * C + c] = w.q[t * C + c]! * s;
    }
  }

  /** a zeroed cache in kernel memory for B sequences of `capacity` rows */
  createCache(B: number, capacity: number): KVCache {
    if (capacity > this.config.maxPositions)
      throw new Error(`cache: ${capacity} rows exceed the model's ${this.config.maxPositions} positions`);
    const n = B * capacity * this.config.numKvHeads * this.config.headDim;
    const mk = () => Array.from({ length: this.config.numLayers }, () => this.kernels.allocF32(n));
    return { B, capacity, k: mk(), v: mk() };
  }

  freeCache(cache: KVCache): void {
    for (const buf of [...cache.k, ...cache.v]) this.kernels.free(buf);
    cache.k.length = 0;
    cache.v.length = 0;
  }

  /** logits (rows, V) for the requested rows (default all B·T), as a fresh Float32Array */
  forward(input: ForwardInput): Float32Array {
    const cfg = this.config;
    const { B, T, tokens, cache } = input;
    const { N, rowStart, Tk } = checkForwardInput(cfg, input);
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V } = cfg;
    const k = this.kernels;
    const a = this.ensureActs(B, T);
    const positions = input.positions ?? defaultPositions(B, T, rowStart);
    const keyValid = input.keyValid ?? null;
    const mask = input.mask ?? defaultMask(cfg);
    const maskKind: MaskKind = mask.kind;
    const shape: AttentionShape = {
      B,
      Tq: T,
      Tk,
      H,
      Hkv,
      D,
      scale: 1 / Math.sqrt(D),
      mask: maskKind,
      qStart: rowStart,
      blockLength: mask.blockLength ?? 0,
      keyValid,
    };
    const kvRow = Hkv * D;
    this.embed(a.x, tokens, N);
    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `layers.${l}.`;
      // attention sub-block
      k.rmsnormForward(a.h, a.rstd, a.x, this.f32(p + 'attnNorm'), N, C, cfg.normEps);
      this.projectQkv(a, p, N);
      if (cfg.qkNorm) {
        // per-head RMSNorm over D, before RoPE (LLaDAMoEAttention q_norm; LLaDA2 query_layernorm)
        this.headNorm(a, a.q, p + 'qNorm', N * H);
        this.headNorm(a, a.k, p + 'kNorm', N * Hkv);
      }
      this.rotate(a, a.q, positions, N, H);
      this.rotate(a, a.k, positions, N, Hkv);
      if (cache) {
        // write this call's K/V rows into the cache, then attend over all of it
        const ck = cache.k[l]!,
          cv = cache.v[l]!;
        for (let b = 0; b < B; b++) {
          const dst = (b * Tk + rowStart) * kvRow;
          ck.set(a.k.subarray(b * T * kvRow, (b + 1) * T * kvRow), dst);
          cv.set(a.v.subarray(b * T * kvRow, (b + 1) * T * kvRow), dst);
        }
        k.attentionForward(a.att, a.lse, a.q, ck, cv, shape);
      } else {
        k.attentionForward(a.att, a.lse, a.q, a.k, a.v, shape);
      }
      this.linear(a.h, a.att, p + 'wo', N, H * D, C);
      if (cfg.outBias) k.addBias(a.h, a.h, this.f32(p + 'bo'), N, C);
      k.add(a.x, a.x, a.h, N * C);
      // feed-forward sub-block
      k.rmsnormForward(a.h, a.rstd, a.x, this.f32(p + 'ffnNorm'), N, C, cfg.normEps);
      if (cfg.moe?.moeLayers[l]) {
        const bias = cfg.moe.expertBias ? this.f32(p + 'expertBias') : null;
        const linear = (o: Float32Array, x: Float32Array, name: string, M: number, i: number, d: number) =>
          this.linear(o, x, name, M, i, d);
        moeForward(k, linear, cfg.moe, a.moe!, a.ffnOut!, a.h, p, bias, N, C, this.onRouting ? (r) => this.onRouting!(l, r) : undefined);
        k.add(a.x, a.x, a.ffnOut!, N * C);
        continue;
      }
      this.linear(a.gate, a.h, p + 'wGate', N, C, F);
      this.linear(a.up, a.h, p + 'wUp', N, C, F);
      k.swigluForward(a.gate, a.gate, a.up, N * F);
      this.linear(a.h, a.gate, p + 'wDown', N, F, C);
      k.add(a.x, a.x, a.h, N * C);
    }
    k.rmsnormForward(a.h, a.rstd, a.x, this.f32('finalNorm'), N, C, cfg.normEps);
    const rows = input.logitRows;
    let hidden = a.h; // (R, C)
    let R = N;
    if (rows) {
      R = rows.length;
      hidden = k.allocF32(R * C);
      for (let r = 0; r < R; r++) {
        const i = rows[r]!;
        hidden.set(a.h.subarray(i * C, (i + 1) * C), r * C);
      }
    }
    const logits = k.allocF32(R * V); // (R, V)
    this.linear(logits, hidden, cfg.tieEmbeddings ? 'tokEmbed' : 'lmHead', R, C, V);
    const out = logits.slice();
    k.free(logits);
    if (rows) k.free(hidden);
    return out;
  }

  /** q (N, H·D), k, v (N, Hkv·D) from the normed input a.h: three projections or one fused matrix */
  private projectQkv(a: Acts, p: string, N: number): void {
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, qkvBias } = this.config,
      k = this.kernels;
    if (!this.fused) {
      this.linear(a.q, a.h, p + 'wq', N, C, H * D);
      this.linear(a.k, a.h, p + 'wk', N, C, Hkv * D);
      this.linear(a.v, a.h, p + 'wv', N, C, Hkv * D);
      if (qkvBias) {
        k.addBias(a.q, a.q, this.f32(p + 'bq'), N, H * D);
        k.addBias(a.k, a.k, this.f32(p + 'bk'), N, Hkv * D);
        k.addBias(a.v, a.v, this.f32(p + 'bv'), N, Hkv * D);
      }
      return;
    }
    const W = (H + 2 * Hkv) * D,
      qkv = a.qkv!; // each row: H heads of q, then Hkv of k, then Hkv of v
    this.linear(qkv, a.h, p + 'wqkv', N, C, W);
    if (qkvBias) k.addBias(qkv, qkv, this.f32(p + 'bqkv'), N, W);
    for (let n = 0; n < N; n++) {
      const row = n * W;
      a.q.set(qkv.subarray(row, row + H * D), n * H * D);
      a.k.set(qkv.subarray(row + H * D, row + (H + Hkv) * D), n * Hkv * D);
      a.v.set(qkv.subarray(row + (H + Hkv) * D, row + W), n * Hkv * D);
    }
  }

  /** x (rows, D) ← RMSNorm over each head's D with weight `name` (D), through a.att as scratch */
  private headNorm(a: Acts, x: Float32Array, name: string, rows: number): void {
    const D = this.config.headDim,
      n = rows * D;
    this.kernels.rmsnormForward(
      a.att.subarray(0, n),
      a.headRstd!.subarray(0, rows),
      x.subarray(0, n),
      this.f32(name),
      rows,
      D,
      this.config.normEps,
    );
    x.set(a.att.subarray(0, n));
  }

  /** rotate-half RoPE on the first R of each head's D (all of it when R = D); x (N, heads, D) in place */
  private rotate(a: Acts, x: Float32Array, positions: Int32Array, N: number, heads: number): void {
    const D = this.config.headDim,
      R = this.ropeDim,
      { cos, sin } = this.ropeBufs;
    if (R === D) {
      this.kernels.ropeForward(x, x, positions, cos, sin, N, heads, D);
      return;
    }
    const rot = a.rot!.subarray(0, N * heads * R); // (N, heads, R)
    for (let i = 0; i < N * heads; i++) rot.set(x.subarray(i * D, i * D + R), i * R);
    this.kernels.ropeForward(rot, rot, positions, cos, sin, N, heads, R);
    for (let i = 0; i < N * heads; i++) x.set(rot.subarray(i * R, (i + 1) * R), i * D);
  }

  dispose(): void {
    this.freeActs();
    this.kernels.free(this.ropeBufs.cos);
    this.kernels.free(this.ropeBufs.sin);
  }
}

/** the input rules every ForwardModel enforces (shapes, ids, positions, rows, mask); N = B·T rows, Tk key rows */
export function checkForwardInput(cfg: ModelConfig, input: ForwardInput): { N: number; rowStart: number; Tk: number } {
  const { B, T, tokens, cache } = input,
    N = B * T,
    rowStart = input.rowStart ?? 0;
  if (tokens.length !== N) throw new Error(`forward: tokens has ${tokens.length} ids, B·T = ${N}`);
  const Tk = cache ? cache.capacity : T;
  if (cache && cache.B !== B) throw new Error(`forward: cache holds ${cache.B} sequences, input has B=${B}`);
  if (rowStart < 0 || rowStart + T > Tk) throw new Error(`forward: rows ${rowStart}..${rowStart + T - 1} do not fit ${Tk} key rows`);
  if (!cache && rowStart !== 0) throw new Error('forward: rowStart needs a cache');
  if (Tk > cfg.maxPositions) throw new Error(`forward: ${Tk} positions exceed the model's ${cfg.maxPositions}`);
  for (let i = 0; i < N; i++)
    if (!(tokens[i]! >= 0 && tokens[i]! < cfg.vocabSize))
      throw new Error(`model: token id ${tokens[i]} at ${i} is outside the vocabulary 0..${cfg.vocabSize - 1}`);
  const positions = input.positions;
  if (positions && positions.length !== N) throw new Error(`forward: positions has ${positions.length} entries, B·T = ${N}`);
  for (const p of positions ?? [])
    if (!(p >= 0 && p < cfg.maxPositions)) throw new Error(`forward: position ${p} is outside the model's 0..${cfg.maxPositions - 1}`);
  const keyValid = input.keyValid;
  if (keyValid && keyValid.length !== B * Tk) throw new Error(`forward: keyValid has ${keyValid.length} entries, B·Tk = ${B * Tk}`);
  for (const [r, i] of (input.logitRows ?? []).entries())
    if (!(i >= 0 && i < N)) throw new Error(`forward: logitRows[${r}] = ${i} is outside 0..${N - 1}`);
  const mask = input.mask ?? defaultMask(cfg);
  checkMask('forward', { mask: mask.kind, blockLength: mask.blockLength ?? 0, Tq: T, Tk, qStart: rowStart });
  return { N, rowStart, Tk };
}

/** the mask of a forward that names none: causal for AR models, block-causal for block-diffusion ones, else none */
export function defaultMask(cfg: ModelConfig): { kind: MaskKind; blockLength: number } {
  if (cfg.bdSize) return { kind: 'blockCausal', blockLength: cfg.bdSize };
  return { kind: cfg.attention === 'causal' ? 'causal' : 'none', blockLength: 0 };
}

export function defaultPositions(B: number, T: number, start = 0): Int32Array {
  const p = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) p[b * T + t] = start + t;
  return p;
}

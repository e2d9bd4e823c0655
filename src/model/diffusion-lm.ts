// A Transformer seen as the sampler's Denoiser (sampler/types.ts, satisfied structurally: model/ does not
// import sampler/). It aligns logits so that row i scores the token AT position i — Dream predicts i+1 from
// i (dllm-reference.md §3.2: logits = cat([l[:, :1], l[:, :-1]])) — and it implements Fast-dLLM's block
// caches (arXiv 2505.22618 §2.3) as a wrapper, never as a second decoding loop:
//   none   — every call is a full forward (exact; the default, for parity with the references)
//   prefix — at a block's first step, a full forward fills the K/V cache and gives that step's logits; later
//            steps recompute only the block and everything after it, reading the prefix from the cache
//   dual   — as prefix, but later steps recompute only the block; prefix and suffix come from the cache
//   block  — EXACT, for block-causal decoding only (a request with `blockCausal`: SDAR / LLaDA2 / Fast-dLLM v2
//            models): an append-only cache of the finished blocks; each step computes the active block
//            alone, the first step of a block also the block that just finished (block-cache.ts)
// prefix and dual are approximate: keys outside the recomputed rows are those of the block's first step.
// With `blockCausal` every mode passes the block-causal mask to the model; without it, the model's own.
import { BlockCacheState } from './block-cache.js';
import { defaultPositions, type ForwardInput, type ForwardModel, type KVCache } from './forward.js';

export const CACHE_MODES = ['none', 'prefix', 'dual', 'block'] as const;

/** the score the decoder ranks a position by (the sampler's ConfidenceKind, restated: model/ does not import sampler/) */
export type ConfidenceKind = 'probability' | 'margin' | 'negEntropy';
export type CacheMode = (typeof CACHE_MODES)[number];

/** the --cache help, one place for the CLI and the server */
export const CACHE_HELP =
  'none (exact) | prefix | dual (Fast-dLLM, approximate) | block (exact append-only cache for block-causal decoding: implies blockCausal; exact only for models trained block-causally — on a bidirectional LLaDA it changes the attention)';

export interface DenoiseRequest {
  tokens: Int32Array; // (B, T)
  B: number;
  T: number;
  positions?: Int32Array; // (B, T)
  keyValid?: Uint8Array | null; // (B, T)
  region?: { start: number; end: number; blockStart: boolean };
  blockCausal?: number; // L: block-causal mask over blocks of L columns (sampler/types.ts DenoiseInput)
}

export interface Specials {
  mask: number;
  eos: number | null;
  eot: number | null;
  pad: number | null;
}

export class DiffusionLM {
  readonly vocabSize: number;
  /** rows of the model computed so far (a cost counter: full forward of T rows adds B·T) */
  rowsComputed = 0;
  private cache: KVCache | null = null;
  private blockState: BlockCacheState | null = null; // mode 'block': which cache columns are exact

  constructor(
    readonly model: ForwardModel,
    readonly specials: Specials,
    readonly cacheMode: CacheMode = 'none',
  ) {
    this.vocabSize = model.config.vocabSize;
    if (model.config.attention === 'causal') throw new Error('DiffusionLM: a causal model is not a denoiser; use it for AR decoding');
  }

  private rows(tokens: Int32Array, B: number, T: number, a: number, b: number): Int32Array {
    const R = b - a,
      out = new Int32Array(B * R);
    for (let i = 0; i < B; i++) out.set(tokens.subarray(i * T + a, i * T + b), i * R);
    return out;
  }

  async denoise(req: DenoiseRequest): Promise<Float32Array> {
    const { out, need0, N } = await this.compute(req, (fi) => this.model.forward(fi));
    return align(out, this.vocabSize, req, need0, N, this.model.config.shiftLogits); // (B, R, V)
  }

  /**
   * Whether denoiseTop1 is available: the forward engine computes the argmax and its probability itself
   * (ONNX Runtime's graph, platform/node-ort.ts); the sampler then skips the logits (sampler/types.ts).
   */
  get hasTop1(): boolean {
    return typeof (this.model as Partial<Top1Forward>).forwardTop1 === 'function';
  }

  /** per row of the region: argmax of the logits with `banned` ids excluded, and its softmax probability; (B, R) each */
  async denoiseTop1(
    req: DenoiseRequest,
    banned: readonly number[],
    kind: ConfidenceKind = 'probability',
  ): Promise<{ token: Int32Array; confidence: Float32Array }> {
    const model = this.model as ForwardModel & Partial<Top1Forward>;
    if (!model.forwardTop1) throw new Error('denoiseTop1: this forward engine computes no top-1 (use denoise)');
    const { out, need0, N } = await this.compute(req, (fi) => model.forwardTop1!(fi, banned, kind));
    const shift = this.model.config.shiftLogits;
    return { token: align(out.token, 1, req, need0, N, shift), confidence: align(out.confidence, 1, req, need0, N, shift) };
  }

  /** the forward this request needs (full, or the cached block), asking `fetch` for the model rows [need0, need0 + N) */
  private async compute<Out>(
    req: DenoiseRequest,
    fetch: (input: ForwardInput) => Out | Promise<Out>,
  ): Promise<{ out: Out; need0: number; N: number }> {
    const { B, T, tokens } = req;
    const shift = this.model.config.shiftLogits;
    const start = req.region?.start ?? 0,
      end = req.region?.end ?? T;
    if (start < 0 || end > T || start >= end) throw new Error(`denoise: region ${start}..${end} is not inside 0..${T}`);
    const positions = req.positions ?? defaultPositions(B, T);
    const keyValid = req.keyValid ?? null;
    // model rows whose logits we need: [start, end), or one earlier for a shifted model
    const need0 = shift ? Math.max(0, start - 1) : start,
      need1 = shift ? Math.max(end - 1, need0 + 1) : end;
    const mask: Pick<ForwardInput, 'mask'> = req.blockCausal ? { mask: { kind: 'blockCausal', blockLength: req.blockCausal } } : {};
    if (this.cacheMode === 'block') return this.computeBlock(req, fetch, positions, keyValid, mask, need0, need1, end);
    let out: Out;
    let c0: number, c1: number; // computed rows [c0, c1)
    const full =
      this.cacheMode === 'none' || !req.region || req.region.blockStart || !this.cache || this.cache.capacity !== T || this.cache.B !== B;
    if (full) {
      if (this.cacheMode !== 'none') {
        if (!this.cache || this.cache.capacity !== T || this.cache.B !== B) {
          if (this.cache) this.model.freeCache(this.cache);
          this.cache = this.model.createCache(B, T);
        }
      }
      c0 = 0;
      c1 = T;
      out = await fetch({
        tokens,
        B,
        T,
        positions,
        keyValid,
        ...mask,
        logitRows: logitRows(B, T, need0 - c0, need1 - c0),
        ...(this.cacheMode !== 'none' ? { cache: this.cache!, rowStart: 0 } : {}),
      });
    } else {
      c0 = need0;
      c1 = this.cacheMode === 'prefix' ? T : Math.max(need1, end);
      const R = c1 - c0;
      out = await fetch({
        tokens: this.rows(tokens, B, T, c0, c1),
        B,
        T: R,
        positions: this.rows(positions, B, T, c0, c1),
        keyValid,
        ...mask,
        cache: this.cache!,
        rowStart: c0,
        logitRows: logitRows(B, R, need0 - c0, need1 - c0),
      });
    }
    this.rowsComputed += B * (c1 - c0);
    return { out, need0, N: need1 - need0 };
  }

  /**
   * cache mode 'block': compute the columns from the first block whose inputs changed (BlockCacheState) to
   * the end of the active block, reading the columns before from the cache. Keys after the active block
   * stay stale in the cache; the block-causal mask never shows them to these queries.
   */
  private async computeBlock<Out>(
    req: DenoiseRequest,
    fetch: (input: ForwardInput) => Out | Promise<Out>,
    positions: Int32Array,
    keyValid: Uint8Array | null,
    mask: Pick<ForwardInput, 'mask'>,
    need0: number,
    need1: number,
    end: number,
  ): Promise<{ out: Out; need0: number; N: number }> {
    const { B, T, tokens } = req,
      L = req.blockCausal;
    if (!L)
      throw new Error(
        "denoise: cache 'block' is exact only under block-causal attention; the request has none (decode option blockCausal)",
      );
    const start = req.region?.start ?? 0;
    if (start % L !== 0)
      throw new Error(
        `denoise: cache 'block' needs the active block on a multiple of the block length ${L}, got column ${start} (decode option blockCausal lays blocks so)`,
      );
    if (!this.cache || this.cache.capacity !== T || this.cache.B !== B) {
      if (this.cache) this.model.freeCache(this.cache);
      this.cache = this.model.createCache(B, T);
      this.blockState = null;
    }
    const reuse = this.blockState?.reusable(B, T, L, tokens, positions, keyValid) ?? 0;
    const c0 = Math.min(reuse, need0),
      c1 = Math.min(T, Math.ceil(end / L) * L); // computed columns [c0, c1): whole blocks
    const R = c1 - c0;
    this.blockState = null; // the cache is being written: trusted again only once the forward is done
    const out = await fetch({
      tokens: this.rows(tokens, B, T, c0, c1),
      B,
      T: R,
      positions: this.rows(positions, B, T, c0, c1),
      keyValid,
      ...mask,
      cache: this.cache,
      rowStart: c0,
      logitRows: logitRows(B, R, need0 - c0, need1 - c0),
    });
    this.blockState = BlockCacheState.after(B, T, L, tokens, positions, keyValid, c1);
    this.rowsComputed += B * R;
    return { out, need0, N: need1 - need0 };
  }

  /** drop the cache (call between requests) */
  reset(): void {
    if (this.cache) this.model.freeCache(this.cache);
    this.cache = null;
    this.blockState = null;
  }
}

/**
 * the (B·C) row indices of rows [a, b) of every batch entry of a call over C rows: the LM head (C × V per
 * row, about a third of a small model's per-row work) and the logits transfer then cover only the rows the
 * sampler reads, not the whole canvas
 */
function logitRows(B: number, C: number, a: number, b: number): Int32Array {
  const out = new Int32Array(B * (b - a));
  for (let i = 0; i < B; i++) for (let r = a; r < b; r++) out[i * (b - a) + r - a] = i * C + r;
  return out;
}

/** a forward engine that can also return per-row argmax + probability (OrtTransformer) */
export interface Top1Forward {
  forwardTop1(
    input: ForwardInput,
    banned: readonly number[],
    kind?: ConfidenceKind,
  ): Promise<{ token: Int32Array; confidence: Float32Array }>;
}

/**
 * model rows [need0, need0 + N) of each batch entry, `width` values each (B, N, width) → the region's rows
 * (B, end − start, width): the same rows for an unshifted model; for Dream, row i is scored by model row i − 1
 * (row 0 by itself)
 */
function align<A extends Float32Array | Int32Array>(
  src: A,
  width: number,
  req: DenoiseRequest,
  need0: number,
  N: number,
  shift: boolean,
): A {
  if (!shift) return src;
  const B = req.B,
    start = req.region?.start ?? 0,
    end = req.region?.end ?? req.T,
    R = end - start;
  const out = new (src.constructor as new (n: number) => A)(B * R * width);
  for (let b = 0; b < B; b++) {
    for (let i = start; i < end; i++) {
      const row = Math.max(0, i - 1) - need0;
      out.set(src.subarray((b * N + row) * width, (b * N + row + 1) * width), (b * R + i - start) * width);
    }
  }
  return out;
}

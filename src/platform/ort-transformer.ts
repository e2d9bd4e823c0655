// The model on ONNX Runtime, for any of its JavaScript packages (onnxruntime-node: native MLAS kernels;
// onnxruntime-web: the same kernels in WebAssembly): a ForwardModel like the Transformer, so DiffusionLM's
// prefix/dual caches and CausalLM's AR cache run unchanged over it. The graph comes from onnx/graph.ts; this
// file turns a ForwardInput into its inputs — the attention bias from the mask kind, key padding and the cache
// slots the computed rows replace; the cache itself, kept in the graph's layout and fed without a copy — and
// writes the computed rows' keys and values back into the cache. The runtime is passed in (its Tensor class and a
// session), so this file imports no runtime and runs in Node and in a page alike.
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { KVCache, ForwardInput, ForwardModel } from '../model/forward.js';
import { maskAllows } from '../kernels/ref/attention.js';
import { checkForwardInput, defaultMask, defaultPositions } from '../model/forward.js';
import type { ModelConfig } from '../model/config.js';
import type { ConfidenceKind } from '../model/diffusion-lm.js';
import { CONFIDENCE_KIND_INDEX } from '../onnx/confidence-graph.js';
import { MASKED } from '../onnx/graph.js';

/** what this file needs of an ONNX Runtime package: its Tensor class (onnxruntime-node's or -web's `Tensor`) */
export interface OrtRuntime {
  Tensor: typeof OrtTensor;
}

/**
 * Where a forward's milliseconds go (bench:decode's breakdown): building the inputs (ids, positions, the
 * attention bias), the graph run itself, and writing the new keys/values into the cache.
 * Accumulated over calls; reset() between measurements.
 */

export class ForwardProfile {
  calls = 0;
  inputsMs = 0;
  runMs = 0;
  cacheMs = 0;
  reset(): void {
    this.calls = 0;
    this.inputsMs = 0;
    this.runMs = 0;
    this.cacheMs = 0;
  }
}

export class OrtTransformer implements ForwardModel {
  readonly profile = new ForwardProfile();
  constructor(
    readonly config: ModelConfig,
    private readonly session: InferenceSession,
    private readonly rt: OrtRuntime,
  ) {}

  /**
   * The cache in the graph's layout, so a step feeds it as it lies (no copy, any batch): per layer
   * k (B, Hkv, D, capacity) — keys transposed for Q·Kᵀ — and v (B, Hkv, capacity, D)
   */
  createCache(B: number, capacity: number): KVCache {
    if (capacity > this.config.maxPositions)
      throw new Error(`cache: ${capacity} rows exceed the model's ${this.config.maxPositions} positions`);
    const n = B * capacity * this.config.numKvHeads * this.config.headDim;
    const mk = () => Array.from({ length: this.config.numLayers }, () => new Float32Array(n));
    return { B, capacity, k: mk(), v: mk() };
  }

  freeCache(cache: KVCache): void {
    cache.k.length = 0;
    cache.v.length = 0;
  }

  async forward(input: ForwardInput): Promise<Float32Array> {
    return (await this.run(input, null)).logits;
  }

  /**
   * The forward, but per logits row only the argmax of logits + bias and its softmax probability, computed in
   * the graph: (Nr) ids and (Nr) probabilities come back instead of (Nr, V) logits. `banned` ids get −1e9.
   */
  async forwardTop1(
    input: ForwardInput,
    banned: readonly number[],
    kind: ConfidenceKind = 'probability',
  ): Promise<{ token: Int32Array; confidence: Float32Array }> {
    const bias = new Float32Array(this.config.vocabSize); // (V)
    for (const b of banned) if (b >= 0 && b < bias.length) bias[b] = MASKED;
    const out = await this.run(input, { bias, kind: CONFIDENCE_KIND_INDEX[kind] });
    return { token: out.token!, confidence: out.confidence! };
  }

  private async run(
    input: ForwardInput,
    top: { bias: Float32Array; kind: number } | null,
  ): Promise<{ logits: Float32Array; token?: Int32Array; confidence?: Float32Array }> {
    const topBias = top?.bias ?? null;
    const cfg = this.config,
      { B, T, tokens, cache } = input;
    const t0 = performance.now();
    const { N, rowStart, Tk } = checkForwardInput(cfg, input);
    const positions = input.positions ?? defaultPositions(B, T, rowStart);
    const keyValid = input.keyValid ?? null;
    const mask = input.mask ?? defaultMask(cfg);
    const kind = mask.kind,
      bl = mask.blockLength ?? 0;
    // keys: the S cache slots, then the T fresh rows, which replace slots rowStart … rowStart + T − 1
    // without a cache, one zero slot that no query sees: a zero-sized input breaks ORT's WebGPU provider
    const S = cache ? Tk : 1,
      K = S + T;
    const bias = new Float32Array(B * T * K); // (B, 1, T, S + T)
    const queryValid = new Float32Array(B * T); // (B, 1, T, 1)
    const keyRow = (c: number) => (c < S ? c : rowStart + c - S);
    for (let b = 0; b < B; b++) {
      // what a query sees apart from the mask: a key not replaced by a fresh row, not padding
      const open = new Uint8Array(K); // (S + T)
      for (let c = 0; c < K; c++) {
        const j = keyRow(c);
        const replaced = c < S && (!cache || (j >= rowStart && j < rowStart + T));
        open[c] = !replaced && (!keyValid || keyValid[b * Tk + j] !== 0) ? 1 : 0;
      }
      for (let i = 0; i < T; i++) {
        const p = rowStart + i,
          o = (b * T + i) * K;
        let any = 0;
        for (let c = 0; c < K; c++) {
          // bidirectional (kind none): every query of the sequence sees the same keys
          const seen = open[c] === 1 && (kind === 'none' || maskAllows(kind, bl, Tk, p, keyRow(c)));
          if (!seen) bias[o + c] = MASKED;
          else any = 1;
        }
        queryValid[b * T + i] = any;
      }
    }
    const rows = input.logitRows ?? Int32Array.from({ length: N }, (_, i) => i);
    const i64 = (a: ArrayLike<number>) => {
      const o = new BigInt64Array(a.length);
      for (let i = 0; i < a.length; i++) o[i] = BigInt(a[i]!);
      return o;
    };
    const Hkv = cfg.numKvHeads,
      D = cfg.headDim;
    const feeds: Record<string, OrtTensor> = {
      input_ids: new this.rt.Tensor('int64', i64(tokens), [B, T]),
      position_ids: new this.rt.Tensor('int64', i64(positions), [B, T]),
      attn_bias: new this.rt.Tensor('float32', bias, [B, 1, T, K]),
      query_valid: new this.rt.Tensor('float32', queryValid, [B, 1, T, 1]),
      logit_rows: new this.rt.Tensor('int64', i64(rows), [rows.length]),
      logit_bias: new this.rt.Tensor('float32', topBias ?? this.zeroBias, [cfg.vocabSize]),
      confidence_kind: new this.rt.Tensor('int64', BigInt64Array.of(BigInt(top?.kind ?? 0)), [1]), // 0: logits only
    };
    const none = new Float32Array(B * Hkv * D); // the one unseen slot
    for (let l = 0; l < cfg.numLayers; l++) {
      feeds[`cache_key.${l}`] = new this.rt.Tensor('float32', cache?.k[l] ?? none, [B, Hkv, D, S]);
      feeds[`cache_value.${l}`] = new this.rt.Tensor('float32', cache?.v[l] ?? none, [B, Hkv, S, D]);
    }
    // without a cache nobody reads the new keys/values: fetch the logits alone (ORT then skips those outputs)
    const t1 = performance.now();
    const wanted = top ? ['top_id', 'top_confidence'] : ['logits'];
    if (cache) for (let l = 0; l < cfg.numLayers; l++) wanted.push(`present_key.${l}`, `present_value.${l}`);
    const out = await this.session.run(feeds, wanted);
    const t2 = performance.now();
    if (cache)
      for (let l = 0; l < cfg.numLayers; l++) {
        // present k (B, Hkv, D, T) and v (B, Hkv, T, D) into the cache's slots rowStart … rowStart + T − 1
        const k = out[`present_key.${l}`]!.data as Float32Array,
          v = out[`present_value.${l}`]!.data as Float32Array,
          ck = cache.k[l]!,
          cv = cache.v[l]!;
        for (let b = 0; b < B; b++)
          for (let h = 0; h < Hkv; h++) {
            const bh = b * Hkv + h;
            cv.set(v.subarray(bh * T * D, (bh + 1) * T * D), (bh * Tk + rowStart) * D);
            for (let d = 0; d < D; d++) ck.set(k.subarray((bh * D + d) * T, (bh * D + d + 1) * T), (bh * D + d) * Tk + rowStart);
          }
      }
    const p = this.profile;
    p.calls++;
    p.inputsMs += t1 - t0;
    p.runMs += t2 - t1;
    p.cacheMs += performance.now() - t2;
    if (!topBias) return { logits: out['logits']!.data as Float32Array };
    const ids = out['top_id']!.data as BigInt64Array,
      token = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) token[i] = Number(ids[i]!);
    return { logits: new Float32Array(0), token, confidence: out['top_confidence']!.data as Float32Array };
  }
  private zeroBiasBuf: Float32Array | null = null;
  private get zeroBias(): Float32Array {
    return (this.zeroBiasBuf ??= new Float32Array(this.config.vocabSize));
  }

  dispose(): void {
    void this.session.release();
  }
}

// The model on ONNX Runtime, for any of its JavaScript packages (onnxruntime-node: native MLAS kernels;
// onnxruntime-web: the same kernels in WebAssembly): a ForwardModel like the Transformer, so DiffusionLM's
// prefix/dual caches and CausalLM's AR cache run unchanged over it. The graph comes from onnx/graph.ts; this
// file turns a ForwardInput into its inputs — the attention bias from the mask kind and key padding, the cached
// rows before and after the computed ones — and writes the computed rows' keys and values back into the cache
// (same layout as the Transformer's: L × (B, Tk, Hkv·D)). The runtime is passed in (its Tensor class and a
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
 * attention bias, the cache rows copied out), the graph run itself, and copying the new keys/values back.
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
    // keys past the last computed row are never visible to a causal query: leave them out of the call
    const kEnd = kind === 'causal' ? rowStart + T : Tk;
    const bias = new Float32Array(B * T * kEnd); // (B, 1, R, kEnd)
    const queryValid = new Float32Array(B * T).fill(1); // (B, 1, R, 1)
    if (kind !== 'none' || keyValid) {
      // (bidirectional without padding: all zeros, every query sees keys)
      for (let b = 0; b < B; b++)
        for (let i = 0; i < T; i++) {
          const p = rowStart + i,
            o = (b * T + i) * kEnd;
          let any = 0;
          for (let j = 0; j < kEnd; j++) {
            const seen = (!keyValid || keyValid[b * Tk + j] !== 0) && maskAllows(kind, bl, Tk, p, j);
            if (!seen) bias[o + j] = MASKED;
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
    const feeds: Record<string, OrtTensor> = {
      input_ids: new this.rt.Tensor('int64', i64(tokens), [B, T]),
      position_ids: new this.rt.Tensor('int64', i64(positions), [B, T]),
      attn_bias: new this.rt.Tensor('float32', bias, [B, 1, T, kEnd]),
      query_valid: new this.rt.Tensor('float32', queryValid, [B, 1, T, 1]),
      logit_rows: new this.rt.Tensor('int64', i64(rows), [rows.length]),
      logit_bias: new this.rt.Tensor('float32', topBias ?? this.zeroBias, [cfg.vocabSize]),
      confidence_kind: new this.rt.Tensor('int64', BigInt64Array.of(BigInt(top?.kind ?? 0)), [1]), // 0: logits only
    };
    const Hkv = cfg.numKvHeads,
      D = cfg.headDim,
      kvRow = Hkv * D;
    let copyMs = 0; // the cached rows copied out into the feeds (a KV-cache copy, counted with the write-back)
    const slice = (buf: Float32Array | null, from: number, to: number): OrtTensor => {
      // rows [from, to) of (B, Tk, Hkv, D)
      const c0 = performance.now();
      try {
        return sliceRows(buf, from, to);
      } finally {
        copyMs += performance.now() - c0;
      }
    };
    const sliceRows = (buf: Float32Array | null, from: number, to: number): OrtTensor => {
      const n = Math.max(0, to - from);
      // one sequence: rows [from, to) are contiguous, so the feed is a view of the cache — no copy at all
      if (B === 1 && buf && n) return new this.rt.Tensor('float32', buf.subarray(from * kvRow, to * kvRow), [1, n, Hkv, D]);
      const key = `${B}:${Tk}:${from}:${to}`,
        memo = buf ? this.rowMemo.get(buf) : undefined,
        hit = memo?.get(key);
      if (hit) return hit; // a block's later steps read the same rows before and after it: copied once per block
      const out = new Float32Array(B * n * kvRow);
      if (buf && n) for (let b = 0; b < B; b++) out.set(buf.subarray((b * Tk + from) * kvRow, (b * Tk + to) * kvRow), b * n * kvRow);
      const t = new this.rt.Tensor('float32', out, [B, n, Hkv, D]);
      if (buf && n) {
        if (!memo) this.rowMemo.set(buf, new Map([[key, t]]));
        else memo.set(key, t);
      }
      return t;
    };
    for (let l = 0; l < cfg.numLayers; l++) {
      feeds[`past_key_before.${l}`] = slice(cache?.k[l] ?? null, 0, cache ? rowStart : 0);
      feeds[`past_value_before.${l}`] = slice(cache?.v[l] ?? null, 0, cache ? rowStart : 0);
      feeds[`past_key_after.${l}`] = slice(cache?.k[l] ?? null, rowStart + T, cache ? kEnd : 0);
      feeds[`past_value_after.${l}`] = slice(cache?.v[l] ?? null, rowStart + T, cache ? kEnd : 0);
    }
    // without a cache nobody reads the new keys/values: fetch the logits alone (ORT then skips those outputs)
    const t1 = performance.now();
    const wanted = top ? ['top_id', 'top_confidence'] : ['logits'];
    if (cache) for (let l = 0; l < cfg.numLayers; l++) wanted.push(`present_key.${l}`, `present_value.${l}`);
    const out = await this.session.run(feeds, wanted);
    const t2 = performance.now();
    if (cache) {
      for (let l = 0; l < cfg.numLayers; l++) {
        forgetRows(this.rowMemo.get(cache.k[l]!), rowStart, rowStart + T);
        forgetRows(this.rowMemo.get(cache.v[l]!), rowStart, rowStart + T);
        const k = out[`present_key.${l}`]!.data as Float32Array,
          v = out[`present_value.${l}`]!.data as Float32Array;
        for (let b = 0; b < B; b++) {
          cache.k[l]!.set(k.subarray(b * T * kvRow, (b + 1) * T * kvRow), (b * Tk + rowStart) * kvRow);
          cache.v[l]!.set(v.subarray(b * T * kvRow, (b + 1) * T * kvRow), (b * Tk + rowStart) * kvRow);
        }
      }
    }
    const p = this.profile;
    p.calls++;
    p.inputsMs += t1 - t0 - copyMs;
    p.runMs += t2 - t1;
    p.cacheMs += copyMs + performance.now() - t2;
    if (!topBias) return { logits: out['logits']!.data as Float32Array };
    const ids = out['top_id']!.data as BigInt64Array,
      token = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) token[i] = Number(ids[i]!);
    return { logits: new Float32Array(0), token, confidence: out['top_confidence']!.data as Float32Array };
  }
  /** per cache buffer: feeds already copied out of it, by rows; a write into the rows drops the copies it overlaps */
  private readonly rowMemo = new WeakMap<Float32Array, Map<string, OrtTensor>>();
  private zeroBiasBuf: Float32Array | null = null;
  private get zeroBias(): Float32Array {
    return (this.zeroBiasBuf ??= new Float32Array(this.config.vocabSize));
  }

  dispose(): void {
    void this.session.release();
  }
}

/** drop the memoised feeds whose rows [from, to) (key `B:Tk:from:to`) overlap the rows [a, b) just written */
function forgetRows(memo: Map<string, OrtTensor> | undefined, a: number, b: number): void {
  if (!memo) return;
  for (const key of memo.keys()) {
    const [, , from, to] = key.split(':').map(Number) as [number, number, number, number];
    if (from < b && a < to) memo.delete(key);
  }
}

// The model on ONNX Runtime (onnxruntime-node, native MLAS kernels): a ForwardModel like the Transformer, so
// DiffusionLM's prefix/dual caches and CausalLM's AR cache run unchanged over it. The graph comes from
// onnx/graph.ts; this file turns a ForwardInput into its inputs — the attention bias from the mask kind and
// key padding, the cached rows before and after the computed ones — and writes the computed rows' keys and
// values back into the cache (same layout as the Transformer's: L × (B, Tk, Hkv·D)).
import ort from 'onnxruntime-node';
import type { KVCache, ForwardInput, ForwardModel } from '../model/forward.js';
import { maskAllows } from '../kernels/ref/attention.js';
import { checkForwardInput, defaultMask, defaultPositions } from '../model/forward.js';
import type { ModelConfig } from '../model/config.js';
import type { ConfidenceKind } from '../model/diffusion-lm.js';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildOnnxModel, MASKED, type OnnxBuildOptions, type WeightSource } from '../onnx/graph.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { loadF32Model } from './node-model.js';

export interface OrtOptions extends OnnxBuildOptions {
  threads?: number;
}

export const ORT_VERSION: string = ort.env.versions?.node ?? 'unknown';

/** an ONNX model file or bytes → session on the CPU provider with `threads` intra-op threads */
export function ortSession(model: string | Uint8Array, threads = 0): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // idle pool threads sleep instead of spinning: several sessions in one process (two served models, a
    // benchmark's reference graph) would otherwise take each other's cores
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

/**
 * Where a forward's milliseconds go (bench:decode's breakdown): building the inputs (ids, positions, the
 * attention bias, the cache rows copied out), the graph run itself, and copying the new keys/values back.
 * Accumulated over calls; reset() between measurements.
 */
/** the graph output that holds each confidence kind (onnx/graph.ts) */
const CONFIDENCE_OUTPUT: Record<ConfidenceKind, string> = { probability: 'top_prob', margin: 'top_margin', negEntropy: 'top_neg_entropy' };

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
  private constructor(
    readonly config: ModelConfig,
    private readonly session: ort.InferenceSession,
  ) {}

  /** build the graph from f32 weights (our parameter names) and open a session */
  static async create(config: ModelConfig, weights: WeightSource, o: OrtOptions = { dtype: 'f32' }): Promise<OrtTransformer> {
    return OrtTransformer.fromSession(config, await ortSession(buildOnnxModel(config, weights, o), o.threads ?? 0));
  }

  static fromSession(config: ModelConfig, session: ort.InferenceSession): OrtTransformer {
    return new OrtTransformer(config, session);
  }

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
    const out = await this.run(input, { bias, output: CONFIDENCE_OUTPUT[kind] });
    return { token: out.token!, confidence: out.confidence! };
  }

  private async run(
    input: ForwardInput,
    top: { bias: Float32Array; output: string } | null,
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
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', i64(tokens), [B, T]),
      position_ids: new ort.Tensor('int64', i64(positions), [B, T]),
      attn_bias: new ort.Tensor('float32', bias, [B, 1, T, kEnd]),
      query_valid: new ort.Tensor('float32', queryValid, [B, 1, T, 1]),
      logit_rows: new ort.Tensor('int64', i64(rows), [rows.length]),
      logit_bias: new ort.Tensor('float32', topBias ?? this.zeroBias, [cfg.vocabSize]),
    };
    const Hkv = cfg.numKvHeads,
      D = cfg.headDim,
      kvRow = Hkv * D;
    let copyMs = 0; // the cached rows copied out into the feeds (a KV-cache copy, counted with the write-back)
    const slice = (buf: Float32Array | null, from: number, to: number): ort.Tensor => {
      // rows [from, to) of (B, Tk, Hkv, D)
      const c0 = performance.now();
      try {
        return sliceRows(buf, from, to);
      } finally {
        copyMs += performance.now() - c0;
      }
    };
    const sliceRows = (buf: Float32Array | null, from: number, to: number): ort.Tensor => {
      const n = Math.max(0, to - from);
      // one sequence: rows [from, to) are contiguous, so the feed is a view of the cache — no copy at all
      if (B === 1 && buf && n) return new ort.Tensor('float32', buf.subarray(from * kvRow, to * kvRow), [1, n, Hkv, D]);
      const key = `${B}:${Tk}:${from}:${to}`,
        memo = buf ? this.rowMemo.get(buf) : undefined,
        hit = memo?.get(key);
      if (hit) return hit; // a block's later steps read the same rows before and after it: copied once per block
      const out = new Float32Array(B * n * kvRow);
      if (buf && n) for (let b = 0; b < B; b++) out.set(buf.subarray((b * Tk + from) * kvRow, (b * Tk + to) * kvRow), b * n * kvRow);
      const t = new ort.Tensor('float32', out, [B, n, Hkv, D]);
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
    const wanted = top ? ['top_id', top.output] : ['logits'];
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
    return { logits: new Float32Array(0), token, confidence: out[top!.output]!.data as Float32Array };
  }
  /** per cache buffer: feeds already copied out of it, by rows; a write into the rows drops the copies it overlaps */
  private readonly rowMemo = new WeakMap<Float32Array, Map<string, ort.Tensor>>();
  private zeroBiasBuf: Float32Array | null = null;
  private get zeroBias(): Float32Array {
    return (this.zeroBiasBuf ??= new Float32Array(this.config.vocabSize));
  }

  dispose(): void {
    void this.session.release();
  }
}

/** a checkpoint folder on ONNX Runtime: its weights through the graph builder, its tokenizer */
export async function loadOrtModelDir(
  dir: string,
  o: OrtOptions = { dtype: 'f32' },
): Promise<{ config: ModelConfig; model: OrtTransformer; tokenizer: TextTokenizer | null; loadMs: number }> {
  const t0 = performance.now();
  const { config, weights, tokenizer } = await loadF32Model(dir);
  const model = await OrtTransformer.create(config, weights, o);
  return { config, model, tokenizer, loadMs: performance.now() - t0 };
}

/**
 * Write the graph to DIR/model.onnx with every initializer over 1 KiB in DIR/model.onnx.data (ONNX external
 * data, offsets aligned to 4 KiB so runtimes can map them): no 2 GB protobuf limit, and weights are written
 * as they are made. Returns the two paths and the data size.
 */
export function writeOnnxDir(
  dir: string,
  config: ModelConfig,
  weights: WeightSource,
  o: OnnxBuildOptions,
): { model: string; data: string; dataBytes: number } {
  mkdirSync(dir, { recursive: true });
  const model = join(dir, 'model.onnx'),
    data = join(dir, 'model.onnx.data');
  const tmpData = `${data}.${process.pid}.tmp`,
    tmpModel = `${model}.${process.pid}.tmp`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  try {
    const bytes = buildOnnxModel(config, weights, {
      ...o,
      external: (_name, b) => {
        const pad = (4096 - (offset % 4096)) % 4096;
        if (pad) {
          writeSync(fd, new Uint8Array(pad));
          offset += pad;
        }
        writeSync(fd, b);
        const at = { location: 'model.onnx.data', offset, length: b.byteLength };
        offset += b.byteLength;
        return at;
      },
    });
    closeSync(fd);
    writeFileSync(tmpModel, bytes);
    renameSync(tmpData, data); // the data first: a model.onnx on disk always has its data
    renameSync(tmpModel, model);
    return { model, data, dataBytes: offset };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
    throw e;
  }
}

/** drop the memoised feeds whose rows [from, to) (key `B:Tk:from:to`) overlap the rows [a, b) just written */
function forgetRows(memo: Map<string, ort.Tensor> | undefined, a: number, b: number): void {
  if (!memo) return;
  for (const key of memo.keys()) {
    const [, , from, to] = key.split(':').map(Number) as [number, number, number, number];
    if (from < b && a < to) memo.delete(key);
  }
}

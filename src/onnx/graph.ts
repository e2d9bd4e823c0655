// The transformer of model/forward.ts emitted as an ONNX graph (standard opset-17 ops, the com.microsoft
// rotary op; int8 weights through com.microsoft DynamicQuantizeMatMul), from the same config and parameter table, so ONNX Runtime runs the very model
// our kernels run: native MLAS on the CPU here, and the same file on its CUDA provider or in browsers on WebGPU.
// Inputs (one call computes R rows of B sequences; their queries see S cache slots, then the R fresh rows):
//   input_ids (B, R) int64 · position_ids (B, R) int64 · attn_bias (B, 1, R, S + R) float: 0 where a query may
//   see a key, −1e9 where not — the mask (bidirectional, causal, block-causal, key padding, and the cache
//   slots the fresh rows replace) is built by the caller, so one graph serves every mask · query_valid
//   (B, 1, R, 1): 0 for a query that sees no key (its attention output is zero, as in the kernels), else 1 ·
//   logit_rows (Nr) int64: rows of the flattened (B·R) to score · per layer l: cache_key.l (B, Hkv, D, S) and
//   cache_value.l (B, Hkv, S, D): the cached post-RoPE keys (transposed) and values (without a cache one zero slot the bias masks)
// logit_bias (V) float: added to the logits before top_id (−1e9 on banned ids) · confidence_kind (1) int64: which
// confidence top_confidence holds (confidence-graph.ts: 0 none, 1 p(argmax), 2 top-2 margin, 3 Σ p·log(p + 1e−10)).
// Outputs: logits (Nr, V); top_id (Nr) int64 and top_confidence (Nr): argmax of logits + logit_bias and its
// confidence (empty for kind 0); present_key.l (B, Hkv, D, R) / present_value.l (B, Hkv, R, D): the computed rows'
// keys/values in the cache's layout.
// Letters: B batch, R computed rows, S cache slots, C width, H heads, Hkv kv heads, D head dim, F FFN, V vocab.
import onnxProto from 'onnx-proto';
import { dequantizeQ8, Q4_BLOCK, quantizeQ4, quantizeQ8 } from '../kernels/quantize.js';
import { ropeTable } from '../kernels/rope-table.js';
import type { ModelConfig } from '../model/config.js';
import { fusedQkv, parameterTable } from '../model/params.js';
import { storageOf, type WeightDtype } from '../model/weights.js';
import { confidenceHeads } from './confidence-graph.js';
import { headRmsNorm, moeFfn } from './moe-graph.js';

export const { onnx } = onnxProto;
export const DT = onnx.TensorProto.DataType;
const dtName = (t: number): string => String((DT as unknown as Record<number, string | undefined>)[t] ?? t);
const AT = onnx.AttributeProto.AttributeType;
export const MASKED = -1e9; // additive bias of a hidden key: exp(−1e9 − max) is exactly 0 in float32

export interface OnnxBuildOptions {
  /**
   * f32 weights; int8 weights with a scale per output channel (com.microsoft DynamicQuantizeMatMul); or q4:
   * the kernels' 4-bit blocks of 32 (com.microsoft MatMulNBits) where weights.ts storageOf says q4, q8 where it
   * says q8, and the embedding table gathered as the values of its q8 storage, so both engines run one model
   */
  dtype: 'f32' | 'q8' | 'q4';
  /**
   * external data (models over protobuf's 2 GB): each initializer of more than 1 KiB is handed to this sink
   * as it is made (nothing is kept) and the graph records where the sink put it
   */
  external?: (name: string, bytes: Uint8Array) => { location: string; offset: number; length: number };
}

/** the weights by our parameter names: a Map, or a provider that makes each one on demand (huge models) */
export interface WeightSource {
  get(name: string): Float32Array | undefined;
  has(name: string): boolean;
}

/** an attribute value; a GraphProto is a control-flow body (If's then_branch / else_branch) */
type Attr = number | number[] | string | onnxProto.onnx.IGraphProto;
// attributes whose schema type is float: a whole value (alpha 1) must still be written as FLOAT
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'activation_alpha', 'activation_beta', 'swiglu_limit']);
function attr(name: string, v: Attr): Record<string, unknown> {
  if (typeof v === 'string') return { name, type: AT.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'object' && !Array.isArray(v)) return { name, type: AT.GRAPH, g: v };
  if (Array.isArray(v)) return { name, type: AT.INTS, ints: v };
  return Number.isInteger(v) && !FLOAT_ATTRS.has(name) ? { name, type: AT.INT, i: v } : { name, type: AT.FLOAT, f: v };
}

/** the graph under construction: nodes, initializers (inline or external), unique names */
export class Builder {
  nodes: onnxProto.onnx.INodeProto[] = [];
  inits: onnxProto.onnx.ITensorProto[] = [];
  private n = 0;
  private readonly names = new Map<string, { type: number; key: string }>(); // initializers are shared by name (shape constants, tied weights)
  /** a name asked for again must mean the same initializer: same type, and for constants the same values */
  private reuse(name: string, type: number, key: string): boolean {
    const had = this.names.get(name);
    if (!had) return false;
    if (had.type !== type || (key !== '' && had.key !== key))
      throw new Error(`onnx graph: initializer "${name}" asked for as ${dtName(type)} ${key} but it is ${dtName(had.type)} ${had.key}`);
    return true;
  }
  constructor(private readonly external?: OnnxBuildOptions['external']) {}
  private tensor(name: string, dataType: number, dims: number[], bytes: Uint8Array): void {
    this.names.set(name, { type: dataType, key: '' });
    if (this.external && bytes.byteLength > 1024) {
      const at = this.external(name, bytes);
      this.inits.push(
        onnx.TensorProto.create({
          name,
          dataType,
          dims,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: at.location },
            { key: 'offset', value: String(at.offset) },
            { key: 'length', value: String(at.length) },
          ],
        }),
      );
    } else this.inits.push(onnx.TensorProto.create({ name, dataType, dims, rawData: bytes }));
  }
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = '', outputs = 1, names: string[] = []): string[] {
    const outs = Array.from({ length: outputs }, (_, i) => names[i] ?? `t${this.n++}`);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: type,
        input: inputs,
        output: outs,
        domain,
        attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
      }),
    );
    return outs;
  }
  /** one node with one output, named `out` when it is a graph output */
  one(type: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = '', out?: string): string {
    return this.op(type, inputs, attrs, domain, 1, out ? [out] : [])[0]!;
  }
  /**
   * a subgraph (an If branch): the nodes `body` adds go into it, not into this graph; it reads this graph's
   * values and initializers from the outer scope and yields the values `body` returns as `outputs`
   */
  branch(name: string, outputs: onnxProto.onnx.IValueInfoProto[], body: () => string[]): onnxProto.onnx.IGraphProto {
    const outer = this.nodes;
    this.nodes = [];
    try {
      const values = body();
      values.forEach((v, i) => this.named(outputs[i]!.name!, v));
      return onnx.GraphProto.create({ name, node: this.nodes, output: outputs });
    } finally {
      this.nodes = outer;
    }
  }
  /** an alias for a value (graph outputs that are also used inside the graph) */
  named(name: string, from: string): void {
    this.nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [from], output: [name] }));
  }
  f32(name: string, dims: number[], data: Float32Array): string {
    if (!this.reuse(name, DT.FLOAT, '')) this.tensor(name, DT.FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return name;
  }
  i64(name: string, values: number[]): string {
    const key = `[${values.join(',')}]`;
    if (this.reuse(name, DT.INT64, key)) return name;
    this.names.set(name, { type: DT.INT64, key });
    this.inits.push(onnx.TensorProto.create({ name, dataType: DT.INT64, dims: [values.length], int64Data: values }));
    return name;
  }
  u8(name: string, dims: number[], data: Uint8Array): string {
    this.tensor(name, DT.UINT8, dims, data);
    return name;
  }
  i8(name: string, dims: number[], data: Int8Array): string {
    this.tensor(name, DT.INT8, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return name;
  }
}

export const valueInfo = (name: string, elem: number, dims: Array<number | string>) =>
  onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });

/** W (out, in) row-major → (in, out) for MatMul(x, Wᵀ) */
function transpose<A extends Float32Array | Int8Array>(w: A, rows: number, cols: number): A {
  const t = new (w.constructor as new (n: number) => A)(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c]!;
  return t;
}

/**
 * Linear y (…, N) = x (…, K) · W[name]ᵀ at the storage `storageOf` names for it: f32 MatMul, q4 MatMulNBits, or
 * q8 DynamicQuantizeMatMul; `out` names the output when it is a graph output
 */
export function graphLinear(
  g: Builder,
  w: (name: string) => Float32Array,
  storageOf: (name: string) => WeightDtype, // f32, q4, else int8
): (x: string, name: string, N: number, K: number, out?: string) => string {
  return (x, name, N, K, out) => {
    const as = storageOf(name);
    if (as === 'f32') return g.one('MatMul', [x, g.f32(name + '.T', [K, N], transpose(w(name), N, K))], {}, '', out);
    if (as === 'q4') {
      // MatMulNBits packs the codes of a block low-first along K (byte i: elements 2i, 2i + 1) with the zero
      // point 8 by default: the kernels' nibbles (byte t: elements t, t + 16) repacked, the same values
      const { q, scales } = quantizeQ4(w(name), N, K),
        packed = new Uint8Array(q.length);
      for (let b = 0; b < q.length / 16; b++) {
        const code = (e: number) => (e < 16 ? q[b * 16 + e]! & 0x0f : q[b * 16 + e - 16]! >>> 4);
        for (let i = 0; i < 16; i++) packed[b * 16 + i] = code(2 * i) | (code(2 * i + 1) << 4);
      }
      const blocks = K / Q4_BLOCK;
      return g.one(
        'MatMulNBits',
        [x, g.u8(name + '.q4', [N, blocks, Q4_BLOCK / 2], packed), g.f32(name + '.scales', [N * blocks], scales)],
        { K, N, bits: 4, block_size: Q4_BLOCK },
        'com.microsoft',
        out,
      );
    }
    // int8 weights with one scale per output channel (the wasm engine's q8 scheme); the activations are
    // quantized per call and the product runs on ORT's int8 GEMM (VNNI / AVX-512 where the CPU has them)
    const { q, scales } = quantizeQ8(w(name), N, K); // q (N, K), scales (N)
    return g.one(
      'DynamicQuantizeMatMul',
      [x, g.i8(name + '.q', [K, N], transpose(q, N, K)), g.f32(name + '.scales', [N], scales), g.i8(name + '.zero', [N], new Int8Array(N))],
      {},
      'com.microsoft',
      out,
    );
  };
}

export function buildOnnxModel(cfg: ModelConfig, weights: WeightSource, o: OnnxBuildOptions = { dtype: 'f32' }): Uint8Array {
  const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V, numLayers: L } = cfg;
  const g = new Builder(o.external);
  const w = (name: string): Float32Array => {
    const x = weights.get(name);
    if (!x) throw new Error(`onnx: weight "${name}" is missing`);
    return x;
  };
  const specs = new Map(parameterTable(cfg).map((s) => [s.name, s]));
  for (const s of specs.values()) if (!weights.has(s.name)) throw new Error(`onnx: weight "${s.name}" is missing`);
  const storage = (name: string) => (o.dtype === 'f32' ? 'f32' : o.dtype === 'q8' ? 'q8' : storageOf(specs.get(name)!, 'q4'));
  const linear = graphLinear(g, w, storage);
  // x / √(mean(x²) + ε) · w, spelled Pow → ReduceMean → Add → Sqrt → Div → Mul: the pattern ONNX Runtime's
  // optimizer fuses into one SimplifiedLayerNormalization kernel
  const two = g.f32('two', [1], Float32Array.of(2));
  const rmsnorm = (x: string, name: string): string => {
    const ms = g.one('ReduceMean', [g.one('Pow', [x, two])], { axes: [-1], keepdims: 1 });
    const rms = g.one('Sqrt', [g.one('Add', [ms, g.f32(name + '.eps', [1], Float32Array.of(cfg.normEps))])]);
    return g.one('Mul', [g.one('Div', [x, rms]), g.f32(name, [C], w(name))]);
  };
  const Rd = cfg.ropeDim ?? D; // rotary dims: all of D, or the first Rd (llada2's partial RoPE)
  const rope = ropeTable(cfg.ropeTheta, Rd, cfg.maxPositions);
  const cos = g.f32('rope.cos', [cfg.maxPositions, Rd / 2], rope.cos),
    sin = g.f32('rope.sin', [cfg.maxPositions, Rd / 2], rope.sin);
  const ropeAttrs = Rd === D ? {} : { rotary_embedding_dim: Rd };
  const shapeBRhD = (h: number) => g.i64(`shape_h${h}`, [0, 0, h, D]); // Reshape (B, R, h·D) → (B, R, h, D); 0 copies the dim

  let table = w('tokEmbed'); // (V, C)
  if (o.dtype === 'q4') {
    table = dequantizeQ8(quantizeQ8(table, V, C)); // the values the kernels' q8 embedding holds
  }
  let x = g.one('Gather', [g.f32('tokEmbed', [V, C], table), 'input_ids'], { axis: 0 }); // (B, R, C)
  const inputs = [
    valueInfo('input_ids', DT.INT64, ['B', 'R']),
    valueInfo('position_ids', DT.INT64, ['B', 'R']),
    valueInfo('attn_bias', DT.FLOAT, ['B', 1, 'R', 'SR']),
    valueInfo('query_valid', DT.FLOAT, ['B', 1, 'R', 1]),
    valueInfo('logit_rows', DT.INT64, ['Nr']),
  ];
  const outputs = [valueInfo('logits', DT.FLOAT, ['Nr', V])];
  const slots = g.one('Shape', ['cache_key.0'], { start: 3 }); // (1) S, the cache slots fed (0 without a cache)
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}.`;
    const h = rmsnorm(x, p + 'attnNorm');
    let q: string, k: string, v: string;
    if (fusedQkv(cfg.arch)) {
      // one (H + 2·Hkv)·D projection, rows q | k | v (llada2 query_key_value)
      let qkv = linear(h, p + 'wqkv', (H + 2 * Hkv) * D, C);
      if (cfg.qkvBias) qkv = g.one('Add', [qkv, g.f32(p + 'bqkv', [(H + 2 * Hkv) * D], w(p + 'bqkv'))]);
      [q, k, v] = g.op('Split', [qkv, g.i64(`split_qkv`, [H * D, Hkv * D, Hkv * D])], { axis: -1 }, '', 3) as [string, string, string];
    } else {
      q = linear(h, p + 'wq', H * D, C);
      k = linear(h, p + 'wk', Hkv * D, C);
      v = linear(h, p + 'wv', Hkv * D, C);
    }
    if (cfg.qkvBias && !fusedQkv(cfg.arch)) {
      q = g.one('Add', [q, g.f32(p + 'bq', [H * D], w(p + 'bq'))]);
      k = g.one('Add', [k, g.f32(p + 'bk', [Hkv * D], w(p + 'bk'))]);
      v = g.one('Add', [v, g.f32(p + 'bv', [Hkv * D], w(p + 'bv'))]);
    }
    // RoPE on (B, R, h·D) by the contrib RotaryEmbedding (rotate-half = interleaved 0, the same cos/sin table)
    if (cfg.qkNorm) {
      // per-head RMSNorm before RoPE (lladamoe q_norm / k_norm, llada2 query_ / key_layernorm)
      q = headRmsNorm(g, q, H, D, p + 'qNorm', w(p + 'qNorm'), cfg.normEps);
      k = headRmsNorm(g, k, Hkv, D, p + 'kNorm', w(p + 'kNorm'), cfg.normEps);
    }
    const q3 = g.one('RotaryEmbedding', [q, 'position_ids', cos, sin], { interleaved: 0, num_heads: H, ...ropeAttrs }, 'com.microsoft'); // (B, R, H·D)
    const k3 = g.one('RotaryEmbedding', [k, 'position_ids', cos, sin], { interleaved: 0, num_heads: Hkv, ...ropeAttrs }, 'com.microsoft'); // (B, R, Hkv·D)
    const k4 = g.one('Reshape', [k3, shapeBRhD(Hkv)]), // (B, R, Hkv, D)
      v4 = g.one('Reshape', [v, shapeBRhD(Hkv)]);
    inputs.push(valueInfo(`cache_key.${l}`, DT.FLOAT, ['B', Hkv, D, 'S']), valueInfo(`cache_value.${l}`, DT.FLOAT, ['B', Hkv, 'S', D]));
    outputs.push(
      valueInfo(`present_key.${l}`, DT.FLOAT, ['B', Hkv, D, 'R']),
      valueInfo(`present_value.${l}`, DT.FLOAT, ['B', Hkv, 'R', D]),
    );
    // softmax(Q·Kᵀ·scale + bias)·V over the S cache slots and the R fresh rows, in two products each, so the
    // cache is read where it lies (no per-step concatenation or transposition of it) and GQA needs no copies:
    // with query heads grouped as (B, Hkv, rep·R, D), kv head j meets its query heads j·rep … j·rep + rep − 1.
    // Plain MatMul / Softmax nodes: on the CPU they beat com.microsoft MultiHeadAttention for decoding steps
    // (6 layers over 256 cached keys, 1–2 threads: 0.59 vs 0.83 ms at 8 rows, 1.29 vs 1.58 ms at 32; ORT 1.30)
    const regroup = (t: string, shape: number[]) => (H === Hkv ? t : g.one('Reshape', [t, g.i64(`shape${shape.join('_')}`, shape)]));
    const grouped = [0, Hkv, -1, 0]; // (B, H, R, n) → (B, Hkv, rep·R, n), and back by [0, H, -1, n]
    const qG = regroup(g.one('Transpose', [g.one('Reshape', [q3, shapeBRhD(H)])], { perm: [0, 2, 1, 3] }), grouped); // (B, Hkv, rep·R, D)
    const kNew = g.one('Transpose', [k4], { perm: [0, 2, 3, 1] }, '', `present_key.${l}`), // (B, Hkv, D, R)
      vNew = g.one('Transpose', [v4], { perm: [0, 2, 1, 3] }, '', `present_value.${l}`); // (B, Hkv, R, D)
    const sG = g.one('Concat', [g.one('MatMul', [qG, `cache_key.${l}`]), g.one('MatMul', [qG, kNew])], { axis: -1 }); // (B, Hkv, rep·R, S + R)
    const scale = g.f32('attn.scale', [1], Float32Array.of(1 / Math.sqrt(D)));
    const scores = g.one('Add', [g.one('Mul', [regroup(sG, [0, H, -1, 0]), scale]), 'attn_bias']); // (B, H, R, S + R)
    // a query that sees no key at all (padding under a causal mask) gets zeros, as the kernels give it
    const pG = regroup(g.one('Mul', [g.one('Softmax', [scores], { axis: -1 }), 'query_valid']), grouped); // (B, Hkv, rep·R, S + R)
    const last = g.i64('axis3', [3]),
      pCache = g.one('Slice', [pG, g.i64('zero1', [0]), slots, last]), // (B, Hkv, rep·R, S)
      pNew = g.one('Slice', [pG, slots, g.i64('end1', [2 ** 53 - 1]), last]); // (B, Hkv, rep·R, R)
    const att = g.one('Add', [g.one('MatMul', [pCache, `cache_value.${l}`]), g.one('MatMul', [pNew, vNew])]); // (B, Hkv, rep·R, D)
    const heads = regroup(att, [0, H, -1, D]); // (B, H, R, D)
    const merged = g.one('Reshape', [g.one('Transpose', [heads], { perm: [0, 2, 1, 3] }), g.i64('shapeBRC', [0, 0, H * D])]); // (B, R, H·D)
    const o = linear(merged, p + 'wo', C, H * D);
    x = g.one('Add', [x, cfg.outBias ? g.one('Add', [o, g.f32(p + 'bo', [C], w(p + 'bo'))]) : o]);
    const h2 = rmsnorm(x, p + 'ffnNorm');
    if (cfg.moe?.moeLayers[l]) {
      x = g.one('Add', [x, moeFfn(g, linear, w, cfg.moe, h2, p, C)]);
      continue;
    }
    const gate = linear(h2, p + 'wGate', F, C),
      up = linear(h2, p + 'wUp', F, C);
    x = g.one('Add', [x, linear(g.one('Mul', [g.one('Mul', [gate, g.one('Sigmoid', [gate])]), up]), p + 'wDown', C, F)]);
  }
  const hN = g.one('Gather', [g.one('Reshape', [rmsnorm(x, 'finalNorm'), g.i64('shapeNC', [-1, C])]), 'logit_rows'], { axis: 0 }); // (Nr, C)
  const logits = linear(hN, cfg.tieEmbeddings ? 'tokEmbed' : 'lmHead', V, C, 'logits'); // (Nr, V)
  // the decoder's confidence in the graph (confidence-graph.ts): logit_bias (V) is 0, or −1e9 on the ids the
  // sampler bans ([MASK], …); confidence_kind (1) picks the one head computed, 0 none
  inputs.push(valueInfo('logit_bias', DT.FLOAT, [V]), valueInfo('confidence_kind', DT.INT64, [1]));
  outputs.push(valueInfo('top_id', DT.INT64, ['Nc']), valueInfo('top_confidence', DT.FLOAT, ['Nc']));
  confidenceHeads(g, logits, valueInfo, DT);
  const graph = onnx.GraphProto.create({ name: `dllm-${cfg.arch}`, node: g.nodes, input: inputs, output: outputs, initializer: g.inits });
  return encodeModel(graph, { 'dllm.config': JSON.stringify(cfg), 'dllm.dtype': o.dtype });
}

/** a graph as ModelProto bytes: IR 8, opsets ai.onnx 17 and com.microsoft 1 (MatMulNBits, MoE, QMoE); the one
 * place every graph dllm builds (the full model, bench:moe-op's single layer) is given its model header */
export function encodeModel(graph: onnxProto.onnx.IGraphProto, metadata: Record<string, string> = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'dllm',
    opsetImport: [
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

// The transformer forward pass on WebGPU: the dense families (llada, dream, llama) as compute shaders
// (webgpu/shaders.ts), f32 on the GPU whatever the stored dtype (f16 widened, int8 and 4-bit dequantized at upload),
// with the Fast-dLLM / AR key-value cache in GPU buffers. The same ForwardModel contract as the kernels'
// Transformer (model/forward.ts), so every sampler runs on it; its forward is asynchronous (one command
// buffer per call, the logits read back). No node:* here: it runs wherever `navigator.gpu` exists.
// Glossary: B batch, T rows per call, N = B·T, Tk key rows, C width, H heads, Hkv kv heads, D head dim,
// F FFN, V vocab, R logit rows.
import { dequantizeQ4, dequantizeQ8 } from '../kernels/quantize.js';
import { f16ToF32 } from '../kernels/ref/convert.js';
import { ropeTable } from '../kernels/rope-table.js';
import type { ModelConfig } from '../model/config.js';
import { checkForwardInput, defaultMask, defaultPositions, type ForwardInput, type ForwardModel, type KVCache } from '../model/forward.js';
import { fusedQkv } from '../model/params.js';
import type { Weight, Weights } from '../model/weights.js';
import { ATTENTION, ADD, EMBED, FLAT, MATMUL, MAX_HEAD_DIM, RMSNORM, ROPE, SWIGLU, TILE } from './shaders.js';

const SHADERS = { embed: EMBED, rmsnorm: RMSNORM, matmul: MATMUL, rope: ROPE, attention: ATTENTION, swiglu: SWIGLU, add: ADD };
type Op = keyof typeof SHADERS;
const MASK_CODE = { none: 0, causal: 1, blockCausal: 2, blockDiffusion: -1 } as const; // ATTENTION's p.mask (blockDiffusion: training only, refused by checkForwardInput)
const MAX_GROUPS = 65535; // WebGPU's default maxComputeWorkgroupsPerDimension

/** a device with the adapter's largest storage buffers (weights are bound whole) */
export async function requestGpuDevice(): Promise<GPUDevice> {
  const gpu = typeof navigator !== 'undefined' ? navigator.gpu : undefined;
  if (!gpu) throw new Error('webgpu: this runtime has no navigator.gpu (a browser with WebGPU on a secure context: https or localhost)');
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('webgpu: navigator.gpu offers no adapter (WebGPU is disabled or there is no GPU)');
  const { maxStorageBufferBindingSize, maxBufferSize } = adapter.limits;
  return adapter.requestDevice({ requiredLimits: { maxStorageBufferBindingSize, maxBufferSize } });
}

/** why this architecture cannot run on the WebGPU engine, or null when it can */
export function webGpuUnsupported(cfg: ModelConfig): string | null {
  const missing = [
    [cfg.moe !== undefined, 'mixture-of-experts layers'],
    [fusedQkv(cfg.arch), 'a fused q/k/v projection'],
    [cfg.qkNorm === true, 'q/k norms'],
    [(cfg.ropeDim ?? cfg.headDim) !== cfg.headDim, 'partial RoPE'],
    [cfg.outBias === true, 'an output-projection bias'],
    [cfg.headDim > MAX_HEAD_DIM, `head dim ${cfg.headDim} > ${MAX_HEAD_DIM}`],
  ] as const;
  const what = missing.filter(([has]) => has).map(([, name]) => name);
  return what.length ? `webgpu: ${cfg.arch} needs ${what.join(', ')}, which this engine does not have yet (use the wasm backend)` : null;
}

/** a weight as f32 (what the shaders read) */
function widen(w: Weight): Float32Array {
  if (w.kind === 'f32') return w.data;
  if (w.kind === 'f16') {
    const out = new Float32Array(w.bits.length);
    f16ToF32(out, w.bits, w.bits.length);
    return out;
  }
  return w.kind === 'q4' ? dequantizeQ4(w) : dequantizeQ8(w);
}

interface Acts {
  N: number;
  x: GPUBuffer; // (N, C) residual stream
  h: GPUBuffer; // (N, C) normed input of a sub-block; later a projection's output
  q: GPUBuffer; // (N, H·D)
  k: GPUBuffer; // (N, Hkv·D)
  v: GPUBuffer; // (N, Hkv·D)
  att: GPUBuffer; // (N, H·D)
  gate: GPUBuffer; // (N, F)
  up: GPUBuffer; // (N, F)
}

/** one forward's command encoder, its passes split around buffer copies, and its transient buffers */
class Call {
  readonly encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly transient: GPUBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly pipelines: Map<Op, GPUComputePipeline>,
  ) {
    this.encoder = device.createCommandEncoder();
  }

  /** a buffer holding `data`, freed when the call ends */
  data(data: ArrayBufferView, usage: number = GPUBufferUsage.STORAGE): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const b = this.device.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    b.unmap();
    this.transient.push(b);
    return b;
  }

  scratch(bytes: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.transient.push(b);
    return b;
  }

  /** run `op` with a uniform of u32 fields (f32 where `floats` names the index) over `groups` workgroups */
  dispatch(op: Op, fields: number[], floats: number[], buffers: GPUBuffer[], groups: [number, number]): void {
    const words = new Uint32Array(fields.length),
      asFloat = new Float32Array(words.buffer);
    fields.forEach((v, i) => (floats.includes(i) ? (asFloat[i] = v) : (words[i] = v)));
    const uniform = this.data(words, GPUBufferUsage.UNIFORM);
    const pipe = this.pipelines.get(op)!;
    const group = this.device.createBindGroup({
      layout: pipe.getBindGroupLayout(0),
      entries: [uniform, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipe);
    this.pass.setBindGroup(0, group);
    this.pass.dispatchWorkgroups(groups[0], groups[1]);
  }

  /** `items` elements of a flat shader: a 2-D grid when one dimension cannot hold them */
  flat(op: Op, fields: number[], floats: number[], buffers: GPUBuffer[], items: number): void {
    const groups = Math.max(1, Math.ceil(items / FLAT)),
      x = Math.min(groups, MAX_GROUPS);
    this.dispatch(op, fields, floats, buffers, [x, Math.ceil(groups / x)]);
  }

  /** copy f32 elements between buffers (outside any compute pass) */
  copy(from: GPUBuffer, fromAt: number, to: GPUBuffer, toAt: number, n: number): void {
    this.pass?.end();
    this.pass = null;
    this.encoder.copyBufferToBuffer(from, fromAt * 4, to, toAt * 4, n * 4);
  }

  /** submit; then `read()` brings `n` f32 of `buffer` back and frees the call's buffers */
  submit(buffer: GPUBuffer, n: number): { read: () => Promise<Float32Array>; abandon: () => void } {
    const staging = this.scratch(n * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.copy(buffer, 0, staging, 0, n);
    this.device.queue.submit([this.encoder.finish()]);
    const abandon = () => this.transient.forEach((b) => b.destroy());
    const read = async () => {
      try {
        await staging.mapAsync(GPUMapMode.READ);
        return new Float32Array(staging.getMappedRange(0, n * 4)).slice();
      } finally {
        abandon();
      }
    };
    return { read, abandon };
  }
}

export class WebGpuTransformer implements ForwardModel {
  private readonly pipelines = new Map<Op, GPUComputePipeline>();
  private readonly buffers = new Map<string, GPUBuffer>(); // weights by parameter name, and the RoPE tables
  private readonly caches = new WeakMap<KVCache, { k: GPUBuffer[]; v: GPUBuffer[] }>();
  private acts: Acts | null = null;

  private constructor(
    readonly config: ModelConfig,
    readonly device: GPUDevice,
    private readonly ownDevice: boolean,
  ) {}

  /** the model on this device (default: a new one from navigator.gpu); the weights are copied to the GPU */
  static async create(config: ModelConfig, weights: Weights, device?: GPUDevice): Promise<WebGpuTransformer> {
    const why = webGpuUnsupported(config);
    if (why) throw new Error(why);
    const m = new WebGpuTransformer(config, device ?? (await requestGpuDevice()), !device);
    for (const [name, w] of weights) m.upload(name, widen(w));
    const rope = ropeTable(config.ropeTheta, config.headDim, config.maxPositions);
    m.upload('rope.cos', rope.cos);
    m.upload('rope.sin', rope.sin);
    m.upload('none', new Float32Array(4)); // bound where a shader's optional input is absent
    for (const [op, code] of Object.entries(SHADERS) as Array<[Op, string]>) {
      const module = m.device.createShaderModule({ code, label: op });
      const errors = (await module.getCompilationInfo()).messages.filter((x) => x.type === 'error');
      if (errors.length) throw new Error(`webgpu: shader ${op}: ${errors.map((e) => `${e.lineNum}:${e.linePos} ${e.message}`).join('; ')}`);
      m.pipelines.set(
        op,
        await m.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: op }),
      );
    }
    return m;
  }

  private upload(name: string, data: Float32Array): void {
    const b = this.device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    new Float32Array(b.getMappedRange(0, data.byteLength)).set(data);
    b.unmap();
    this.buffers.set(name, b);
  }

  private w(name: string): GPUBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`model: weight ${name} is missing`);
    return b;
  }

  private ensureActs(N: number): Acts {
    if (this.acts?.N === N) return this.acts;
    this.freeActs();
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F } = this.config;
    const a = (n: number) =>
      this.device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.acts = {
      N,
      x: a(N * C),
      h: a(N * C),
      q: a(N * H * D),
      k: a(N * Hkv * D),
      v: a(N * Hkv * D),
      att: a(N * H * D),
      gate: a(N * F),
      up: a(N * F),
    };
    return this.acts;
  }

  private freeActs(): void {
    if (!this.acts) return;
    for (const [key, b] of Object.entries(this.acts)) if (key !== 'N') (b as GPUBuffer).destroy();
    this.acts = null;
  }

  /** a zeroed cache in GPU memory; its k / v arrays stay empty (only this engine reads it) */
  createCache(B: number, capacity: number): KVCache {
    if (capacity > this.config.maxPositions)
      throw new Error(`cache: ${capacity} rows exceed the model's ${this.config.maxPositions} positions`);
    const bytes = B * capacity * this.config.numKvHeads * this.config.headDim * 4;
    const mk = () =>
      Array.from({ length: this.config.numLayers }, () =>
        this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }),
      );
    const cache: KVCache = { B, capacity, k: [], v: [] };
    this.caches.set(cache, { k: mk(), v: mk() });
    return cache;
  }

  freeCache(cache: KVCache): void {
    const c = this.caches.get(cache);
    for (const b of c ? [...c.k, ...c.v] : []) b.destroy();
    this.caches.delete(cache);
  }

  /** logits (R, V) for the requested rows (default all B·T) */
  async forward(input: ForwardInput): Promise<Float32Array> {
    const cfg = this.config,
      { B, T, tokens, cache } = input;
    const { N, rowStart, Tk } = checkForwardInput(cfg, input);
    if (input.mask?.kind === 'blockDiffusion')
      throw new Error(
        "forward: mask 'blockDiffusion' (scoring over [x_t ⊕ x_0]) runs on the wasm engine only; decoding uses 'blockCausal'",
      );
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V } = cfg;
    const gpuCache = cache ? this.caches.get(cache) : null;
    if (cache && !gpuCache) throw new Error('forward: this cache was not made by this WebGPU model (createCache)');
    const positions = input.positions ?? defaultPositions(B, T, rowStart);
    const keyValid = input.keyValid ?? null;
    const rows = input.logitRows ?? null;
    const m = input.mask ?? defaultMask(cfg);
    const mask = m.kind,
      blockLength = m.blockLength ?? 0;

    this.device.pushErrorScope('validation'); // popped once the command buffer is submitted
    const a = this.ensureActs(N),
      call = new Call(this.device, this.pipelines),
      kvRow = Hkv * D;
    const tok = call.data(tokens),
      pos = call.data(positions),
      valid = keyValid ? call.data(Uint32Array.from(keyValid)) : this.w('none');
    const norm = (out: GPUBuffer, x: GPUBuffer, w: string, rowsN: number) =>
      call.dispatch(
        'rmsnorm',
        [rowsN, C, cfg.normEps],
        [2],
        [x, this.w(w), out],
        [Math.min(rowsN, MAX_GROUPS), Math.ceil(rowsN / MAX_GROUPS)],
      );
    const linear = (out: GPUBuffer, x: GPUBuffer, w: string, M: number, K: number, n: number, bias?: string) =>
      call.dispatch(
        'matmul',
        [M, K, n, bias ? 1 : 0],
        [],
        [x, this.w(w), bias ? this.w(bias) : this.w('none'), out],
        [Math.ceil(n / TILE), Math.ceil(M / TILE)],
      );
    const rope = (x: GPUBuffer, heads: number) =>
      call.flat('rope', [N, heads, D], [], [x, pos, this.w('rope.cos'), this.w('rope.sin')], (N * heads * D) / 2);

    call.flat('embed', [N, C], [], [tok, this.w('tokEmbed'), a.x], N * C);
    for (let l = 0; l < cfg.numLayers; l++) {
      const p = `layers.${l}.`;
      norm(a.h, a.x, p + 'attnNorm', N);
      linear(a.q, a.h, p + 'wq', N, C, H * D, cfg.qkvBias ? p + 'bq' : undefined);
      linear(a.k, a.h, p + 'wk', N, C, kvRow, cfg.qkvBias ? p + 'bk' : undefined);
      linear(a.v, a.h, p + 'wv', N, C, kvRow, cfg.qkvBias ? p + 'bv' : undefined);
      rope(a.q, H);
      rope(a.k, Hkv);
      let keys = a.k,
        values = a.v;
      if (gpuCache) {
        // this call's K/V rows into the cache, then attention over all of it
        keys = gpuCache.k[l]!;
        values = gpuCache.v[l]!;
        for (let b = 0; b < B; b++) {
          call.copy(a.k, b * T * kvRow, keys, (b * Tk + rowStart) * kvRow, T * kvRow);
          call.copy(a.v, b * T * kvRow, values, (b * Tk + rowStart) * kvRow, T * kvRow);
        }
      }
      const shape = [B, T, Tk, H, Hkv, D, 1 / Math.sqrt(D), MASK_CODE[mask], rowStart, blockLength, keyValid ? 1 : 0];
      call.flat('attention', shape, [6], [a.q, keys, values, valid, a.att], B * T * H);
      linear(a.h, a.att, p + 'wo', N, H * D, C);
      call.flat('add', [N * C], [], [a.x, a.h], N * C);
      norm(a.h, a.x, p + 'ffnNorm', N);
      linear(a.gate, a.h, p + 'wGate', N, C, F);
      linear(a.up, a.h, p + 'wUp', N, C, F);
      call.flat('swiglu', [N * F], [], [a.gate, a.up], N * F);
      linear(a.h, a.gate, p + 'wDown', N, F, C);
      call.flat('add', [N * C], [], [a.x, a.h], N * C);
    }
    norm(a.h, a.x, 'finalNorm', N);
    let hidden = a.h; // (R, C)
    const R = rows ? rows.length : N;
    if (rows) {
      hidden = call.scratch(R * C * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      rows.forEach((i, r) => call.copy(a.h, i * C, hidden, r * C, C));
    }
    const logits = call.scratch(R * V * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC); // (R, V)
    linear(logits, hidden, cfg.tieEmbeddings ? 'tokEmbed' : 'lmHead', R, C, V);
    const done = call.submit(logits, R * V);
    const error = await this.device.popErrorScope();
    if (error) {
      done.abandon();
      throw new Error(`webgpu: ${error.message}`);
    }
    return done.read();
  }

  dispose(): void {
    this.freeActs();
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
    if (this.ownDevice) this.device.destroy();
  }
}

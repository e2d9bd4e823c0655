// The transformer for training: a forward pass that keeps every activation the backward pass needs, and
// the backward pass itself, written out op by op (llm.c style: no autograd), over the same kernels.
// Gradients land in buffers named by the parameter table, so the optimizer and checkpoints iterate it.
// q/k/v biases (Dream/Qwen2 layout) are added before RoPE; their gradient is the column sum of dq/dk/dv.
// f32 weights only. Glossary: N = B·T rows, C width, H heads, Hkv kv heads, D head dim, F FFN, V vocab.
import type { AttentionShape, Kernels, MaskKind } from '../kernels/backend.js';
import { ropeTable } from '../kernels/rope-table.js';
import type { ModelConfig } from './config.js';
import { defaultPositions } from './forward.js';
import { numel, parameterTable, type ParamSpec } from './params.js';

interface LayerActs {
  xIn: Float32Array;
  h1: Float32Array;
  rstd1: Float32Array; // (N, C), (N, C), (N)
  q: Float32Array;
  k: Float32Array;
  v: Float32Array; // (N, H·D), (N, Hkv·D), (N, Hkv·D), after RoPE
  att: Float32Array;
  lse: Float32Array; // (N, H·D), (B, H, T)
  xMid: Float32Array;
  h2: Float32Array;
  rstd2: Float32Array; // (N, C), (N, C), (N)
  gate: Float32Array;
  up: Float32Array;
  act: Float32Array; // (N, F) ×3
}

export interface TrainBatch {
  tokens: Int32Array; // (B, T) model input (masked canvas for mdm)
  B: number;
  T: number;
  mask?: { kind: MaskKind; blockLength?: number };
  positions?: Int32Array; // (B, T) RoPE positions; default 0..T−1 per row (block diffusion: 0..L−1 twice)
}

export class TrainableTransformer {
  readonly specs: ParamSpec[];
  readonly params = new Map<string, Float32Array>(); // kernel memory, by parameter-table name
  readonly grads = new Map<string, Float32Array>(); // same shapes, accumulated by backward()
  private layers: LayerActs[] = [];
  private fin: { xOut: Float32Array; hf: Float32Array; rstdf: Float32Array; logits: Float32Array } | null = null;
  private ones: Float32Array | null = null; // (1, N) of 1s: a bias gradient is onesᵀ · d(rows), one GEMM
  private shapeKey = '';
  private rope: { cos: Float32Array; sin: Float32Array };
  private batch: TrainBatch | null = null;
  private positions: Int32Array = new Int32Array(0);
  private customPositions = false;

  constructor(
    readonly config: ModelConfig,
    readonly kernels: Kernels,
  ) {
    this.specs = parameterTable(config);
    for (const s of this.specs) {
      this.params.set(s.name, kernels.allocF32(numel(s.shape)));
      this.grads.set(s.name, kernels.allocF32(numel(s.shape)));
    }
    const t = ropeTable(config.ropeTheta, config.headDim, config.maxPositions);
    this.rope = { cos: kernels.allocF32(t.cos.length), sin: kernels.allocF32(t.sin.length) };
    this.rope.cos.set(t.cos);
    this.rope.sin.set(t.sin);
  }

  p(name: string): Float32Array {
    return this.params.get(name)!;
  }
  g(name: string): Float32Array {
    return this.grads.get(name)!;
  }

  zeroGrads(): void {
    for (const g of this.grads.values()) g.fill(0);
  }

  private ensure(B: number, T: number): void {
    const key = `${B}x${T}`;
    if (key === this.shapeKey) return;
    this.freeActs();
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V } = this.config;
    const N = B * T;
    const a = (n: number) => this.kernels.allocF32(n);
    this.layers = Array.from({ length: this.config.numLayers }, () => ({
      xIn: a(N * C),
      h1: a(N * C),
      rstd1: a(N),
      q: a(N * H * D),
      k: a(N * Hkv * D),
      v: a(N * Hkv * D),
      att: a(N * H * D),
      lse: a(B * H * T),
      xMid: a(N * C),
      h2: a(N * C),
      rstd2: a(N),
      gate: a(N * F),
      up: a(N * F),
      act: a(N * F),
    }));
    this.fin = { xOut: a(N * C), hf: a(N * C), rstdf: a(N), logits: a(N * V) };
    if (this.config.qkvBias) this.ones = a(N).fill(1);
    this.shapeKey = key;
  }

  private freeActs(): void {
    for (const l of this.layers) for (const b of Object.values(l)) this.kernels.free(b);
    if (this.fin) for (const b of Object.values(this.fin)) this.kernels.free(b);
    if (this.ones) this.kernels.free(this.ones);
    this.ones = null;
    this.layers = [];
    this.fin = null;
    this.shapeKey = '';
  }

  private attnShape(b: TrainBatch): AttentionShape {
    const c = this.config;
    return {
      B: b.B,
      Tq: b.T,
      Tk: b.T,
      H: c.numHeads,
      Hkv: c.numKvHeads,
      D: c.headDim,
      scale: 1 / Math.sqrt(c.headDim),
      mask: b.mask?.kind ?? (c.attention === 'causal' ? 'causal' : 'none'),
      qStart: 0,
      blockLength: b.mask?.blockLength ?? 0,
      keyValid: null,
    };
  }

  /** forward pass keeping activations; returns logits (B·T, V), a view valid until the next forward */
  forward(batch: TrainBatch): Float32Array {
    const c = this.config,
      k = this.kernels;
    const { B, T, tokens } = batch;
    const N = B * T;
    if (tokens.length !== N) throw new Error(`train forward: tokens has ${tokens.length} ids, B·T = ${N}`);
    this.ensure(B, T);
    this.batch = batch;
    if (batch.positions) {
      if (batch.positions.length !== N) throw new Error(`train forward: positions has ${batch.positions.length} entries, B·T = ${N}`);
      this.positions = batch.positions;
    } else if (this.positions.length !== N || this.customPositions) this.positions = defaultPositions(B, T);
    this.customPositions = batch.positions !== undefined;
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V } = c;
    const shape = this.attnShape(batch);
    k.embeddingForward(this.layers[0]!.xIn, this.p('tokEmbed'), tokens, N, C);
    for (let l = 0; l < c.numLayers; l++) {
      const a = this.layers[l]!,
        pre = `layers.${l}.`;
      const next = l + 1 < c.numLayers ? this.layers[l + 1]!.xIn : this.fin!.xOut;
      k.rmsnormForward(a.h1, a.rstd1, a.xIn, this.p(pre + 'attnNorm'), N, C, c.normEps);
      k.matmul(a.q, a.h1, this.p(pre + 'wq'), N, C, H * D, false, true, 1, 0);
      k.matmul(a.k, a.h1, this.p(pre + 'wk'), N, C, Hkv * D, false, true, 1, 0);
      k.matmul(a.v, a.h1, this.p(pre + 'wv'), N, C, Hkv * D, false, true, 1, 0);
      if (c.qkvBias) {
        k.addBias(a.q, a.q, this.p(pre + 'bq'), N, H * D);
        k.addBias(a.k, a.k, this.p(pre + 'bk'), N, Hkv * D);
        k.addBias(a.v, a.v, this.p(pre + 'bv'), N, Hkv * D);
      }
      k.ropeForward(a.q, a.q, this.positions, this.rope.cos, this.rope.sin, N, H, D);
      k.ropeForward(a.k, a.k, this.positions, this.rope.cos, this.rope.sin, N, Hkv, D);
      k.attentionForward(a.att, a.lse, a.q, a.k, a.v, shape);
      k.matmul(a.xMid, a.att, this.p(pre + 'wo'), N, H * D, C, false, true, 1, 0);
      k.add(a.xMid, a.xMid, a.xIn, N * C);
      k.rmsnormForward(a.h2, a.rstd2, a.xMid, this.p(pre + 'ffnNorm'), N, C, c.normEps);
      k.matmul(a.gate, a.h2, this.p(pre + 'wGate'), N, C, F, false, true, 1, 0);
      k.matmul(a.up, a.h2, this.p(pre + 'wUp'), N, C, F, false, true, 1, 0);
      k.swigluForward(a.act, a.gate, a.up, N * F);
      k.matmul(next, a.act, this.p(pre + 'wDown'), N, F, C, false, true, 1, 0);
      k.add(next, next, a.xMid, N * C);
    }
    const f = this.fin!;
    k.rmsnormForward(f.hf, f.rstdf, f.xOut, this.p('finalNorm'), N, C, c.normEps);
    k.matmul(f.logits, f.hf, this.p(this.headName()), N, C, V, false, true, 1, 0);
    return f.logits;
  }

  private headName(): string {
    return this.config.tieEmbeddings ? 'tokEmbed' : 'lmHead';
  }

  /**
   * Backward from dlogits (B·T, V) of the last forward: accumulates into grads (call zeroGrads() first
   * for a fresh step; accumulation across micro-batches is the point of not zeroing here).
   */
  backward(dlogits: Float32Array): void {
    const c = this.config,
      k = this.kernels,
      b = this.batch;
    if (!b || !this.fin) throw new Error('train backward: call forward() first');
    const N = b.B * b.T;
    const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V } = c;
    const f = this.fin;
    const a = (n: number) => k.allocF32(n);
    const dx = a(N * C),
      dh = a(N * C),
      tmp = a(N * C); // (N, C) ×3
    const dF1 = a(N * F),
      dF2 = a(N * F),
      dF3 = a(N * F); // (N, F) ×3
    const dq = a(N * H * D),
      dk = a(N * Hkv * D),
      dv = a(N * Hkv * D),
      datt = a(N * H * D);
    const shape = this.attnShape(b);
    try {
      // LM head and final norm
      k.matmul(this.g(this.headName()), dlogits, f.hf, V, N, C, true, false, 1, 1); // dW (V, C) += dlogitsᵀ · hf
      k.matmul(dh, dlogits, this.p(this.headName()), N, V, C, false, false, 1, 0); // dhf (N, C)
      k.rmsnormBackward(dx, this.g('finalNorm'), dh, f.xOut, this.p('finalNorm'), f.rstdf, N, C);
      for (let l = c.numLayers - 1; l >= 0; l--) {
        const s = this.layers[l]!,
          pre = `layers.${l}.`;
        // feed-forward: out = xMid + act · Wdownᵀ
        k.matmul(dF3, dx, this.p(pre + 'wDown'), N, C, F, false, false, 1, 0); // dact (N, F)
        k.matmul(this.g(pre + 'wDown'), dx, s.act, C, N, F, true, false, 1, 1);
        k.swigluBackward(dF1, dF2, dF3, s.gate, s.up, N * F); // dgate, dup
        k.matmul(dh, dF1, this.p(pre + 'wGate'), N, F, C, false, false, 1, 0);
        k.matmul(dh, dF2, this.p(pre + 'wUp'), N, F, C, false, false, 1, 1);
        k.matmul(this.g(pre + 'wGate'), dF1, s.h2, F, N, C, true, false, 1, 1);
        k.matmul(this.g(pre + 'wUp'), dF2, s.h2, F, N, C, true, false, 1, 1);
        k.rmsnormBackward(tmp, this.g(pre + 'ffnNorm'), dh, s.xMid, this.p(pre + 'ffnNorm'), s.rstd2, N, C);
        k.add(dx, dx, tmp, N * C); // d xMid
        // attention: xMid = xIn + att · Woᵀ
        k.matmul(datt, dx, this.p(pre + 'wo'), N, C, H * D, false, false, 1, 0);
        k.matmul(this.g(pre + 'wo'), dx, s.att, C, N, H * D, true, false, 1, 1);
        k.attentionBackward(dq, dk, dv, datt, s.q, s.k, s.v, s.att, s.lse, shape);
        k.ropeBackward(dq, dq, this.positions, this.rope.cos, this.rope.sin, N, H, D);
        k.ropeBackward(dk, dk, this.positions, this.rope.cos, this.rope.sin, N, Hkv, D);
        if (c.qkvBias) {
          // d bias (1, W) += onesᵀ (1, N) · d rows (N, W): the bias was added before RoPE, so after ropeBackward
          k.matmul(this.g(pre + 'bq'), this.ones!, dq, 1, N, H * D, false, false, 1, 1);
          k.matmul(this.g(pre + 'bk'), this.ones!, dk, 1, N, Hkv * D, false, false, 1, 1);
          k.matmul(this.g(pre + 'bv'), this.ones!, dv, 1, N, Hkv * D, false, false, 1, 1);
        }
        k.matmul(dh, dq, this.p(pre + 'wq'), N, H * D, C, false, false, 1, 0);
        k.matmul(dh, dk, this.p(pre + 'wk'), N, Hkv * D, C, false, false, 1, 1);
        k.matmul(dh, dv, this.p(pre + 'wv'), N, Hkv * D, C, false, false, 1, 1);
        k.matmul(this.g(pre + 'wq'), dq, s.h1, H * D, N, C, true, false, 1, 1);
        k.matmul(this.g(pre + 'wk'), dk, s.h1, Hkv * D, N, C, true, false, 1, 1);
        k.matmul(this.g(pre + 'wv'), dv, s.h1, Hkv * D, N, C, true, false, 1, 1);
        k.rmsnormBackward(tmp, this.g(pre + 'attnNorm'), dh, s.xIn, this.p(pre + 'attnNorm'), s.rstd1, N, C);
        k.add(dx, dx, tmp, N * C); // d xIn
      }
      k.embeddingBackward(this.g('tokEmbed'), dx, b.tokens, N, C);
    } finally {
      for (const buf of [dx, dh, tmp, dF1, dF2, dF3, dq, dk, dv, datt]) k.free(buf);
    }
  }

  dispose(): void {
    this.freeActs();
    for (const buf of [...this.params.values(), ...this.grads.values(), this.rope.cos, this.rope.sin]) this.kernels.free(buf);
    this.params.clear();
    this.grads.clear();
  }
}

// THE parameter table: one list per architecture of (our name, shape, kind, the checkpoint's tensor name).
// It drives allocation, loading, saving (and, later, gradients, optimizer state and checkpoints): nothing
// else in dllm lists parameters by hand. Each family's tensor names are data (NAMES below), not code paths.
// Tensor names: LLaDA's modeling_llada.py (LLaDALlamaBlock: attn_norm, q/k/v_proj, attn_out, ff_norm,
// ff_proj = gate, up_proj, ff_out = down; model.transformer.{wte, ln_f, ff_out}); Qwen2/Llama in HF transformers;
// LLaDA-MoE: modeling_lladamoe.py (LLaDAMoEAttention q/k/v/o_proj + q_norm/k_norm, LLaDAMoESparseMoeBlock gate,
// expert_bias buffer, experts.{j}, the layer's shared_expert); LLaDA2: modeling_llada2_moe.py (LLaDA2MoeModel
// word_embeddings, LLaDA2MoeAttention query_key_value / query_layernorm / key_layernorm / dense, LLaDA2MoeGate
// weight + expert_bias buffer under mlp.gate, mlp.experts.{j}, mlp.shared_experts).
import type { Arch, ModelConfig } from './config.js';

/** router weights stay f32 at every dtype: a quantized router could flip an expert choice */
export type ParamKind = 'embedding' | 'linear' | 'norm' | 'bias' | 'router';

export interface ParamSpec {
  name: string; // ours: 'tokEmbed', 'layers.3.wq', 'layers.3.experts.5.wUp', …
  shape: readonly number[]; // row-major; linear weights are (out, in) like nn.Linear
  kind: ParamKind;
  hfName: string; // the tensor's name in the family's safetensors
}

interface Names {
  tokEmbed: string;
  finalNorm: string;
  lmHead: string;
  layer: (i: number) => string;
  attnNorm: string;
  ffnNorm: string;
  /** separate projections, or one fused (H + 2·Hkv)·D matrix whose rows are q, then k, then v */
  qkv: { wq: string; wk: string; wv: string; bq: string; bk: string; bv: string } | { wqkv: string; bqkv: string };
  wo: string;
  bo?: string;
  qNorm?: string;
  kNorm?: string;
  /** the dense SwiGLU (every layer of the dense families; the dense layers of a MoE) */
  mlp: string; // prefix of gate / up / down
  gate: string;
  up: string;
  down: string;
  moe?: { router: string; expertBias: string; expert: (j: number) => string; shared: string };
}

const LLADA: Names = {
  tokEmbed: 'model.transformer.wte.weight',
  finalNorm: 'model.transformer.ln_f.weight',
  lmHead: 'model.transformer.ff_out.weight',
  layer: (i) => `model.transformer.blocks.${i}.`,
  attnNorm: 'attn_norm.weight',
  ffnNorm: 'ff_norm.weight',
  qkv: { wq: 'q_proj.weight', wk: 'k_proj.weight', wv: 'v_proj.weight', bq: 'q_proj.bias', bk: 'k_proj.bias', bv: 'v_proj.bias' },
  wo: 'attn_out.weight',
  mlp: '',
  gate: 'ff_proj.weight',
  up: 'up_proj.weight',
  down: 'ff_out.weight',
};
const QWEN_LLAMA: Names = {
  tokEmbed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  layer: (i) => `model.layers.${i}.`,
  attnNorm: 'input_layernorm.weight',
  ffnNorm: 'post_attention_layernorm.weight',
  qkv: {
    wq: 'self_attn.q_proj.weight',
    wk: 'self_attn.k_proj.weight',
    wv: 'self_attn.v_proj.weight',
    bq: 'self_attn.q_proj.bias',
    bk: 'self_attn.k_proj.bias',
    bv: 'self_attn.v_proj.bias',
  },
  wo: 'self_attn.o_proj.weight',
  mlp: 'mlp.',
  gate: 'gate_proj.weight',
  up: 'up_proj.weight',
  down: 'down_proj.weight',
};
const LLADAMOE: Names = {
  ...QWEN_LLAMA,
  bo: 'self_attn.o_proj.bias',
  qNorm: 'self_attn.q_norm.weight',
  kNorm: 'self_attn.k_norm.weight',
  moe: { router: 'mlp.gate.weight', expertBias: 'mlp.expert_bias', expert: (j) => `mlp.experts.${j}.`, shared: 'shared_expert.' },
};
const LLADA2: Names = {
  ...QWEN_LLAMA,
  tokEmbed: 'model.word_embeddings.weight',
  qkv: { wqkv: 'attention.query_key_value.weight', bqkv: 'attention.query_key_value.bias' },
  wo: 'attention.dense.weight',
  bo: 'attention.dense.bias',
  qNorm: 'attention.query_layernorm.weight',
  kNorm: 'attention.key_layernorm.weight',
  moe: { router: 'mlp.gate.weight', expertBias: 'mlp.gate.expert_bias', expert: (j) => `mlp.experts.${j}.`, shared: 'mlp.shared_experts.' },
};
export const NAMES: Readonly<Record<Arch, Names>> = {
  llada: LLADA,
  dream: QWEN_LLAMA,
  llama: QWEN_LLAMA,
  lladamoe: LLADAMOE,
  llada2: LLADA2,
};

/** does this family store q, k, v as one fused matrix? */
export function fusedQkv(arch: Arch): boolean {
  return 'wqkv' in NAMES[arch].qkv;
}

export function parameterTable(c: ModelConfig): ParamSpec[] {
  const n = NAMES[c.arch];
  const { vocabSize: V, hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F } = c;
  const specs: ParamSpec[] = [{ name: 'tokEmbed', shape: [V, C], kind: 'embedding', hfName: n.tokEmbed }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = n.layer(i);
    const l = (name: string, shape: number[], kind: ParamKind, hf: string) =>
      specs.push({ name: `layers.${i}.${name}`, shape, kind, hfName: p + hf });
    const swiglu = (ours: string, hf: string, width: number) => {
      // gate (Fx, C), up (Fx, C), down (C, Fx)
      l(`${ours}wGate`, [width, C], 'linear', hf + n.gate);
      l(`${ours}wUp`, [width, C], 'linear', hf + n.up);
      l(`${ours}wDown`, [C, width], 'linear', hf + n.down);
    };
    l('attnNorm', [C], 'norm', n.attnNorm);
    if ('wqkv' in n.qkv) {
      l('wqkv', [(H + 2 * Hkv) * D, C], 'linear', n.qkv.wqkv);
      if (c.qkvBias) l('bqkv', [(H + 2 * Hkv) * D], 'bias', n.qkv.bqkv);
    } else {
      l('wq', [H * D, C], 'linear', n.qkv.wq);
      l('wk', [Hkv * D, C], 'linear', n.qkv.wk);
      l('wv', [Hkv * D, C], 'linear', n.qkv.wv);
      if (c.qkvBias) {
        l('bq', [H * D], 'bias', n.qkv.bq);
        l('bk', [Hkv * D], 'bias', n.qkv.bk);
        l('bv', [Hkv * D], 'bias', n.qkv.bv);
      }
    }
    if (c.qkNorm) {
      if (!n.qNorm || !n.kNorm) throw new Error(`params: ${c.arch} has no q/k norm tensors`);
      l('qNorm', [D], 'norm', n.qNorm);
      l('kNorm', [D], 'norm', n.kNorm);
    }
    l('wo', [C, H * D], 'linear', n.wo);
    if (c.outBias) {
      if (!n.bo) throw new Error(`params: ${c.arch} has no attention output bias`);
      l('bo', [C], 'bias', n.bo);
    }
    l('ffnNorm', [C], 'norm', n.ffnNorm);
    const moe = c.moe;
    if (moe && moe.moeLayers[i]) {
      if (!n.moe) throw new Error(`params: ${c.arch} has no expert tensors`);
      l('router', [moe.numExperts, C], 'router', n.moe.router); // (E, C)
      if (moe.expertBias) l('expertBias', [moe.numExperts], 'bias', n.moe.expertBias); // (E)
      for (let j = 0; j < moe.numExperts; j++) swiglu(`experts.${j}.`, n.moe.expert(j), moe.expertFfn);
      if (moe.sharedFfn > 0) swiglu('shared.', n.moe.shared, moe.sharedFfn);
    } else {
      swiglu('', n.mlp, F);
    }
  }
  specs.push({ name: 'finalNorm', shape: [C], kind: 'norm', hfName: n.finalNorm });
  if (!c.tieEmbeddings) specs.push({ name: 'lmHead', shape: [V, C], kind: 'linear', hfName: n.lmHead });
  return specs;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function parameterCount(c: ModelConfig): number {
  return parameterTable(c).reduce((s, p) => s + numel(p.shape), 0);
}

/** parameters one token reads: all but the experts it is not routed to (LLaDA-MoE-7B-A1B: ≈ 1.4 B of 7 B) */
export function activeParameterCount(c: ModelConfig): number {
  if (!c.moe) return parameterCount(c);
  const perExpert = 3 * c.hiddenSize * c.moe.expertFfn;
  const moeLayers = c.moe.moeLayers.filter((m) => m).length;
  return parameterCount(c) - moeLayers * (c.moe.numExperts - c.moe.topK) * perExpert;
}

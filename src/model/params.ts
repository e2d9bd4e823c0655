// THE parameter table: one list per architecture of (our name, shape, kind, the checkpoint's tensor name).
// It drives allocation, loading, saving (and, later, gradients, optimizer state and checkpoints): nothing
// else in dllm lists parameters by hand.
// Tensor names: LLaDA's modeling_llada.py (LLaDALlamaBlock: attn_norm, q/k/v_proj, attn_out, ff_norm,
// ff_proj = gate, up_proj, ff_out = down; model.transformer.{wte, ln_f, ff_out}); Qwen2/Llama in HF transformers.
import type { ModelConfig } from './config.js';

export type ParamKind = 'embedding' | 'linear' | 'norm' | 'bias';

export interface ParamSpec {
  name: string; // ours: 'tokEmbed', 'layers.3.wq', …
  shape: readonly number[]; // row-major; linear weights are (out, in) like nn.Linear
  kind: ParamKind;
  hfName: string; // the tensor's name in the family's safetensors
}

const LLADA = {
  tokEmbed: 'model.transformer.wte.weight', finalNorm: 'model.transformer.ln_f.weight', lmHead: 'model.transformer.ff_out.weight',
  layer: (i: number) => `model.transformer.blocks.${i}.`,
  attnNorm: 'attn_norm.weight', wq: 'q_proj.weight', wk: 'k_proj.weight', wv: 'v_proj.weight',
  bq: 'q_proj.bias', bk: 'k_proj.bias', bv: 'v_proj.bias', wo: 'attn_out.weight',
  ffnNorm: 'ff_norm.weight', wGate: 'ff_proj.weight', wUp: 'up_proj.weight', wDown: 'ff_out.weight',
};
const QWEN_LLAMA = {
  tokEmbed: 'model.embed_tokens.weight', finalNorm: 'model.norm.weight', lmHead: 'lm_head.weight',
  layer: (i: number) => `model.layers.${i}.`,
  attnNorm: 'input_layernorm.weight', wq: 'self_attn.q_proj.weight', wk: 'self_attn.k_proj.weight', wv: 'self_attn.v_proj.weight',
  bq: 'self_attn.q_proj.bias', bk: 'self_attn.k_proj.bias', bv: 'self_attn.v_proj.bias', wo: 'self_attn.o_proj.weight',
  ffnNorm: 'post_attention_layernorm.weight', wGate: 'mlp.gate_proj.weight', wUp: 'mlp.up_proj.weight', wDown: 'mlp.down_proj.weight',
};

export function parameterTable(c: ModelConfig): ParamSpec[] {
  const n = c.arch === 'llada' ? LLADA : QWEN_LLAMA;
  const { vocabSize: V, hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F } = c;
  const specs: ParamSpec[] = [{ name: 'tokEmbed', shape: [V, C], kind: 'embedding', hfName: n.tokEmbed }];
  for (let i = 0; i < c.numLayers; i++) {
    const p = n.layer(i);
    const l = (name: string, shape: number[], kind: ParamKind, hf: string) => specs.push({ name: `layers.${i}.${name}`, shape, kind, hfName: p + hf });
    l('attnNorm', [C], 'norm', n.attnNorm);
    l('wq', [H * D, C], 'linear', n.wq);
    l('wk', [Hkv * D, C], 'linear', n.wk);
    l('wv', [Hkv * D, C], 'linear', n.wv);
    if (c.qkvBias) {
      l('bq', [H * D], 'bias', n.bq);
      l('bk', [Hkv * D], 'bias', n.bk);
      l('bv', [Hkv * D], 'bias', n.bv);
    }
    l('wo', [C, H * D], 'linear', n.wo);
    l('ffnNorm', [C], 'norm', n.ffnNorm);
    l('wGate', [F, C], 'linear', n.wGate);
    l('wUp', [F, C], 'linear', n.wUp);
    l('wDown', [C, F], 'linear', n.wDown);
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

// config.json of the two mixture-of-experts diffusion families → ModelConfig. Every value is read from the
// checkpoint's config.json; where the official modeling code ignores a field or hard-codes a behaviour, the code
// wins (named below). A missing required key or an unsupported value is an error naming the key.
//
// lladamoe — inclusionAI LLaDA-MoE-7B-A1B (architectures LLaDAMoEModelLM, model_type "llada"), from
//   modeling_lladamoe.py (an OLMoE copy) and configuration_lladamoe.py (class LLaDAConfig):
//   LLaDAMoEAttention: head_dim = hidden_size // num_attention_heads (a head_dim key is not read); q_norm/k_norm
//     (RMSNorm over head_dim, rms_norm_eps) when qk_layernorm; q/k/v/o biases = attention_bias; clip_qkv clamps.
//   LLaDAMoESparseMoeBlock.forward: softmax(gate(x)) in f32, + expert_bias when moe_router_enable_expert_bias,
//     topk(num_experts_per_tok) of that sum; weights = the summed values; norm_topk_prob is hard-coded False
//     (the config key is ignored); moe_router_score_function is stored but never used.
//   LLaDAMoEDecoderLayer: moe_layer_freq[i] == 0 → dense LLaDAMoEMLP(dense_intermediate_size), else MoE with
//     expert_intermediate_size experts, plus shared_expert(shared_expert_intermediate_size) when that is not null.
//   RoPE: transformers' default rope init, dim = int(head_dim · partial_rotary_factor) (class default −1: required).
// llada2 — inclusionAI LLaDA2.0/2.1 (architectures LLaDA2MoeModelLM, model_type "llada2_moe"), from
//   modeling_llada2_moe.py: LLaDA2MoeAttention: head_dim = config.head_dim or hidden // heads; fused
//     query_key_value rows (q: H·D, k: Hkv·D, v: Hkv·D), bias use_qkv_bias; query/key_layernorm (RMSNorm over D);
//     rope_dim = int(head_dim · partial_rotary_factor) (dInfer's LLaDA2MoeConfig defaults it to 0.5); dense (output)
//     bias use_bias.
//   LLaDA2MoeDecoderLayer: MoE when num_experts is set and layer ≥ first_k_dense_replace, else dense MLP
//     (intermediate_size). LLaDA2MoeSparseMoeBlock: shared_experts of moe_intermediate_size · num_shared_experts
//     when num_shared_experts is not null.
//   LLaDA2MoeGate.forward: sigmoid(f32 logits); expert_bias (always registered) added for choosing only;
//     group_limited_topk: n_group groups scored by the sum of their best two, topk_group kept, top-k inside them;
//     weights = unbiased scores / (sum + 1e-20) when top_k > 1, × routed_scaling_factor. norm_topk_prob and
//     score_function are not read by this code.
// Attention: LLaDA-MoE is bidirectional (LLaDAMoEModel.forward drops attention_mask). LLaDA2's generate() passes
//   a block-causal mask (blocks of block_length = 32: a query sees its own block and all earlier ones); its
//   forward without a mask is bidirectional under SDPA, causal under eager: callers pass mask blockCausal.
// Mask / EOS ids: neither family's config.json carries them. LLaDA2MoeModelLM.generate() takes them as keyword
//   defaults (eos_id=156892, mask_id=156895); dInfer's benchmarks pass the same two ids for LLaDA-MoE and
//   LLaDA2; LLaDA-MoE's model card calls generate(mask_id=156895). dllm reads them from the checkpoint's files
//   (tokenizer/index.ts: config / generation_config mask_token_id, tokenizer_config mask_token), never from code.
import type { Arch, ModelConfig, MoeConfig } from './config-types.js';
import { bool, int, num, oneOf, present, type Json } from './config-json.js';

/** bounds checked before anything is sized by them (DeepSeek-V3: 256 experts; the largest public MoEs ≤ 512) */
export const MOE_LIMITS = { numExperts: 4096, expertFfn: 2 ** 18 } as const;

const CLASS_DEFAULT = "its config class's default is not used; the checkpoint's config.json must say";

function layerFlags(cfg: Json, key: string, L: number, where: string): boolean[] {
  const v = cfg[key];
  if (!Array.isArray(v) || v.length !== L || v.some((x) => x !== 0 && x !== 1)) {
    throw new Error(`${where}: "${key}" must be a list of ${L} entries 0 (dense) or 1 (MoE), got ${JSON.stringify(v)}`);
  }
  return v.map((x) => x === 1);
}

/** nullable positive integer key that must be present (null = feature off → 0) */
function optionalSize(cfg: Json, key: string, where: string): number {
  const v = present(cfg, key, where, CLASS_DEFAULT);
  return v === null ? 0 : int(cfg, key, where, undefined, MOE_LIMITS.expertFfn);
}

export function parseMoeConfig(arch: Extract<Arch, 'lladamoe' | 'llada2'>, cfg: Json, where: string): ModelConfig {
  oneOf(cfg, 'hidden_act', where, ['silu']);
  oneOf(cfg, 'rope_scaling', where, [null]);
  const hidden = int(cfg, 'hidden_size', where);
  const heads = int(cfg, 'num_attention_heads', where);
  const L = int(cfg, 'num_hidden_layers', where, undefined, 1024);
  const E = int(cfg, 'num_experts', where, undefined, MOE_LIMITS.numExperts);
  const K = int(cfg, 'num_experts_per_tok', where, undefined, E);
  const headDim = arch === 'llada2' && cfg['head_dim'] != null ? int(cfg, 'head_dim', where) : hidden / heads;
  // required for both: LLaDA2's attention falls back to 1.0 without the attribute, but its config class sets 0.5
  const prf = num(cfg, 'partial_rotary_factor', where);
  if (!(prf > 0 && prf <= 1)) throw new Error(`${where}: "partial_rotary_factor" must be in (0, 1], got ${prf}`);
  const common = {
    arch,
    vocabSize: int(cfg, 'vocab_size', where),
    hiddenSize: hidden,
    numLayers: L,
    numHeads: heads,
    // LLaDAConfig: None → num_attention_heads; LLaDA2MoeConfig's default is 0 (unusable): required there
    numKvHeads: int(cfg, 'num_key_value_heads', where, arch === 'lladamoe' ? heads : undefined),
    headDim,
    ropeDim: Math.trunc(headDim * prf),
    ropeTheta: num(cfg, 'rope_theta', where),
    normEps: num(cfg, 'rms_norm_eps', where),
    tieEmbeddings: bool(cfg, 'tie_word_embeddings', where, false),
    attention: 'bidirectional' as const,
    shiftLogits: false,
    maxPositions: int(cfg, 'max_position_embeddings', where, undefined, 2 ** 21), // sizes the RoPE tables: never guessed
  };
  let moe: MoeConfig, ffn: number, qkvBias: boolean, outBias: boolean, qkNorm: boolean;
  if (arch === 'lladamoe') {
    oneOf(cfg, 'clip_qkv', where, [null]);
    const layers = layerFlags(cfg, 'moe_layer_freq', L, where);
    const expertFfn = int(cfg, 'expert_intermediate_size', where, undefined, MOE_LIMITS.expertFfn);
    moe = {
      numExperts: E,
      topK: K,
      expertFfn,
      sharedFfn: optionalSize(cfg, 'shared_expert_intermediate_size', where),
      router: 'softmax',
      expertBias: bool(cfg, 'moe_router_enable_expert_bias', where),
      groups: 1,
      topGroups: 1,
      scaling: 1,
      moeLayers: layers,
    };
    ffn = layers.every((m) => m) && cfg['dense_intermediate_size'] === undefined ? expertFfn : int(cfg, 'dense_intermediate_size', where);
    qkvBias = outBias = bool(cfg, 'attention_bias', where, false);
    qkNorm = bool(cfg, 'qk_layernorm', where);
  } else {
    const firstMoe = num(cfg, 'first_k_dense_replace', where);
    if (!Number.isInteger(firstMoe) || firstMoe < 0)
      throw new Error(`${where}: "first_k_dense_replace" must be a non-negative integer, got ${firstMoe}`);
    const expertFfn = int(cfg, 'moe_intermediate_size', where, undefined, MOE_LIMITS.expertFfn);
    const shared = present(cfg, 'num_shared_experts', where, CLASS_DEFAULT) === null ? 0 : int(cfg, 'num_shared_experts', where);
    const groups = int(cfg, 'n_group', where),
      topGroups = int(cfg, 'topk_group', where, undefined, groups);
    if (E % groups !== 0 || E / groups < 2)
      throw new Error(
        `${where}: "n_group" ${groups} must split num_experts ${E} into groups of ≥ 2 (each group is scored by its best two)`,
      );
    if (K > topGroups * (E / groups))
      throw new Error(
        `${where}: "num_experts_per_tok" ${K} exceeds the ${topGroups * (E / groups)} experts of topk_group ${topGroups} groups`,
      );
    moe = {
      numExperts: E,
      topK: K,
      expertFfn,
      sharedFfn: shared * expertFfn,
      router: 'sigmoidGroup',
      expertBias: true,
      groups,
      topGroups,
      scaling: num(cfg, 'routed_scaling_factor', where),
      moeLayers: Array.from({ length: L }, (_, i) => i >= firstMoe),
    };
    ffn = int(cfg, 'intermediate_size', where, undefined, 2 ** 18);
    present(cfg, 'use_qkv_bias', where, CLASS_DEFAULT);
    present(cfg, 'use_bias', where, CLASS_DEFAULT);
    qkvBias = bool(cfg, 'use_qkv_bias', where);
    outBias = bool(cfg, 'use_bias', where);
    qkNorm = true; // query_layernorm / key_layernorm are unconditional in LLaDA2MoeAttention
  }
  return { ...common, ffnSize: ffn, qkvBias, outBias, qkNorm, moe };
}

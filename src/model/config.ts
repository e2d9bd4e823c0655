// ModelConfig: the architecture only (no tokenizer, no sampler settings), one shape for the three families.
// parseHfConfig maps each family's config.json field names onto it:
//   llada — LLaDA's OLMo-derived config (d_model, n_layers, n_heads, n_kv_heads, mlp_hidden_size, …;
//           GSAI-ML/LLaDA-8B-Base config.json, dllm-reference.md §1.1)
//   dream — Qwen2 field names (hidden_size, num_hidden_layers, …; Dream-org/Dream-v0-Base-7B, §3.1)
//   llama — HF LlamaConfig field names (causal, the AR twin); with `bd_size` (Fast-dLLM v2's key) the twin
//           adapted to block diffusion: shifted logits, decoded block-causally in blocks of bd_size
//   lladamoe, llada2 — the mixtures of experts (config-moe.ts: LLaDA-MoE-7B-A1B, LLaDA2.x)
import { parseMoeConfig } from './config-moe.js';
import { bool, int, num, type Json } from './config-json.js';
import type { Arch, ModelConfig } from './config-types.js';

export type { Arch, AttentionKind, ModelConfig, MoeConfig, RouterKind } from './config-types.js';

/**
 * Upper bounds on a config's dimensions, checked before anything is sized by them: `n_layers: 1e9` would
 * otherwise build a billion-layer parameter table until V8 runs out of memory, `max_sequence_length: 1e9`
 * a RoPE table of 2^38 bytes. Generous for real models (Llama-3.1-405B: 126 layers, hidden 16384, ffn 53248;
 * Gemma-3 vocabulary 262 k; 1 M-token contexts); a loader still checks each against the weights it finds.
 */
export const MODEL_LIMITS = {
  vocabSize: 2 ** 22,
  hiddenSize: 2 ** 16,
  numLayers: 1024,
  numHeads: 1024,
  numKvHeads: 1024,
  headDim: 2048,
  ffnSize: 2 ** 18,
  maxPositions: 2 ** 21,
} as const satisfies Partial<Record<keyof ModelConfig, number>>;

/** `architectures` entries dllm knows, checked before model_type (LLaDA-MoE's config says model_type "llada") */
const ARCHITECTURES: Readonly<Record<string, Arch>> = {
  LLaDAModelLM: 'llada',
  LLaDAMoEModel: 'lladamoe',
  LLaDAMoEModelLM: 'lladamoe',
  LLaDA2MoeModelLM: 'llada2',
  DreamModel: 'dream',
  LlamaForCausalLM: 'llama',
};
const MODEL_TYPES: Readonly<Record<string, Arch>> = {
  llada: 'llada',
  dream: 'dream',
  llama: 'llama',
  lladamoe: 'lladamoe',
  llada2_moe: 'llada2',
};

/** which family a config.json describes: an exact `architectures` entry first, then model_type, then name patterns */
export function detectArch(cfg: Json, where = 'config.json'): Arch {
  const list = Array.isArray(cfg['architectures']) ? (cfg['architectures'] as unknown[]).map(String) : [];
  for (const a of list) {
    const arch = ARCHITECTURES[a];
    if (arch) return arch;
  }
  const type = String(cfg['model_type'] ?? '').toLowerCase();
  const byType = MODEL_TYPES[type];
  if (byType) return byType;
  const archs = list.join(',');
  if (/LLaDA/i.test(archs)) return 'llada';
  if (/Dream/i.test(archs)) return 'dream';
  if (/LlamaForCausalLM/.test(archs)) return 'llama';
  throw new Error(
    `${where}: unknown architecture (model_type "${cfg['model_type']}", architectures [${archs}]); ` +
      'dllm loads llada, dream, llama, lladamoe (LLaDAMoEModelLM) and llada2 (LLaDA2MoeModelLM)',
  );
}

export function parseHfConfig(cfg: Json, where = 'config.json'): ModelConfig {
  const arch = detectArch(cfg, where),
    L = MODEL_LIMITS;
  let c: ModelConfig;
  if (arch === 'lladamoe' || arch === 'llada2') {
    c = parseMoeConfig(arch, cfg, where);
  } else if (arch === 'llada') {
    if (cfg['block_type'] !== undefined && cfg['block_type'] !== 'llama') {
      throw new Error(`${where}: LLaDA block_type "${cfg['block_type']}" is not supported (only "llama")`);
    }
    const hidden = int(cfg, 'd_model', where, undefined, L.hiddenSize);
    const heads = int(cfg, 'n_heads', where, undefined, L.numHeads);
    const vocabKey = cfg['embedding_size'] !== undefined ? 'embedding_size' : 'vocab_size';
    c = {
      arch,
      vocabSize: int(cfg, vocabKey, where, undefined, L.vocabSize),
      hiddenSize: hidden,
      numLayers: int(cfg, 'n_layers', where, undefined, L.numLayers),
      numHeads: heads,
      numKvHeads: int(cfg, 'n_kv_heads', where, heads, L.numKvHeads),
      headDim: hidden / heads,
      ffnSize: int(cfg, 'mlp_hidden_size', where, undefined, L.ffnSize),
      ropeTheta: num(cfg, 'rope_theta', where, 10000),
      normEps: num(cfg, 'rms_norm_eps', where, 1e-5),
      tieEmbeddings: bool(cfg, 'weight_tying', where, false),
      qkvBias: bool(cfg, 'include_bias', where, false) || bool(cfg, 'include_qkv_bias', where, false),
      attention: 'bidirectional',
      shiftLogits: false,
      maxPositions: int(cfg, 'max_sequence_length', where, 4096, L.maxPositions),
    };
  } else {
    const hidden = int(cfg, 'hidden_size', where, undefined, L.hiddenSize);
    const heads = int(cfg, 'num_attention_heads', where, undefined, L.numHeads);
    // a llama layout with Fast-dLLM v2's `bd_size`: the AR twin adapted to block diffusion, shifted logits
    const bd = arch === 'llama' && cfg['bd_size'] !== undefined;
    c = {
      arch,
      vocabSize: int(cfg, 'vocab_size', where, undefined, L.vocabSize),
      hiddenSize: hidden,
      numLayers: int(cfg, 'num_hidden_layers', where, undefined, L.numLayers),
      numHeads: heads,
      numKvHeads: int(cfg, 'num_key_value_heads', where, heads, L.numKvHeads),
      headDim: int(cfg, 'head_dim', where, hidden / heads, L.headDim),
      ffnSize: int(cfg, 'intermediate_size', where, undefined, L.ffnSize),
      ropeTheta: num(cfg, 'rope_theta', where, arch === 'dream' ? 1e6 : 10000),
      normEps: num(cfg, 'rms_norm_eps', where, 1e-6),
      tieEmbeddings: bool(cfg, 'tie_word_embeddings', where, false),
      qkvBias: arch === 'dream' ? true : bool(cfg, 'attention_bias', where, false),
      attention: arch === 'dream' || bd ? 'bidirectional' : 'causal',
      shiftLogits: arch === 'dream' || bd,
      maxPositions: int(cfg, 'max_position_embeddings', where, 4096, L.maxPositions),
      ...(bd ? { bdSize: int(cfg, 'bd_size', where, undefined, L.maxPositions) } : {}),
    };
  }
  return validateConfig(c, where);
}

/** each family's config.json field for a ModelConfig key, for messages that say what to fix */
export function hfFieldName(arch: Arch, key: keyof ModelConfig): string {
  const llada: Partial<Record<keyof ModelConfig, string>> = {
    vocabSize: 'embedding_size',
    hiddenSize: 'd_model',
    numLayers: 'n_layers',
    numHeads: 'n_heads',
    numKvHeads: 'n_kv_heads',
    ffnSize: 'mlp_hidden_size',
    maxPositions: 'max_sequence_length',
  };
  const qwen: Partial<Record<keyof ModelConfig, string>> = {
    vocabSize: 'vocab_size',
    hiddenSize: 'hidden_size',
    numLayers: 'num_hidden_layers',
    numHeads: 'num_attention_heads',
    numKvHeads: 'num_key_value_heads',
    headDim: 'head_dim',
    ffnSize: 'intermediate_size',
    maxPositions: 'max_position_embeddings',
  };
  if (arch === 'lladamoe')
    return ({ ...qwen, headDim: 'hidden_size / num_attention_heads', ffnSize: 'dense_intermediate_size' } as typeof qwen)[key] ?? key;
  return (arch === 'llada' ? llada : qwen)[key] ?? key;
}

export function validateConfig(c: ModelConfig, where = 'model config'): ModelConfig {
  if (!Number.isInteger(c.headDim) || c.headDim % 2 !== 0)
    throw new Error(`${where}: head dim ${c.headDim} must be an even integer (RoPE rotate-half)`);
  if (c.numHeads % c.numKvHeads !== 0) throw new Error(`${where}: ${c.numHeads} heads is not a multiple of ${c.numKvHeads} kv heads`);
  const R = c.ropeDim ?? c.headDim;
  if (!Number.isInteger(R) || R <= 0 || R % 2 !== 0 || R > c.headDim)
    throw new Error(`${where}: rotary dim ${R} must be an even integer in 2..${c.headDim} (partial_rotary_factor · head dim)`);
  if (c.moe && c.moe.moeLayers.length !== c.numLayers)
    throw new Error(`${where}: ${c.moe.moeLayers.length} MoE layer flags for ${c.numLayers} layers`);
  for (const [k, max] of Object.entries(MODEL_LIMITS) as [keyof typeof MODEL_LIMITS, number][]) {
    const v = c[k];
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${where}: ${k} must be a positive integer, got ${v}`);
    if (v > max) throw new Error(`${where}: ${k} ${v} is over dllm's limit of ${max}`);
  }
  return Object.freeze({ ...c, ...(c.moe ? { moe: Object.freeze({ ...c.moe, moeLayers: Object.freeze([...c.moe.moeLayers]) }) } : {}) });
}

/** config.json for our own checkpoints, in the family's own field names (so the reference code reads it) */
export function toHfConfig(c: ModelConfig, extra: Json = {}): Json {
  if (c.moe) throw new Error(`toHfConfig: dllm reads ${c.arch} checkpoints but does not write them`);
  if (c.arch === 'llada') {
    return {
      architectures: ['LLaDAModelLM'],
      model_type: 'llada',
      block_type: 'llama',
      activation_type: 'silu',
      d_model: c.hiddenSize,
      n_layers: c.numLayers,
      n_heads: c.numHeads,
      n_kv_heads: c.numKvHeads,
      mlp_hidden_size: c.ffnSize,
      vocab_size: c.vocabSize,
      embedding_size: c.vocabSize,
      rope_theta: c.ropeTheta,
      rms_norm_eps: c.normEps,
      weight_tying: c.tieEmbeddings,
      include_bias: false,
      include_qkv_bias: c.qkvBias,
      max_sequence_length: c.maxPositions,
      rope: true,
      layer_norm_type: 'rms',
      ...extra,
    };
  }
  return {
    architectures: [c.arch === 'dream' ? 'DreamModel' : 'LlamaForCausalLM'],
    model_type: c.arch === 'dream' ? 'Dream' : 'llama',
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    intermediate_size: c.ffnSize,
    vocab_size: c.vocabSize,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.normEps,
    tie_word_embeddings: c.tieEmbeddings,
    max_position_embeddings: c.maxPositions,
    hidden_act: 'silu',
    ...(c.arch === 'llama' ? { attention_bias: c.qkvBias } : {}),
    ...(c.bdSize ? { bd_size: c.bdSize } : {}),
    ...extra,
  };
}

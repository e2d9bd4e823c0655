// Our parameter table (params.ts) ↔ llama.cpp's GGUF: tensor names, the metadata keys llama.cpp reads for
// `llama`, `llada` and `dream`, the byte-level BPE tokenizer keys, and the Q/K row order that makes llama.cpp's
// RoPE equal our rotate-half RoPE. Facts and where they come from (ggml-org/llama.cpp, read at: llama-vocab.cpp
// 00ad355e, models/llada.cpp 8a5c4e03, models/dream.cpp 75dc8f64, conversion/llada.py; checked end to end against
// the llama.cpp in node-llama-cpp 3.21.1 by test/model/llamacpp.test.ts):
//  • RoPE: src/llama-model.cpp llama_model_rope_type — LLM_ARCH_LLAMA and LLM_ARCH_LLADA are ROPE_TYPE_NORM
//    (rotates adjacent pairs 2j, 2j+1), LLM_ARCH_DREAM is ROPE_TYPE_NEOX (pairs j, j+D/2 = HF's rotate-half).
//    So convert_hf_to_gguf.py permutes q/k rows for LlamaModel (LlamaModel.permute) and LLaDAModel
//    (undo_permute = True, same permute, also on q/k biases) but not for DreamModel. We do the same on write
//    and undo it on read; frequencies match: both use theta^(-2j/D) for pair j.
//  • Required metadata: src/llama-model.cpp load_hparams reads <arch>.context_length, .embedding_length,
//    .block_count without a default (a missing key fails the load); .feed_forward_length and
//    .attention.head_count default to 0 and then abort the process in llama-model-loader.cpp
//    (GGML_ASSERT(t_meta.ne[dim] >= 1)); llama/llada/dream each require .attention.layer_norm_rms_epsilon
//    (load_arch_hparams); .attention.head_count_kv defaults to head_count (so is needed with GQA);
//    .rope.freq_base (10000), .rope.dimension_count, .attention.key_length/.value_length (C/H) and .vocab_size
//    are optional. Checked by dropping each key in turn with node-llama-cpp 3.21.1: exactly these fail.
//    src/models/{llada,dream}.cpp set causal_attn = false themselves; converters also write
//    <arch>.attention.causal = false and diffusion.shift_logits (LLaDAModel: false; examples/diffusion reads it
//    and defaults to shifted when absent). Dream's wq is created {n_embd, n_embd}: H·D must equal C.
//    LLaDA's graph has no q/k/v biases (src/models/llada.cpp); Dream's requires them (qwen2-style).
//  • Tokenizer: src/llama-vocab.cpp llama_vocab::impl::load requires tokenizer.ggml.model ("gpt2" = byte-level
//    BPE), tokenizer.ggml.tokens (string array, no duplicates, length = n_vocab = rows of token_embd) and, for
//    gpt2, tokenizer.ggml.merges (string array "a b"); tokenizer.ggml.token_type must be an INT32 array;
//    tokenizer.ggml.pre must be a name it knows ("gpt-2" → LLAMA_VOCAB_PRE_TYPE_GPT2); special ids are u32.
//    Token types: gguf-py constants.py TokenType (NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6).
import {
  readGguf,
  readGgufTensor,
  metaArray,
  metaBool,
  metaNumber,
  metaString,
  writeGguf,
  type ByteSource,
  type GgufMetadata,
  type GgufTensorInput,
  type GgufValue,
} from '../io/gguf.js';
import { MODEL_LIMITS, validateConfig, type Arch, type ModelConfig } from './config.js';
import { numel, parameterTable } from './params.js';
import { QK_K } from '../io/gguf-kquant.js';

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export type SpecialName = 'bos' | 'eos' | 'eot' | 'pad' | 'mask' | 'unk';
/** gguf-py constants.py Keys.Tokenizer */
const SPECIAL_KEYS: Record<SpecialName, string> = {
  bos: 'tokenizer.ggml.bos_token_id',
  eos: 'tokenizer.ggml.eos_token_id',
  eot: 'tokenizer.ggml.eot_token_id',
  pad: 'tokenizer.ggml.padding_token_id',
  mask: 'tokenizer.ggml.mask_token_id',
  unk: 'tokenizer.ggml.unknown_token_id',
};

export interface GgufTokenizerInfo {
  tokens: string[]; // id → token in byte-level (GPT-2 "Ġ") form; padded to vocabSize with [PAD{i}] (unused) on write
  merges: string[]; // "left right", rank order
  tokenTypes?: number[]; // TOKEN_TYPE values; default normal, control for the specials
  specials: Partial<Record<SpecialName, number | null>>;
  pre?: string; // llama.cpp pre-tokenizer name (src/llama-vocab.cpp); default "gpt-2"
  addBos?: boolean; // tokenizer.ggml.add_bos_token
}

export interface GgufModel {
  config: ModelConfig;
  tensors: Map<string, Float32Array>; // our names → f32 values in our layout (rotate-half q/k rows)
  metadata: GgufMetadata;
  tokenizer: GgufTokenizerInfo | null;
}

const LAYER_NAMES: Record<string, string> = {
  attnNorm: 'attn_norm.weight',
  wq: 'attn_q.weight',
  wk: 'attn_k.weight',
  wv: 'attn_v.weight',
  bq: 'attn_q.bias',
  bk: 'attn_k.bias',
  bv: 'attn_v.bias',
  wo: 'attn_output.weight',
  ffnNorm: 'ffn_norm.weight',
  wGate: 'ffn_gate.weight',
  wUp: 'ffn_up.weight',
  wDown: 'ffn_down.weight',
};

/** llama.cpp's tensor name for one of ours (gguf-py constants.py TENSOR_NAMES; src/llama-arch.cpp) */
export function ggufTensorName(ours: string): string {
  if (ours === 'tokEmbed') return 'token_embd.weight';
  if (ours === 'finalNorm') return 'output_norm.weight';
  if (ours === 'lmHead') return 'output.weight';
  const m = /^layers\.(\d+)\.(\w+)$/.exec(ours);
  const leaf = m ? LAYER_NAMES[m[2]!] : undefined;
  if (!m || !leaf) throw new Error(`gguf-map: no GGUF name for parameter ${ours}`);
  return `blk.${m[1]}.${leaf}`;
}

/** llama.cpp rotates pairs (2j, 2j+1) for these archs (ROPE_TYPE_NORM); ours pairs (j, j+D/2) */
function permutesQk(arch: Arch): boolean {
  return arch === 'llama' || arch === 'llada';
}

/**
 * Reorder the D rows of each head between HF rotate-half order and llama.cpp's interleaved order
 * (convert_hf_to_gguf.py LlamaModel.permute): interleaved row 2j+s = rotate-half row s·D/2 + j.
 * w (heads·D, cols); cols = 1 for a bias.
 */
export function permuteQkRows(w: Float32Array, heads: number, D: number, cols: number, direction: 'toGguf' | 'fromGguf'): Float32Array {
  if (w.length !== heads * D * cols) throw new Error(`permuteQkRows: ${w.length} values, expected ${heads}·${D}·${cols}`);
  const out = new Float32Array(w.length);
  const half = D / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let s = 0; s < 2; s++) {
        const inter = (h * D + 2 * j + s) * cols,
          hf = (h * D + s * half + j) * cols;
        const [dst, src] = direction === 'toGguf' ? [inter, hf] : [hf, inter];
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

function qkHeads(c: ModelConfig, ours: string): number | null {
  if (/\.(wq|bq)$/.test(ours)) return c.numHeads;
  if (/\.(wk|bk)$/.test(ours)) return c.numKvHeads;
  return null;
}

function checkExportable(c: ModelConfig): void {
  if (c.moe) throw new Error(`gguf export: ${c.arch} (mixture of experts) is not mapped to GGUF yet`);
  if (c.arch === 'llada' && c.qkvBias)
    throw new Error("gguf export: llama.cpp's llada graph has no q/k/v biases (src/models/llada.cpp); this model has them");
  if (c.arch === 'dream' && !c.qkvBias) throw new Error("gguf export: llama.cpp's dream graph requires q/k/v biases; this model has none");
  if (c.arch === 'dream' && c.numHeads * c.headDim !== c.hiddenSize) {
    throw new Error(`gguf export: llama.cpp's dream needs heads·headDim = hidden (${c.numHeads}·${c.headDim} ≠ ${c.hiddenSize})`);
  }
}

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });
const bool = (value: boolean): GgufValue => ({ type: 'bool', value });

/** the architecture metadata llama.cpp reads (see the header for which keys are required) */
export function ggufArchMetadata(c: ModelConfig, name = 'dllm'): [string, GgufValue][] {
  const a = c.arch;
  const kv: [string, GgufValue][] = [
    ['general.architecture', str(a)],
    ['general.name', str(name)],
    [`${a}.vocab_size`, u32(c.vocabSize)],
    [`${a}.context_length`, u32(c.maxPositions)],
    [`${a}.embedding_length`, u32(c.hiddenSize)],
    [`${a}.block_count`, u32(c.numLayers)],
    [`${a}.feed_forward_length`, u32(c.ffnSize)],
    [`${a}.attention.head_count`, u32(c.numHeads)],
    [`${a}.attention.head_count_kv`, u32(c.numKvHeads)],
    [`${a}.attention.key_length`, u32(c.headDim)],
    [`${a}.attention.value_length`, u32(c.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(c.normEps)],
    [`${a}.rope.dimension_count`, u32(c.headDim)],
    [`${a}.rope.freq_base`, f32(c.ropeTheta)],
  ];
  if (a !== 'llama') kv.push([`${a}.attention.causal`, bool(false)], ['diffusion.shift_logits', bool(c.shiftLogits)]);
  return kv;
}

export function ggufTokenizerMetadata(t: GgufTokenizerInfo, vocabSize: number): [string, GgufValue][] {
  if (t.tokens.length > vocabSize) throw new Error(`gguf export: ${t.tokens.length} tokens but the embedding has ${vocabSize} rows`);
  const tokens = [...t.tokens];
  const types = t.tokenTypes ? [...t.tokenTypes] : tokens.map(() => TOKEN_TYPE.normal);
  if (types.length !== tokens.length) throw new Error(`gguf export: ${types.length} token types for ${tokens.length} tokens`);
  if (!t.tokenTypes)
    for (const id of Object.values(t.specials)) if (id !== null && id !== undefined && id < types.length) types[id] = TOKEN_TYPE.control;
  for (let i = tokens.length; i < vocabSize; i++) {
    tokens.push(`[PAD${i}]`);
    types.push(TOKEN_TYPE.unused);
  } // as convert_hf_to_gguf get_vocab_base
  const seen = new Map<string, number>();
  tokens.forEach((tok, i) => {
    if (seen.has(tok))
      throw new Error(`gguf export: token ${JSON.stringify(tok)} has ids ${seen.get(tok)} and ${i}; llama.cpp refuses duplicate tokens`);
    seen.set(tok, i);
  });
  const kv: [string, GgufValue][] = [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str(t.pre ?? 'gpt-2')],
    ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: [...t.merges] }],
  ];
  for (const [k, key] of Object.entries(SPECIAL_KEYS) as [SpecialName, string][]) {
    const id = t.specials[k];
    if (id === null || id === undefined) continue;
    if (!(Number.isInteger(id) && id >= 0 && id < vocabSize))
      throw new Error(`gguf export: special token ${k} = ${id} is outside the vocabulary`);
    kv.push([key, u32(id)]);
  }
  if (t.addBos !== undefined) kv.push(['tokenizer.ggml.add_bos_token', bool(t.addBos)]);
  return kv;
}

/**
 * A GGUF llama.cpp loads as `config.arch`: f32 weights by our names (params.ts), matrices stored as F32 or F16
 * (norms and biases stay F32, as convert_hf_to_gguf does), q/k rows permuted where llama.cpp's RoPE needs it.
 */
/** llama_ftype: ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_K_M = 15 (llama.h) */
const FILE_TYPE = { f32: 0, f16: 1, q4_k: 15 } as const;

export function ggufFromModel(
  config: ModelConfig,
  weights: ReadonlyMap<string, Float32Array>,
  tokenizer: GgufTokenizerInfo,
  dtype: 'f32' | 'f16' | 'q4_k',
  opts: { name?: string } = {},
): Uint8Array {
  checkExportable(config);
  const tensors: GgufTensorInput[] = [];
  for (const spec of parameterTable(config)) {
    let data = weights.get(spec.name);
    if (!data) throw new Error(`gguf export: weight ${spec.name} is missing`);
    if (data.length !== numel(spec.shape))
      throw new Error(`gguf export: weight ${spec.name} has ${data.length} values, shape [${spec.shape}] needs ${numel(spec.shape)}`);
    const heads = qkHeads(config, spec.name);
    if (heads !== null && permutesQk(config.arch)) data = permuteQkRows(data, heads, config.headDim, spec.shape[1] ?? 1, 'toGguf');
    // q4_k: matrices whose rows fill 256-element super-blocks (llama-quantize keeps the others in a wider type)
    const matrix = spec.shape.length === 2,
      q4k = dtype === 'q4_k' && matrix && spec.shape[1]! % QK_K === 0;
    const type = q4k ? 'Q4_K' : dtype !== 'f32' && matrix ? 'F16' : 'F32';
    tensors.push({ name: ggufTensorName(spec.name), shape: spec.shape, type, data });
  }
  const metadata: [string, GgufValue][] = [
    ...ggufArchMetadata(config, opts.name),
    ['general.file_type', u32(FILE_TYPE[dtype])],
    ...ggufTokenizerMetadata(tokenizer, config.vocabSize),
  ];
  return writeGguf({ metadata, tensors });
}

/** the shortest decimal that rounds to the same f32 (metadata floats are f32: 1e-5 reads back as 1e-5) */
function shortestF32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

function configFromGguf(m: GgufMetadata, has: (name: string) => boolean, embedRows: number): ModelConfig {
  const arch = metaString(m, 'general.architecture');
  if (arch !== 'llada' && arch !== 'dream' && arch !== 'llama')
    throw new Error(`gguf: architecture "${arch}" is not supported (dllm loads llada, dream and llama)`);
  const k = (s: string) => `${arch}.${s}`;
  // the dimensions bound before anything is sized by them (parameterTable, the RoPE table), naming the key
  const bounds: [string, number][] = [
    ['block_count', MODEL_LIMITS.numLayers],
    ['context_length', MODEL_LIMITS.maxPositions],
    ['embedding_length', MODEL_LIMITS.hiddenSize],
    ['feed_forward_length', MODEL_LIMITS.ffnSize],
    ['attention.head_count', MODEL_LIMITS.numHeads],
  ];
  for (const [key, max] of bounds) {
    const v = m.has(k(key)) ? metaNumber(m, k(key)) : 0;
    if (v > max) throw new Error(`gguf: metadata "${k(key)}" is ${v}, over dllm's limit of ${max} (a corrupt or hostile file?)`);
  }
  const scaling = m.get(k('rope.scaling.type'));
  if (
    (scaling?.type === 'string' && scaling.value !== 'none' && scaling.value !== 'linear') ||
    metaNumber(m, k('rope.scaling.factor'), 1) !== 1
  ) {
    throw new Error('gguf: RoPE scaling is not supported');
  }
  const C = metaNumber(m, k('embedding_length')),
    H = metaNumber(m, k('attention.head_count'));
  const D = metaNumber(m, k('attention.key_length'), C / H);
  if (metaNumber(m, k('attention.value_length'), D) !== D) throw new Error('gguf: key and value head dims differ');
  if (metaNumber(m, k('rope.dimension_count'), D) !== D)
    throw new Error('gguf: partial rotary (rope.dimension_count ≠ head dim) is not supported');
  return validateConfig(
    {
      arch,
      vocabSize: embedRows,
      hiddenSize: C,
      numLayers: metaNumber(m, k('block_count')),
      numHeads: H,
      numKvHeads: metaNumber(m, k('attention.head_count_kv'), H),
      headDim: D,
      ffnSize: metaNumber(m, k('feed_forward_length')),
      ropeTheta: shortestF32(metaNumber(m, k('rope.freq_base'), 10000)),
      normEps: shortestF32(metaNumber(m, k('attention.layer_norm_rms_epsilon'))),
      tieEmbeddings: !has('output.weight'),
      qkvBias: has('blk.0.attn_q.bias'),
      attention: arch === 'llama' ? 'causal' : 'bidirectional',
      shiftLogits: arch === 'llama' ? false : metaBool(m, 'diffusion.shift_logits', arch === 'dream'),
      maxPositions: metaNumber(m, k('context_length')),
    },
    'gguf',
  );
}

function tokenizerFromGguf(m: GgufMetadata): GgufTokenizerInfo | null {
  const tokens = metaArray(m, 'tokenizer.ggml.tokens');
  if (!tokens) return null;
  const specials: Partial<Record<SpecialName, number>> = {};
  for (const [k, key] of Object.entries(SPECIAL_KEYS) as [SpecialName, string][]) if (m.has(key)) specials[k] = metaNumber(m, key);
  const types = metaArray(m, 'tokenizer.ggml.token_type');
  const t: GgufTokenizerInfo = {
    tokens: tokens.map(String),
    merges: (metaArray(m, 'tokenizer.ggml.merges') ?? []).map(String),
    specials,
    pre: metaString(m, 'tokenizer.ggml.pre', 'default'),
  };
  if (types) t.tokenTypes = types.map(Number);
  if (m.has('tokenizer.ggml.add_bos_token')) t.addBos = metaBool(m, 'tokenizer.ggml.add_bos_token', false);
  return t;
}

/** Load a llama.cpp GGUF of a llada, dream or llama model into our config and f32 tensors (any readable type). */
export async function modelFromGguf(src: Uint8Array | ByteSource, where = 'gguf'): Promise<GgufModel> {
  const file = await readGguf(src, where);
  const m = file.metadata;
  const embed = file.tensors.get('token_embd.weight');
  if (!embed || embed.shape.length !== 2) throw new Error(`${where}: no 2-D token_embd.weight tensor`);
  const config = configFromGguf(m, (n) => file.tensors.has(n), embed.shape[0]!);
  const tensors = new Map<string, Float32Array>();
  const used = new Set<string>();
  for (const spec of parameterTable(config)) {
    const name = ggufTensorName(spec.name);
    const info = file.tensors.get(name);
    if (!info) throw new Error(`${where}: tensor ${name} (our ${spec.name}) is missing`);
    if (info.shape.join() !== spec.shape.join())
      throw new Error(`${where}: tensor ${name} is [${info.shape}] (row-major), expected [${spec.shape}]`);
    used.add(name);
    let data = await readGgufTensor(src, info, where);
    const heads = qkHeads(config, spec.name);
    if (heads !== null && permutesQk(config.arch)) data = permuteQkRows(data, heads, config.headDim, spec.shape[1] ?? 1, 'fromGguf');
    tensors.set(spec.name, data);
  }
  const extra = [...file.tensors.keys()].filter((n) => !used.has(n));
  if (extra.length > 0)
    throw new Error(
      `${where}: unexpected tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''} for a ${config.arch} model`,
    );
  return { config, tensors, metadata: m, tokenizer: tokenizerFromGguf(m) };
}

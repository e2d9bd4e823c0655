// The GGUF writer of `dllm export --format gguf` (cli/export.ts) and of the benchmarks against llama.cpp.
// A checkpoint or model folder (config.json, model.safetensors or its shards, tokenizer.json) → one GGUF file that
// llama.cpp loads as llada / dream / llama (model/gguf-map.ts does the tensor and metadata mapping). The tokenizer
// metadata is rebuilt from tokenizer.json: llama.cpp's "gpt2" vocabulary is byte-level BPE, so only such
// tokenizers are accepted, and anything we cannot map faithfully is refused rather than written half-right.
// Everything is built in memory (gguf-write.ts), which suits the small models dllm trains, and written atomically.
import { basename, dirname, resolve } from 'node:path';
import { ggufFromModel, TOKEN_TYPE, type GgufTokenizerInfo, type SpecialName } from '../model/gguf-map.js';
import type { ModelConfig } from '../model/config.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { fileExists, writeFileAtomic } from './node-files.js';
import { folderFiles, loadF32Weights } from './node-model.js';

type Json = Record<string, unknown>;

export interface GgufExportOptions {
  checkpoint: string;
  out: string;
  dtype: 'f32' | 'f16' | 'q4_k';
}

const obj = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);

/** llama.cpp's pre-tokenizer name for a tokenizer.json pre_tokenizer, or null when we cannot name it safely */
function preTokenizerName(pre: Json | null): string | null {
  // HF's ByteLevel with use_regex applies GPT-2's pattern, which is llama.cpp's LLAMA_VOCAB_PRE_TYPE_GPT2 ("gpt-2").
  // Other pre-tokenizers (Split regexes of Llama-3, Qwen2, …) are identified in llama.cpp's converter by hashing
  // the tokenizer's output; guessing a name from here could tokenize differently, so they are refused.
  if (pre?.['type'] === 'ByteLevel' && pre['use_regex'] !== false) return 'gpt-2';
  return null;
}

/**
 * tokenizer.json (HF tokenizers, byte-level BPE) + the special ids dllm resolves for it → GGUF tokenizer info.
 * Ids missing from the vocabulary (gaps) become unused [PAD{i}] tokens, as convert_hf_to_gguf.py does.
 */
export function ggufTokenizerFromJson(
  tokenizerJson: Json,
  specials: Partial<Record<SpecialName, number | null>>,
  opts: { addBos?: boolean; where?: string } = {},
): GgufTokenizerInfo {
  const where = opts.where ?? 'tokenizer.json';
  const model = obj(tokenizerJson['model']);
  if (model?.['type'] !== 'BPE')
    throw new Error(`${where}: model type "${String(model?.['type'])}" is not BPE; llama.cpp's gpt2 vocabulary needs byte-level BPE`);
  if (model['byte_fallback'] === true) throw new Error(`${where}: byte_fallback BPE (SentencePiece style) is not byte-level BPE`);
  if (tokenizerJson['normalizer'] !== null && tokenizerJson['normalizer'] !== undefined) {
    throw new Error(`${where}: a normalizer is set; llama.cpp's gpt2 vocabulary applies none, so tokenization would differ`);
  }
  const pre = preTokenizerName(obj(tokenizerJson['pre_tokenizer']));
  if (!pre)
    throw new Error(
      `${where}: pre_tokenizer ${JSON.stringify(tokenizerJson['pre_tokenizer'])} is not GPT-2 ByteLevel; no llama.cpp pre-tokenizer name is known for it`,
    );
  const vocab = obj(model['vocab']);
  if (!vocab) throw new Error(`${where}: model.vocab is not a token → id map`);
  const byId = new Map<number, { token: string; type: number }>();
  const put = (token: string, id: unknown, type: number) => {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new Error(`${where}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}`);
    const seen = byId.get(id);
    if (seen && seen.token !== token)
      throw new Error(`${where}: id ${id} is both ${JSON.stringify(seen.token)} and ${JSON.stringify(token)}`);
    byId.set(id, { token, type });
  };
  for (const [token, id] of Object.entries(vocab)) put(token, id, TOKEN_TYPE.normal);
  // added tokens: special ones are control tokens (never produced by the BPE merges), others user-defined
  for (const a of (tokenizerJson['added_tokens'] as unknown[] | undefined) ?? []) {
    const t = obj(a);
    if (!t || typeof t['content'] !== 'string') throw new Error(`${where}: malformed added_tokens entry ${JSON.stringify(a)}`);
    put(t['content'], t['id'], t['special'] === true ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined);
  }
  const n = Math.max(...byId.keys()) + 1;
  const tokens: string[] = [],
    tokenTypes: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = byId.get(i);
    tokens.push(e ? e.token : `[PAD${i}]`);
    tokenTypes.push(e ? e.type : TOKEN_TYPE.unused);
  }
  // the resolved special ids are control tokens even if tokenizer.json lists them only in model.vocab
  for (const id of Object.values(specials))
    if (typeof id === 'number' && id < n && tokenTypes[id] === TOKEN_TYPE.normal) tokenTypes[id] = TOKEN_TYPE.control;
  // merges: ["a b", …] (tokenizers < 0.20) or [["a", "b"], …]; GGUF stores "a b", so a part may not contain a space
  const merges = ((model['merges'] as unknown[] | undefined) ?? []).map((m, i) => {
    const parts = typeof m === 'string' ? m.split(' ') : Array.isArray(m) ? m.map(String) : [];
    if (parts.length !== 2 || parts.some((p) => p.length === 0))
      throw new Error(`${where}: merge ${i} ${JSON.stringify(m)} cannot be written as "left right"`);
    return `${parts[0]} ${parts[1]}`;
  });
  const info: GgufTokenizerInfo = { tokens, merges, tokenTypes, specials, pre };
  if (opts.addBos !== undefined) info.addBos = opts.addBos;
  return info;
}

/** general.name: the folder's name, or the run's name for a run's checkpoint/ folder */
function modelName(dir: string): string {
  const abs = resolve(dir);
  const base = basename(abs);
  return base === 'checkpoint' ? basename(dirname(abs)) : base;
}

export async function exportGguf(o: GgufExportOptions): Promise<{ config: ModelConfig; bytes: number; tensors: number }> {
  const files = folderFiles(o.checkpoint);
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!(await fileExists(resolve(o.checkpoint, f))))
      throw new Error(`${o.checkpoint}: ${f} is missing; is this a checkpoint or model folder?`);
  }
  if (!(await fileExists(dirname(resolve(o.out))))) throw new Error(`${dirname(resolve(o.out))}: the output folder does not exist`);
  // f32 values whatever the checkpoint stores (F32/F16/BF16, sharded or not); the reference kernels only convert
  const loaded = await loadF32Weights(o.checkpoint);
  const weights = loaded.weights;
  const tokenizerJson = (await files.json('tokenizer.json'))!;
  const tokenizerConfig = await files.json('tokenizer_config.json');
  const modelConfig = await files.json('config.json');
  const generationConfig = await files.json('generation_config.json');
  // special ids resolved exactly as dllm resolves them when it runs the model (tokenizer/index.ts)
  const s = new TextTokenizer({
    tokenizerJson,
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    ...(modelConfig ? { modelConfig } : {}),
    ...(generationConfig ? { generationConfig } : {}),
  }).specials;
  // eot only when it is a separate token: the resolver falls back to eos, which needs no second key
  const specials = { bos: s.bos, eos: s.eos, pad: s.pad, mask: s.mask, ...(s.eot !== s.eos ? { eot: s.eot } : {}) };
  const addBos = tokenizerConfig?.['add_bos_token'];
  const tokenizer = ggufTokenizerFromJson(tokenizerJson, specials, {
    where: resolve(o.checkpoint, 'tokenizer.json'),
    ...(typeof addBos === 'boolean' ? { addBos } : {}),
  });
  const bytes = ggufFromModel(loaded.config, weights, tokenizer, o.dtype, { name: modelName(o.checkpoint) });
  await writeFileAtomic(o.out, bytes);
  return { config: loaded.config, bytes: bytes.length, tensors: weights.size };
}

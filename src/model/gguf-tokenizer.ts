// A GGUF's tokenizer (tokenizer.ggml.* metadata) → the files a TextTokenizer reads: tokenizer.json for a
// byte-level BPE ("gpt2" model) with GPT-2's pre-tokenizer ("gpt-2" / "default" pre: what dllm's own models and
// their GGUF exports use), the tokens by id and the merges in rank order; control and user-defined tokens as
// added tokens; the special ids as a generation config; tokenizer.chat_template as the chat template. A GGUF
// whose pre-tokenizer splits text another way (llama-bpe, qwen2, …) is refused by name: put the model's own
// tokenizer.json beside the file instead (see platform/node-model.ts).
import type { TokenizerFiles } from '../tokenizer/index.js';
import { addedToken, byteLevelBpeJson } from '../tokenizer/bpe-json.js';
import { TOKEN_TYPE, type GgufTokenizerInfo } from './gguf-map.js';

/** llama.cpp pre-tokenizer names that split text as GPT-2's byte-level regex does */
const GPT2_PRE = new Set(['gpt-2', 'default']);

export function tokenizerFilesFromGguf(t: GgufTokenizerInfo, chatTemplate: string | null, where: string): TokenizerFiles {
  const pre = t.pre ?? 'default';
  if (!GPT2_PRE.has(pre))
    throw new Error(
      `${where}: tokenizer.ggml.pre is "${pre}"; dllm rebuilds GPT-2 byte-level tokenizers ("gpt-2") from GGUF only — put the model's tokenizer.json beside the file`,
    );
  const types = t.tokenTypes ?? [];
  const added = t.tokens.flatMap((content, id) =>
    types[id] === TOKEN_TYPE.control || types[id] === TOKEN_TYPE.userDefined
      ? [addedToken(id, content, types[id] === TOKEN_TYPE.control)]
      : [],
  );
  const tokenizerJson = byteLevelBpeJson(Object.fromEntries(t.tokens.map((tok, id) => [tok, id])), t.merges, added);
  return { tokenizerJson, ...ggufSpecialFiles(t, chatTemplate) };
}

/** the GGUF's special ids and chat template as the config files a TextTokenizer reads them from */
export function ggufSpecialFiles(
  t: GgufTokenizerInfo,
  chatTemplate: string | null,
): { tokenizerConfig: Record<string, unknown>; generationConfig: Record<string, unknown> } {
  const s = t.specials,
    name = (id: number | null | undefined) => (id === null || id === undefined ? undefined : t.tokens[id]);
  const eos = s.eos ?? null,
    eot = s.eot ?? null;
  const generationConfig = {
    ...(eos !== null ? { eos_token_id: eot !== null && eot !== eos ? [eos, eot] : eos } : {}),
    ...(s.bos !== null && s.bos !== undefined ? { bos_token_id: s.bos } : {}),
    ...(s.pad !== null && s.pad !== undefined ? { pad_token_id: s.pad } : {}),
    ...(s.mask !== null && s.mask !== undefined ? { mask_token_id: s.mask } : {}),
  };
  const tokenizerConfig = {
    ...(chatTemplate ? { chat_template: chatTemplate } : {}),
    ...(name(eos) ? { eos_token: name(eos) } : {}),
    ...(name(s.bos) ? { bos_token: name(s.bos) } : {}),
    ...(name(s.pad) ? { pad_token: name(s.pad) } : {}),
    ...(t.addBos !== undefined ? { add_bos_token: t.addBos } : {}),
  };
  return { tokenizerConfig, generationConfig };
}

// The tokenizer.json of a byte-level BPE (GPT-2's pre-tokenizer and decoder, no normaliser, no post-processor):
// the one skeleton behind the tokenizers dllm trains (bpe-train.ts) and the ones it rebuilds from a GGUF's
// metadata (model/gguf-tokenizer.ts).

/** one entry of tokenizer.json `added_tokens` */
export interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** an added token as dllm writes them: matched as is, special when `special` */
export function addedToken(id: number, content: string, special: boolean): AddedToken {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** tokenizer.json for a byte-level BPE: vocab piece → id, merges in rank order ("a b" strings or [a, b] pairs) */
export function byteLevelBpeJson(
  vocab: Record<string, number>,
  merges: readonly (string | readonly [string, string])[],
  added: AddedToken[],
) {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: { ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => (typeof m === 'string' ? m : [m[0], m[1]])),
    },
  };
}

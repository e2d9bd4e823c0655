// Fill-in-the-middle training documents (Bavarian et al. 2022, "Efficient Training of Language Models to
// Fill in the Middle"; StarCoder's data pipeline): with probability FIM_RATE a document is cut at two
// uniformly random character positions into prefix / middle / suffix and rearranged so that a left-to-right
// model learns to write the middle after seeing both sides:
//   PSM  <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle
//   SPM  <|fim_prefix|> <|fim_suffix|> suffix <|fim_middle|> prefix middle   (StarCoder's SPM variant)
// The sentinels are special tokens of the tokenizer; the rest of a document is tokenized piece by piece.

export const FIM_RATE = 0.5; // StarCoder: FIM on half the documents
export const FIM_SPM_RATE = 0.5; // StarCoder: half of the FIM documents in SPM order
export const FIM_TOKENS = { prefix: '<|fim_prefix|>', middle: '<|fim_middle|>', suffix: '<|fim_suffix|>' } as const;

export interface FimIds {
  prefix: number;
  middle: number;
  suffix: number;
}

/** the PSM layout, <prefix> P <suffix> S <middle>, that the middle follows: in training and as an infill's prompt */
export function psmPrompt(ids: FimIds, prefix: ArrayLike<number>, suffix: ArrayLike<number>): number[] {
  return [ids.prefix, ...Array.from(prefix), ids.suffix, ...Array.from(suffix), ids.middle];
}

/**
 * One document as token ids, FIM-transformed or not. `uniform` is the caller's seeded generator in [0, 1);
 * `encode` tokenizes plain text (no special tokens).
 */
export function fimDocument(text: string, uniform: () => number, encode: (s: string) => ArrayLike<number>, ids: FimIds): number[] {
  if (uniform() >= FIM_RATE || text.length < 2) return Array.from(encode(text));
  const a = Math.floor(uniform() * (text.length + 1)),
    b = Math.floor(uniform() * (text.length + 1));
  const lo = Math.min(a, b),
    hi = Math.max(a, b);
  const pre = Array.from(encode(text.slice(0, lo))),
    mid = Array.from(encode(text.slice(lo, hi))),
    suf = Array.from(encode(text.slice(hi)));
  if (uniform() < FIM_SPM_RATE) return [ids.prefix, ids.suffix, ...suf, ids.middle, ...pre, ...mid];
  return [...psmPrompt(ids, pre, suf), ...mid];
}

// From documents to training data: a byte-level BPE tokenizer (trained on a deterministic sample of the
// train split unless one is given), token streams train.bin / val.bin (uint16 when the vocabulary fits;
// EOS after every document) and train-fim.bin, the same train documents with the fill-in-the-middle
// transformation (data/fim.ts) for AR models that infill. Shared by `dllm data build` and `dllm data corpus`.
import { join } from 'node:path';
import { fimDocument, FIM_TOKENS } from '../data/fim.js';
import { countWords, toTokenizerJson, trainBpe } from '../tokenizer/bpe-train.js';
import { TextTokenizer } from '../tokenizer/index.js';
import { Rng } from '../train/rng.js';
import { writeFileAtomic } from '../platform/node-files.js';

/** special tokens of our own models (LLaDA's names: <|endoftext|> EOS, <|mdm_mask|> mask; StarCoder-style FIM sentinels) */
export const OUR_SPECIALS = ['<|endoftext|>', '<|mdm_mask|>', FIM_TOKENS.prefix, FIM_TOKENS.middle, FIM_TOKENS.suffix];

/**
 * the chat template of our code models: they are not instruction-tuned, so a conversation becomes one Python
 * prompt — system messages as `#` comment lines, user and assistant messages concatenated as they are (a
 * user turn that does not end a line gets a newline before the next turn) — and the model continues it
 */
export const CODE_CHAT_TEMPLATE =
  "{%- for m in messages -%}{%- if m.role == 'system' -%}{{ '# ' + (m.content | replace('\\n', '\\n# ')) + '\\n' }}" +
  "{%- else -%}{{ m.content }}{%- if m.role == 'user' and not loop.last and not m.content.endswith('\\n') %}{{ '\\n' }}{% endif -%}" +
  '{%- endif -%}{%- endfor -%}';

/** seed of the FIM transformation's generator: a rebuild gives the same train-fim.bin */
export const FIM_SEED = 0xf1f1;

export interface Doc {
  path: string;
  text: string;
}

export interface StreamStats {
  vocabSize: number;
  dtype: 'uint16' | 'uint32';
  trainTokens: number;
  valTokens: number;
  trainFimTokens: number;
  trainBytes: number;
  valBytes: number;
  trainBytesPerToken: number;
  valBytesPerToken: number;
  tokenizerSampleBytes: number;
}

/** every k-th document until `maxBytes`, so the tokenizer sees all packages, not the first ones */
function tokenizerSample(docs: Doc[], maxBytes: number): string[] {
  const total = docs.reduce((s, d) => s + d.text.length, 0);
  const stride = Math.max(1, Math.ceil(total / maxBytes));
  return docs.filter((_, i) => i % stride === 0).map((d) => d.text);
}

export async function writeTokenData(
  out: string,
  train: Doc[],
  val: Doc[],
  opts: {
    vocabSize: number;
    tokenizerJson?: Record<string, unknown> | undefined;
    tokenizerSampleBytes: number;
    fim: boolean;
    onProgress?: (what: string) => void;
  },
): Promise<StreamStats> {
  const sample = tokenizerSample(train, opts.tokenizerSampleBytes);
  opts.onProgress?.(
    opts.tokenizerJson ? `tokenizer: the one given (--tokenizer)` : `tokenizer: BPE ${opts.vocabSize} on ${sample.length} files`,
  );
  const tokenizerJson =
    opts.tokenizerJson ?? toTokenizerJson(trainBpe(countWords(sample), { vocabSize: opts.vocabSize, specialTokens: OUR_SPECIALS }));
  const tokenizerConfig = {
    eos_token: OUR_SPECIALS[0],
    mask_token: OUR_SPECIALS[1],
    pad_token: OUR_SPECIALS[0],
    clean_up_tokenization_spaces: false,
    model_max_length: 1024,
    chat_template: CODE_CHAT_TEMPLATE,
  };
  const tok = new TextTokenizer({ tokenizerJson, tokenizerConfig });
  const eos = tok.specials.eos;
  if (eos === null || tok.specials.mask === null) throw new Error('tokenizer needs <|endoftext|> and <|mdm_mask|> special tokens');
  const Arr = tok.vocabSize <= 65536 ? Uint16Array : Uint32Array;
  const pack = (parts: ArrayLike<number>[]) => {
    const n = parts.reduce((s, p) => s + p.length + 1, 0);
    const ids = new Arr(n);
    let o = 0;
    for (const p of parts) {
      ids.set(p, o);
      o += p.length;
      ids[o++] = eos;
    } // EOS after every document
    return ids;
  };
  opts.onProgress?.(`encoding ${train.length + val.length} files`);
  const trainParts = train.map((d) => tok.encode(d.text)),
    valParts = val.map((d) => tok.encode(d.text));
  const trainIds = pack(trainParts),
    valIds = pack(valParts);
  await writeFileAtomic(join(out, 'train.bin'), new Uint8Array(trainIds.buffer));
  await writeFileAtomic(join(out, 'val.bin'), new Uint8Array(valIds.buffer));
  let trainFimTokens = 0;
  if (opts.fim) {
    const id = (t: string) => {
      const v = tok.tokenId(t);
      if (v === null) throw new Error(`tokenizer has no ${t} token (needed for FIM)`);
      return v;
    };
    const fimIds = { prefix: id(FIM_TOKENS.prefix), middle: id(FIM_TOKENS.middle), suffix: id(FIM_TOKENS.suffix) };
    const rng = new Rng(FIM_SEED);
    const fim = pack(
      train.map((d) =>
        fimDocument(
          d.text,
          () => rng.uniform(),
          (s) => (s ? tok.encode(s) : []),
          fimIds,
        ),
      ),
    );
    trainFimTokens = fim.length;
    await writeFileAtomic(join(out, 'train-fim.bin'), new Uint8Array(fim.buffer));
  }
  await writeFileAtomic(join(out, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFileAtomic(join(out, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2));
  const bytes = (docs: Doc[]) => docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
  const trainBytes = bytes(train),
    valBytes = bytes(val);
  return {
    vocabSize: tok.vocabSize,
    dtype: Arr === Uint16Array ? 'uint16' : 'uint32',
    trainTokens: trainIds.length,
    valTokens: valIds.length,
    trainFimTokens,
    trainBytes,
    valBytes,
    trainBytesPerToken: +(trainBytes / Math.max(1, trainIds.length)).toFixed(4),
    valBytesPerToken: +(valBytes / Math.max(1, valIds.length)).toFixed(4),
    tokenizerSampleBytes: sample.reduce((s, t) => s + t.length, 0),
  };
}

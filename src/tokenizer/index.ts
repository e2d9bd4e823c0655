// Text ↔ token ids through a checkpoint's own tokenizer.json (@huggingface/tokenizers, the tokenizer of
// transformers.js), chat templates rendered with @huggingface/jinja, and the special ids a diffusion decoder
// needs — all read from the checkpoint's files (config.json, generation_config.json, tokenizer_config.json),
// never written as literals in code.
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';

type Json = Record<string, unknown>;

/**
 * the markers chat templates close a turn with, for checkpoints whose generation_config names one eos only:
 * Llama-3 / LLaDA-8B-Instruct, Qwen / Dream (ChatML), Bailing v2 / LLaDA2.0 (`<role>…</role>…<|role_end|>`)
 */
const END_OF_TURN = ['<|eot_id|>', '<|im_end|>', '<|role_end|>'] as const;

export interface SpecialTokens {
  mask: number | null; // the [MASK] of masked diffusion (LLaDA <|mdm_mask|>, Dream <|mask|>)
  eos: number | null; // end of text
  eot: number | null; // end of turn in chat (END_OF_TURN: LLaDA <|eot_id|>, Qwen <|im_end|>, LLaDA2 <|role_end|>); may equal eos
  bos: number | null;
  pad: number | null;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content: string;
  /** an assistant turn's tool calls (OpenAI shape; Hugging Face templates read message.tool_calls) */
  tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }>;
  /** a tool turn: the call it answers */
  tool_call_id?: string;
  name?: string;
}

/** a tool the model may call (OpenAI `tools[]`; rendered through the template's `tools` variable) */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export interface TokenizerFiles {
  tokenizerJson: Json; // tokenizer.json
  tokenizerConfig?: Json; // tokenizer_config.json
  modelConfig?: Json; // config.json
  generationConfig?: Json; // generation_config.json
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json)['content'] === 'string') return (v as Json)['content'] as string;
  return null;
}
function firstId(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0] as number;
  return null;
}

function longestToken(tj: Json): number {
  const vocab = (tj['model'] as Json | undefined)?.['vocab'];
  const words: unknown[] = Array.isArray(vocab)
    ? vocab.map((v) => (Array.isArray(v) ? v[0] : v))
    : vocab && typeof vocab === 'object'
      ? Object.keys(vocab)
      : [];
  let max = 1;
  for (const w of words) if (typeof w === 'string' && w.length > max) max = w.length;
  for (const a of (tj['added_tokens'] as Json[] | undefined) ?? []) max = Math.max(max, String(a['content'] ?? '').length);
  return max;
}

export class TextTokenizer {
  readonly specials: SpecialTokens;
  readonly vocabSize: number;
  readonly chatTemplate: string | null;
  private readonly tok: Tokenizer;
  /** the same tokenizer without its special added tokens: user text through it can never become a control token */
  private readonly plain: Tokenizer;
  private readonly template: Template | null;
  private readonly tokenizerConfig: Json;
  /** the strings of the special added tokens (tokenizer.json added_tokens with special: true) */
  readonly specialStrings: readonly string[];

  constructor(files: TokenizerFiles) {
    this.tokenizerConfig = files.tokenizerConfig ?? {};
    this.tok = new Tokenizer(files.tokenizerJson as never, this.tokenizerConfig as never);
    const added = (files.tokenizerJson['added_tokens'] as Json[] | undefined) ?? [];
    this.specialStrings = added.filter((a) => a['special'] === true).map((a) => String(a['content']));
    this.plain = new Tokenizer(
      { ...files.tokenizerJson, added_tokens: added.filter((a) => a['special'] !== true) } as never,
      this.tokenizerConfig as never,
    );
    this.vocabSize = this.countVocab(files.tokenizerJson);
    this.maxTokenChars = longestToken(files.tokenizerJson);
    this.specials = this.resolveSpecials(files);
    const t = this.tokenizerConfig['chat_template'];
    this.chatTemplate = typeof t === 'string' ? t : null;
    this.template = this.chatTemplate ? new Template(this.chatTemplate) : null;
  }

  /**
   * the most characters of text one token can stand for: its string's length in the vocabulary (a byte-level
   * BPE token's string has one character per byte, and a text character is at least one byte). A text longer
   * than n × this cannot fit in n tokens, so a server can refuse it before tokenizing.
   */
  readonly maxTokenChars: number;

  private countVocab(tj: Json): number {
    const model = tj['model'] as Json | undefined;
    const vocab = model?.['vocab'];
    let max = -1;
    if (vocab && typeof vocab === 'object' && !Array.isArray(vocab))
      for (const id of Object.values(vocab as Json)) max = Math.max(max, Number(id));
    else if (Array.isArray(vocab)) max = vocab.length - 1;
    for (const a of (tj['added_tokens'] as Json[] | undefined) ?? []) max = Math.max(max, Number(a['id']));
    return max + 1;
  }

  /** id of a token string, or null if the vocabulary does not have it */
  tokenId(content: string): number | null {
    const id = this.tok.token_to_id(content);
    return id === undefined || id === null ? null : id;
  }

  private resolveSpecials(f: TokenizerFiles): SpecialTokens {
    const mc = f.modelConfig ?? {},
      gc = f.generationConfig ?? {},
      tc = this.tokenizerConfig;
    const byName = (key: string): number | null => {
      const c = tokenContent(tc[key]);
      return c === null ? null : this.tokenId(c);
    };
    const eos = firstId(gc['eos_token_id']) ?? firstId(mc['eos_token_id']) ?? byName('eos_token');
    // end of turn: a second eos id in generation_config (Llama-3 / Qwen style lists), else the template's marker
    const eosList = Array.isArray(gc['eos_token_id']) ? (gc['eos_token_id'] as number[]) : [];
    const marker = END_OF_TURN.map((m) => this.tokenId(m)).find((id) => id !== null);
    const eot = eosList.find((id) => id !== eos) ?? marker ?? eos;
    return {
      mask: firstId(mc['mask_token_id']) ?? firstId(gc['mask_token_id']) ?? byName('mask_token'),
      eos,
      eot,
      bos: firstId(mc['bos_token_id']) ?? firstId(gc['bos_token_id']) ?? byName('bos_token'),
      pad: firstId(mc['pad_token_id']) ?? firstId(gc['pad_token_id']) ?? byName('pad_token'),
    };
  }

  /**
   * text → ids, every character as text: a special token's string in the text (`<|mdm_mask|>` in a file
   * that mentions it) is spelled out in ordinary tokens, never turned into the control token (special-token
   * injection). Only the chat template (encodeChat) and encodeWithSpecials produce special tokens.
   */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): Int32Array {
    const e = this.plain.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false } as never) as { ids: number[] };
    return Int32Array.from(e.ids);
  }

  /** text the program wrote (a rendered template, FIM sentinels) → ids, special-token strings as control tokens */
  encodeWithSpecials(text: string, opts: { addSpecialTokens?: boolean } = {}): Int32Array {
    const e = this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false } as never) as { ids: number[] };
    return Int32Array.from(e.ids);
  }

  decode(ids: ArrayLike<number>, opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.tok.decode(Array.from(ids), { skip_special_tokens: opts.skipSpecialTokens ?? false } as never);
  }

  private pieceList: string[] | null = null;
  private textPieces: Uint8Array | null = null;
  /** each token's text on its own (decode([v])), decoded once: what constrained decoding matches against */
  get pieces(): readonly string[] {
    this.pieceList ??= Array.from({ length: this.vocabSize }, (_, v) => this.decode([v]));
    return this.pieceList;
  }
  /** whether token v is text by itself: not a special token, not empty, not part of a split UTF-8 sequence */
  isTextPiece(v: number): boolean {
    if (!this.textPieces) {
      const specials = new Set(this.specialStrings);
      this.textPieces = Uint8Array.from(this.pieces, (s) => (s.length > 0 && !specials.has(s) && !s.includes('\uFFFD') ? 1 : 0));
    }
    return this.textPieces[v] === 1;
  }

  /** whether the chat template renders a `tools` list (Hugging Face's convention for tool calling) */
  get templateHasTools(): boolean {
    return this.chatTemplate !== null && /\btools\b/.test(this.chatTemplate);
  }

  /** the chat template rendered to text (trusted text: tokenize with encodeWithSpecials, or use encodeChat) */
  renderChat(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; tools?: readonly ChatTool[] } = {}): string {
    if (!this.template) throw new Error('tokenizer: this checkpoint has no chat_template in tokenizer_config.json');
    const str = (k: string) => tokenContent(this.tokenizerConfig[k]) ?? '';
    return this.template.render({
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      ...(opts.tools?.length ? { tools: opts.tools } : {}),
      bos_token: str('bos_token'),
      eos_token: str('eos_token'),
      pad_token: str('pad_token'),
    });
  }

  /**
   * a conversation → prompt ids where only the template makes special tokens. Messages free of special-token
   * strings (nearly all) are rendered and encoded whole, exactly as the reference tokenizer would. Otherwise
   * the template is rendered with a placeholder per message, its own text encoded with specials and each
   * message's content as plain text; a template that rewrites content (a placeholder does not come through
   * intact) cannot keep it plain, and the messages are refused.
   */
  encodeChat(messages: ChatMessage[], opts: { addGenerationPrompt?: boolean; tools?: readonly ChatTool[] } = {}): Int32Array {
    const holds = (t: string) => this.specialStrings.find((x) => t.includes(x));
    if (!messages.some((m) => holds(m.content))) return this.encodeWithSpecials(this.renderChat(messages, opts));
    // NUL never occurs in a template; a message holding one takes the fallback path
    const marks = messages.map((_, i) => `\u0000message ${i}\u0000`);
    const rendered = this.renderChat(
      messages.map((m, i) => ({ ...m, content: marks[i]! })),
      opts,
    );
    const pieces: Int32Array[] = [];
    let at = 0,
      ok = !messages.some((m) => m.content.includes('\u0000'));
    for (const [i, mark] of marks.entries()) {
      if (!ok) break;
      const j = rendered.indexOf(mark, at);
      if (j < 0 || rendered.indexOf(mark, j + mark.length) >= 0) {
        ok = false;
        break;
      }
      pieces.push(this.encodeWithSpecials(rendered.slice(at, j)), this.encode(messages[i]!.content));
      at = j + mark.length;
    }
    if (ok) {
      pieces.push(this.encodeWithSpecials(rendered.slice(at)));
      const out = new Int32Array(pieces.reduce((n, p) => n + p.length, 0));
      let k = 0;
      for (const p of pieces) {
        out.set(p, k);
        k += p.length;
      }
      return out;
    }
    const i = messages.findIndex((m) => holds(m.content));
    throw new Error(
      `messages[${i}].content holds the special token ${JSON.stringify(holds(messages[i]!.content))}, and this chat template rewrites message text, so it cannot be kept as plain text`,
    );
  }
}

// One text generator over the decoding loop (browser-safe: no node:*; the text/ layer): a model, its tokenizer and a kind it
// finds by itself (diffusion or causal) → complete / stream / infill / chat, with options under the CLI's
// names and ONE defaults table (TEXT_DEFAULTS) that the CLI, the server and the evaluation share. Node users
// get one from `loadModel(nameOrDir)` in 'dllm/node'; the browser platform builds one from fetched files.
import { FIM_TOKENS, psmPrompt, type FimIds } from '../data/fim.js';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { DiffusionLM, type CacheMode } from '../model/diffusion-lm.js';
import type { ForwardModel } from '../model/forward.js';
import {
  arGenerate,
  DecodeOptionError,
  generate,
  parseArDecodeOptions,
  parseDecodeOptions,
  type Commit,
  type DecodeOptions,
  type DecodeResult,
  type DecodeStep,
} from '../sampler/index.js';
import type { ChatMessage, TextTokenizer } from '../tokenizer/index.js';
import { healedText, healPrompt, type Healing } from './heal.js';
import { findStop, SettledText } from './settled.js';
import { planStructure, type StructuredMode } from './structured-plan.js';

export type ModelKind = 'diffusion' | 'causal';

/** what a caller may set (the CLI's flag names in camelCase; `maxTokens` is the decoder's genLength) */
export interface TextOptions extends Partial<Omit<DecodeOptions, 'genLength'>> {
  maxTokens?: number;
  /** stop when the settled text holds one of these (the text is cut before it) */
  stop?: readonly string[];
  /** the block cache for this call (diffusion; diffusion-lm.ts CACHE_HELP): 'block' implies blockCausal */
  cache?: CacheMode;
  /** a prompt too long for the context loses its beginning instead of failing */
  truncatePrompt?: boolean;
  /**
   * a JSON Schema the answer follows: on a diffusion model its skeleton is pinned on the canvas and each value
   * cell limited to its type's tokens (structured.ts); what a canvas cannot hold, and every causal model, is
   * masked token by token (json-mask.ts). Either way the text is JSON that validates, by construction.
   */
  jsonSchema?: Record<string, unknown>;
  /** how jsonSchema is decoded: 'auto' pins when it can (structured-plan.ts) */
  structured?: StructuredMode;
  /** a text prompt's trailing whitespace token is backed up and regrown by the model (heal.ts); not for ids, infills, JSON */
  healPrompt?: boolean;
}

/**
 * THE defaults of dllm's text paths (library, CLI, server, eval): Fast-dLLM threshold decoding (τ 0.9, its
 * paper's default) with early stop at EOS — the fast path users want. The sampler's own defaults
 * (DECODE_DEFAULTS) stay LLaDA generate.py's, for exact parity.
 */
export const TEXT_DEFAULTS: Readonly<{ decoder: 'threshold'; earlyStop: boolean; maxTokens: number; healPrompt: boolean }> = Object.freeze({
  decoder: 'threshold',
  earlyStop: true,
  maxTokens: 128,
  healPrompt: true, // guidance heals by default; it only widens what the first token may be (heal.ts)
});

/**
 * Architectures whose official generate() decodes block-causally, so their calls default to blockCausal
 * (not an infill: a block-causal block never sees a suffix). llada2: LLaDA2MoeModelLM.generate builds the
 * tril(num_blocks) block mask though its config says nothing of attention (config-moe.ts).
 */
const BLOCK_CAUSAL_ARCHS: ReadonlySet<ModelConfig['arch']> = new Set(['llada2']);

/** whether a diffusion call on this model decodes block-causally unless told otherwise */
function blockCausalByDefault(config: ModelConfig, cache: CacheMode, infill: boolean): boolean {
  return cache === 'block' || (!infill && (BLOCK_CAUSAL_ARCHS.has(config.arch) || config.bdSize !== undefined));
}

/**
 * the decode options a model's diffusion calls start from, before the caller's (generator, server and eval alike):
 * a block-diffusion model decodes in the blocks of its training (config bd_size), block-causally where
 * blockCausalByDefault says so; `infill`: a suffix reaches the denoiser (not through FIM sentinels)
 */
export function modelDecodeDefaults(config: ModelConfig, cache: CacheMode, infill: boolean): Partial<DecodeOptions> {
  return {
    ...(config.bdSize !== undefined ? { blockLength: config.bdSize } : {}),
    ...(blockCausalByDefault(config, cache, infill) ? { blockCausal: true } : {}),
  };
}

/**
 * the block cache of a model's calls that choose none: a block-diffusion model (bd_size) decodes with the
 * exact block cache (Fast-dLLM v2 / SDAR generate keep one), the others recompute ('none', LLaDA generate.py)
 */
export function defaultCache(config: ModelConfig): CacheMode {
  return config.bdSize !== undefined ? 'block' : 'none';
}

/** one step as a caller sees it */
export interface TextStep {
  step: number;
  nfe: number;
  /** the generated span, mask id where undecided */
  canvas: Int32Array;
  /** the settled text so far: every position before it decided, up to the first end token */
  text: string;
  committed: Commit[];
  /** the decoder's step (for views that draw the canvas) */
  raw: DecodeStep;
}

export interface Completion {
  text: string;
  ids: Int32Array;
  finishReason: 'stop' | 'length';
  nfe: number;
  tokensPerForward: number;
  promptTokens: number;
  truncatedPrompt: boolean;
  /** ms: the whole call, inside the model, and until the first generated position settled */
  timings: { totalMs: number; modelMs: number; firstMs: number };
}

export interface GeneratorParts {
  config: ModelConfig;
  model: ForwardModel;
  tokenizer: TextTokenizer;
  backend?: string;
  dispose?: () => void;
  /** the block cache of calls that do not choose one */
  cache?: CacheMode;
}

/** the tokenizer's FIM sentinels, or null when it has not all three */
export function fimIds(tok: TextTokenizer): FimIds | null {
  const prefix = tok.tokenId(FIM_TOKENS.prefix),
    middle = tok.tokenId(FIM_TOKENS.middle),
    suffix = tok.tokenId(FIM_TOKENS.suffix);
  return prefix === null || middle === null || suffix === null ? null : { prefix, middle, suffix };
}

/** an infill's prompt through the FIM sentinels, in the PSM layout the model was trained on (data/fim.ts) */
export function fimPrompt(fim: FimIds, prefix: ArrayLike<number>, suffix: ArrayLike<number>): Int32Array {
  return Int32Array.from(psmPrompt(fim, prefix, suffix));
}

export class TextGenerator {
  readonly kind: ModelKind;
  readonly config: ModelConfig;
  readonly model: ForwardModel;
  readonly tokenizer: TextTokenizer;
  readonly backend: string;
  private readonly close: () => void;
  private readonly cache: CacheMode;

  constructor(parts: GeneratorParts) {
    this.config = parts.config;
    this.model = parts.model;
    this.tokenizer = parts.tokenizer;
    this.backend = parts.backend ?? 'unknown';
    this.close = parts.dispose ?? (() => {});
    this.cache = parts.cache ?? defaultCache(parts.config);
    this.kind = parts.config.attention === 'causal' ? 'causal' : 'diffusion';
    if (this.kind === 'diffusion' && parts.tokenizer.specials.mask === null)
      throw new Error('the tokenizer has no mask token, so this bidirectional model cannot be a diffusion model');
  }

  /** the model as the diffusion decoder's Denoiser (its specials from the tokenizer), with a block cache */
  denoiser(cache: CacheMode = this.cache): DiffusionLM {
    const sp = this.tokenizer.specials;
    if (this.kind !== 'diffusion') throw new Error('denoiser(): this model is causal');
    return new DiffusionLM(this.model, { mask: sp.mask!, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cache);
  }

  /** the model as AR decoding's CausalModel, its KV cache sized for `capacity` tokens (at most the context) */
  causal(capacity: number): CausalLM {
    const sp = this.tokenizer.specials;
    return new CausalLM(this.model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, Math.min(this.config.maxPositions, capacity));
  }

  /** whether a suffix reaches the model: diffusion fills between; a causal or block-causal model only through FIM sentinels */
  get infills(): boolean {
    return (this.kind === 'diffusion' && this.config.bdSize === undefined) || fimIds(this.tokenizer) !== null;
  }

  /** the FIM sentinels when an infill goes through them: AR and block-diffusion models (a block never sees a later one) */
  private fimFor(suffix: string | null): FimIds | null {
    return suffix !== null && (this.kind === 'causal' || this.config.bdSize !== undefined) ? fimIds(this.tokenizer) : null;
  }

  /** the decoder options of a call: TEXT_DEFAULTS, then the caller's */
  options(o: TextOptions = {}, infill = false): Readonly<DecodeOptions> {
    const { maxTokens, stop: _s, cache, truncatePrompt: _t, jsonSchema: _j, structured: _m, healPrompt: _h, ...decode } = o;
    const block = this.kind === 'diffusion' && (cache ?? this.cache) === 'block'; // the exact block cache decodes block-causally
    const raw = {
      ...(this.kind === 'diffusion' ? { decoder: TEXT_DEFAULTS.decoder } : {}),
      ...(this.kind === 'diffusion' ? modelDecodeDefaults(this.config, cache ?? this.cache, infill) : {}),
      ...(this.tokenizer.specials.eos !== null ? { earlyStop: TEXT_DEFAULTS.earlyStop } : {}),
      ...(infill ? { infillMayEnd: true } : {}),
      ...decode,
      genLength: maxTokens ?? TEXT_DEFAULTS.maxTokens,
    };
    const d = this.kind === 'causal' ? parseArDecodeOptions(raw) : parseDecodeOptions(raw);
    if (block && !d.blockCausal)
      throw new DecodeOptionError('blockCausal', "must be true with cache 'block' (exact only under block-causal decoding)");
    return d;
  }

  /** decode, step by step; `prompt` is text or ids; returns the Completion */
  async *stream(
    prompt: string | ArrayLike<number>,
    o: TextOptions = {},
    suffix: string | null = null,
  ): AsyncGenerator<TextStep, Completion> {
    const tok = this.tokenizer,
      sp = tok.specials,
      t0 = performance.now();
    const plan = o.jsonSchema ? planStructure(o.jsonSchema, tok, this.kind, o.structured ?? 'auto') : null;
    const skeleton = plan?.mode === 'pinned' ? plan.skeleton : null,
      constraint = plan?.mode === 'masked' ? plan.constraint : null;
    if (plan && suffix !== null) throw new Error('jsonSchema: structured output has no suffix (use complete or chat)');
    const maxTokens = o.maxTokens ?? TEXT_DEFAULTS.maxTokens;
    // a skeleton: one block over it (slots fill in any order), and its empty cells (EOS) do not end the decode;
    // token masks read the ids before each position, so a canvas decodes them left to right (blocks of 1)
    const bd = this.config.bdSize !== undefined; // block diffusion: a skeleton is one bidirectional block; masks go left to right
    const fim = this.fimFor(suffix);
    const d = skeleton
      ? this.options(
          {
            blockLength: skeleton.length,
            steps: skeleton.length,
            ...(bd ? { blockCausal: false, cache: 'none' as const } : {}),
            ...o,
            maxTokens: skeleton.length,
            earlyStop: false,
          },
          false,
        )
      : constraint && this.kind === 'diffusion'
        ? this.options({ ...o, blockLength: 1, steps: maxTokens, blockCausal: bd, cache: 'none' }, false)
        : this.options(o, suffix !== null && !fim);
    if (suffix !== null && !this.infills) throw new Error('infill: this causal model has no FIM tokens, so it cannot see a suffix');
    let ids = typeof prompt === 'string' ? tok.encode(prompt) : Int32Array.from(prompt);
    let healing: Healing | null = null;
    if (typeof prompt === 'string' && suffix === null && !plan && (o.healPrompt ?? TEXT_DEFAULTS.healPrompt))
      ({ ids, healing } = healPrompt(ids, tok, this.config.vocabSize));
    const suf = suffix !== null ? tok.encode(suffix) : null;
    const room = this.config.maxPositions - d.genLength - (suf?.length ?? 0) - (fim ? 3 : 0) - 1; // 3 FIM sentinels
    const truncatedPrompt = ids.length > room;
    if (truncatedPrompt && !o.truncatePrompt)
      throw new Error(
        `the prompt (${ids.length} tokens) + maxTokens (${d.genLength}) do not fit the model's context of ${this.config.maxPositions} tokens`,
      );
    if (truncatedPrompt) ids = ids.slice(ids.length - Math.max(1, room));
    if (fim && suf) ids = fimPrompt(fim, ids, suf);
    if (this.kind === 'causal' && ids.length === 0) {
      if (sp.bos === null) throw new Error('the prompt is empty and the model has no BOS token to start from');
      ids = Int32Array.of(sp.bos);
    }
    let gen: AsyncGenerator<DecodeStep, DecodeResult>;
    if (this.kind === 'causal')
      gen = arGenerate(
        this.causal(ids.length + d.genLength + 1),
        {
          prompt: ids,
          ...(constraint ? { constraint } : {}),
          ...(healing ? { allowed: [{ offset: 0, ids: healing.first }] } : {}),
        },
        d,
      );
    else
      gen = generate(
        this.denoiser(constraint ? 'none' : (o.cache ?? this.cache)),
        {
          prompt: ids,
          ...(suf && suf.length && !fim ? { suffix: suf } : {}),
          ...(skeleton ? { pinned: skeleton.pinned, allowed: skeleton.allowed } : {}),
          ...(healing ? { allowed: [{ offset: 0, ids: healing.first }] } : {}),
          ...(constraint ? { constraint } : {}),
        },
        d,
      );
    const stops = plan ? [] : (o.stop ?? []), // a stop string must not cut the JSON
      settled = new SettledText(tok);
    let result: DecodeResult | null = null,
      last: DecodeStep | null = null,
      firstMs = NaN,
      stopped: string | null = null;
    for (;;) {
      const r = await gen.next();
      if (r.done) {
        result = r.value;
        break;
      }
      const s = r.value,
        c = s.canvas;
      last = s;
      if (settled.update(c) > 0 && Number.isNaN(firstMs)) firstMs = performance.now() - t0;
      const shown = healedText(settled.text, healing),
        hit = findStop(shown, stops);
      if (hit) {
        stopped = hit.text;
        await gen.return(undefined as never);
        break;
      }
      yield { step: s.step, nfe: s.nfe, canvas: c, text: shown, committed: s.committed, raw: s };
    }
    const out = result?.ids ?? last?.canvas.slice(0, Math.max(0, settled.length)) ?? new Int32Array(0);
    if (skeleton && result) {
      const n = result.canvas.length;
      return {
        text: JSON.stringify(skeleton.read(result.canvas)),
        ids: result.canvas,
        finishReason: 'stop',
        nfe: result.nfe,
        tokensPerForward: result.nfe ? n / result.nfe : 0,
        promptTokens: ids.length,
        truncatedPrompt,
        timings: { totalMs: performance.now() - t0, modelMs: result.modelMs, firstMs },
      };
    }
    const text = stopped ?? healedText(tok.decode(out, { skipSpecialTokens: true }), healing);
    // the ids generated, the healed first token included (its text starts with the removed whitespace)
    const stoppedIds = stopped !== null ? tok.encode((healing?.text ?? '') + stopped) : null;
    const nfe = result?.nfe ?? last?.nfe ?? 0,
      n = stoppedIds?.length ?? out.length;
    return {
      text,
      ids: stoppedIds ?? out,
      finishReason: stopped !== null || result?.finishReason === 'stop' ? 'stop' : 'length',
      nfe,
      tokensPerForward: nfe ? n / nfe : 0,
      promptTokens: ids.length,
      truncatedPrompt,
      timings: { totalMs: performance.now() - t0, modelMs: result?.modelMs ?? 0, firstMs },
    };
  }

  /** decode to the end */
  async complete(prompt: string | ArrayLike<number>, o: TextOptions = {}): Promise<Completion> {
    return drainText(this.stream(prompt, o));
  }

  /** fill the gap between prefix and suffix */
  async infill(prefix: string, suffix: string, o: TextOptions = {}): Promise<Completion> {
    return drainText(this.stream(prefix, o, suffix));
  }

  /** a conversation through the model's chat template (special tokens only from the template) */
  async chat(messages: ChatMessage[], o: TextOptions = {}): Promise<Completion> {
    if (!this.tokenizer.chatTemplate)
      throw new Error('this model has no chat template (tokenizer_config.json chat_template); use complete()');
    return this.complete(this.tokenizer.encodeChat(messages, { addGenerationPrompt: true }), o);
  }

  dispose(): void {
    this.close();
  }
}

async function drainText(g: AsyncGenerator<TextStep, Completion>): Promise<Completion> {
  for (;;) {
    const r = await g.next();
    if (r.done) return r.value;
  }
}

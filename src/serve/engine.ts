// One served model and its work queue: GenRequest → token ids + validated DecodeOptions (prepare), then one
// request at a time through the sampler's single decoding loop (generate / arGenerate), reporting settled
// text, the whole canvas and progress per step, and stopping when the client goes away or a stop string
// appears. The queue is bounded: one request more than `queueSize` gets 503.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { DiffusionLM } from '../model/diffusion-lm.js';
import type { Transformer } from '../model/forward.js';
import { arGenerate, generate, isDreamDecoder, parseDecodeOptions, type Decoder, type DecodeOptions, type DecodeResult, type DecodeStep } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import type { ServeConfig } from './config.js';
import { ApiError, Cancelled, invalid } from './errors.js';
import type { GenRequest } from './protocol.js';

export interface ServedModel { id: string; config: ModelConfig; model: Transformer; tokenizer: TextTokenizer; }

export interface Prepared { req: GenRequest; promptIds: Int32Array; suffixIds: Int32Array | null; options: Readonly<DecodeOptions>; }

export interface Progress {
  /** settled text, append-only, held back by the longest stop string */
  text: string;
  /** the whole current canvas as text (masked positions left out), up to the first end token */
  canvas: string;
  /** committed fraction of the generated span, 0..1 */
  progress: number;
  step: number;
  nfe: number;
}

/** llama-server `timings` (interfaces.md §2.1) plus the diffusion counters */
export interface Timings {
  prompt_n: number; prompt_ms: number; predicted_n: number; predicted_ms: number; predicted_per_second: number;
  nfe: number; tokens_per_forward: number; queue_ms: number;
}

export interface Outcome {
  text: string;
  finishReason: 'stop' | 'length';
  /** llama-server stop_type */
  stopType: 'eos' | 'limit' | 'word';
  stoppingWord: string;
  promptTokens: number;
  completionTokens: number;
  timings: Timings;
}

export interface RunHooks { signal: AbortSignal; onStep?: (p: Progress) => void; }

const round = (x: number) => Math.round(x * 1000) / 1000;

export class Engine {
  readonly kind: 'diffusion' | 'causal';
  private readonly lm: DiffusionLM | null;
  private waiting = 0;
  /** requests finished / stopped because the client went away */
  readonly counts = { completed: 0, cancelled: 0 };
  private tail: Promise<void> = Promise.resolve();

  constructor(readonly served: ServedModel, readonly cfg: ServeConfig) {
    this.kind = served.config.attention === 'causal' ? 'causal' : 'diffusion';
    const sp = served.tokenizer.specials;
    if (this.kind === 'diffusion') {
      if (sp.mask === null) throw new Error(`model ${served.id}: the tokenizer has no mask token, so it cannot be a diffusion model`);
      this.lm = new DiffusionLM(served.model, { mask: sp.mask, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cfg.cache);
    } else this.lm = null;
  }

  /** requests waiting or decoding */
  get depth(): number { return this.waiting; }

  /** resolves when every accepted request has finished */
  idle(): Promise<void> { return this.tail; }

  /** tokenize and validate; throws ApiError (4xx) naming the field */
  prepare(req: GenRequest): Prepared {
    const { id, tokenizer: tok, config } = this.served;
    if (req.model !== null && req.model !== id) throw new ApiError(404, `model "${req.model}" does not exist; this server serves "${id}"`, 'model', 'model_not_found');
    let text = req.prompt;
    const promptParam = req.endpoint === 'chat' ? 'messages' : req.endpoint === 'infill' ? 'input_prefix' : 'prompt';
    if (req.messages) {
      if (!tok.chatTemplate) throw invalid('messages', `model "${id}" has no chat template; use /v1/completions`, 'no_chat_template');
      try { text = tok.renderChat(req.messages, { addGenerationPrompt: true }); } catch (e) { throw invalid('messages', `the chat template rejected the messages: ${(e as Error).message}`); }
    }
    let promptIds = tok.encode(text);
    const sp = tok.specials;
    if (this.kind === 'causal' && promptIds.length === 0) {
      if (sp.bos === null) throw invalid(promptParam, `"${promptParam}" is empty and the model has no BOS token to start from`);
      promptIds = Int32Array.of(sp.bos);
    }
    let suffixIds: Int32Array | null = req.suffix ? tok.encode(req.suffix) : null;
    if (suffixIds && suffixIds.length === 0) suffixIds = null;
    const suffixParam = req.endpoint === 'infill' ? 'input_suffix' : 'suffix';
    if (suffixIds && this.kind === 'causal') throw invalid(suffixParam, `"${suffixParam}" (fill-in-the-middle) needs a diffusion model; "${id}" is causal`, 'unsupported_parameter');
    const limit = this.cfg.maxTokens, mp = req.maxTokensParam;
    if (req.maxTokens !== null && req.maxTokens > limit) throw invalid(mp, `"${mp}" (${req.maxTokens}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
    const used = promptIds.length + (suffixIds?.length ?? 0), room = config.maxPositions - used;
    if (room < 1) throw invalid(promptParam, `the prompt (${used} tokens) leaves no room in the model's context of ${config.maxPositions} tokens`, 'context_length_exceeded');
    const given = req.maxTokens ?? (typeof req.decode['genLength'] === 'number' ? req.decode['genLength'] : null);
    const genParam = req.maxTokens !== null ? mp : 'genLength';
    if (given !== null && given > limit) throw invalid(genParam, `"${genParam}" (${given}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
    if (given !== null && given > room) throw invalid(genParam, `the prompt (${used} tokens) + "${genParam}" (${given}) is over the model's context of ${config.maxPositions} tokens`, 'context_length_exceeded');
    const raw: Record<string, unknown> = {
      // the server's defaults are the CLI's: Fast-dLLM threshold decoding with early stop
      decoder: this.kind === 'causal' ? 'origin' : 'threshold', // a causal model is checked with a Dream decoder's rules (it has top-p/top-k)
      ...(sp.eos !== null ? { earlyStop: true } : {}), ...(suffixIds ? { infillMayEnd: true } : {}),
      ...req.decode,
      genLength: given ?? Math.min(this.cfg.defaultMaxTokens, room),
    };
    const dream = this.kind === 'causal' || (typeof raw['decoder'] === 'string' && isDreamDecoder(raw['decoder'] as Decoder));
    if (dream && req.hints.topP !== undefined && raw['topP'] === undefined && req.hints.topP > 0) raw['topP'] = req.hints.topP;
    if (dream && req.hints.topK !== undefined && raw['topK'] === undefined) raw['topK'] = req.hints.topK;
    let options: Readonly<DecodeOptions>;
    try { options = parseDecodeOptions(raw); } catch (e) {
      const msg = (e as Error).message.replace(/^decode options: /, '');
      const key = /"(\w+)"/.exec(msg)?.[1] ?? 'body';
      const wire = key === 'genLength' ? genParam : req.wireNames[key] ?? key;
      throw invalid(wire, wire === key ? msg : `"${wire}": ${msg}`);
    }
    return { req, promptIds, suffixIds, options };
  }

  /** queue a prepared request; throws ApiError 503 when the queue is full, Cancelled when the client left */
  submit(p: Prepared, hooks: RunHooks): Promise<Outcome> {
    if (this.waiting >= this.cfg.queueSize) throw new ApiError(503, `the server is busy: ${this.waiting} requests are waiting (queue limit ${this.cfg.queueSize}); retry later`, null, 'queue_full', 'unavailable_error');
    this.waiting++;
    const queuedAt = performance.now();
    const run = this.tail.then(() => this.execute(p, hooks, queuedAt)).finally(() => { this.waiting--; });
    this.tail = run.then(() => undefined, () => undefined);
    return run;
  }

  private async execute(p: Prepared, hooks: RunHooks, queuedAt: number): Promise<Outcome> {
    if (hooks.signal.aborted) { this.counts.cancelled++; throw new Cancelled(); }
    const t0 = performance.now();
    const { tokenizer: tok, config, model } = this.served;
    const sp = tok.specials, o = p.options, stops = p.req.stop;
    const mask = sp.mask ?? -1, ends = [sp.eos, sp.eot].filter((t): t is number => t !== null);
    const hold = Math.max(0, ...stops.map((s) => s.length - 1));
    let gen: AsyncGenerator<DecodeStep, DecodeResult>;
    if (this.lm) gen = generate(this.lm, { prompt: p.promptIds, ...(p.suffixIds ? { suffix: p.suffixIds } : {}) }, o);
    else {
      const lm = new CausalLM(model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, Math.min(config.maxPositions, p.promptIds.length + o.genLength + 1));
      gen = arGenerate(lm, { prompt: p.promptIds }, o);
    }
    let result: DecodeResult | null = null, last: DecodeStep | null = null, firstMs = 0;
    let settledLen = -1, settled = '', stopped: { text: string; word: string } | null = null;
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) { result = r.value; break; }
        const s = r.value, c = s.canvas;
        last = s;
        if (!firstMs) firstMs = performance.now() - t0;
        let end = 0;
        while (end < c.length && c[end] !== mask && !ends.includes(c[end]!)) end++;
        if (end !== settledLen) {
          const t = tok.decode(c.subarray(0, end), { skipSpecialTokens: true });
          if (!t.endsWith('\uFFFD')) { settled = t; settledLen = end; }
        }
        stopped = findStop(settled, stops);
        if (stopped) break;
        if (hooks.onStep) {
          let cut = c.findIndex((t) => ends.includes(t));
          if (cut < 0) cut = c.length;
          const decided = this.lm ? c.reduce((n, t) => n + (t === mask ? 0 : 1), 0) / c.length : s.finished ? 1 : (s.step + 1) / o.genLength;
          hooks.onStep({
            text: s.finished ? settled : settled.slice(0, settled.length - hold), canvas: tok.decode(c.subarray(0, cut), { skipSpecialTokens: true }),
            progress: s.finished ? 1 : decided, step: s.step, nfe: s.nfe,
          });
        }
        if (hooks.signal.aborted) break;
        await nextTurn(); // let HTTP I/O (disconnects, health checks, new requests) run between steps
        if (hooks.signal.aborted) break;
      }
    } finally {
      if (!result) await gen.return(undefined as never);
      this.lm?.reset();
    }
    if (!result && !stopped) { this.counts.cancelled++; throw new Cancelled(); }
    this.counts.completed++;
    const decodeMs = performance.now() - t0;
    let text = stopped?.text ?? tok.decode(result!.ids, { skipSpecialTokens: true });
    const late = stopped ? null : findStop(text, stops);
    if (late) { stopped = late; text = late.text; }
    const completionTokens = stopped ? tok.encode(text).length : result!.ids.length;
    const nfe = result?.nfe ?? last?.nfe ?? 0;
    return {
      text, finishReason: stopped || result!.finishReason === 'stop' ? 'stop' : 'length',
      stopType: stopped ? 'word' : result!.finishReason === 'stop' ? 'eos' : 'limit', stoppingWord: stopped?.word ?? '',
      promptTokens: p.promptIds.length + (p.suffixIds?.length ?? 0), completionTokens,
      timings: {
        prompt_n: p.promptIds.length + (p.suffixIds?.length ?? 0), prompt_ms: round(firstMs), predicted_n: completionTokens,
        predicted_ms: round(decodeMs), predicted_per_second: round(decodeMs > 0 ? completionTokens * 1000 / decodeMs : 0),
        nfe, tokens_per_forward: round(nfe ? completionTokens / nfe : 0), queue_ms: round(t0 - queuedAt),
      },
    };
  }
}

/** the earliest stop string in text: the text before it and the word */
function findStop(text: string, stops: readonly string[]): { text: string; word: string } | null {
  let best: { text: string; word: string } | null = null, at = Infinity;
  for (const w of stops) {
    const i = text.indexOf(w);
    if (i >= 0 && i < at) { at = i; best = { text: text.slice(0, i), word: w }; }
  }
  return best;
}

// Outcome / Progress → the wire shapes of one endpoint: OpenAI chat and text completions (full responses and
// SSE chunks), Mercury `diffusing` frames (replace semantics, diffusion_meta), llama-server /infill and
// /completion objects (content, stop, stop_type, timings). Field names as in interfaces.md §1–2.
import { randomUUID } from 'node:crypto';
import type { Outcome, Progress } from './job.js';
import { isChatShaped, isLlama, type Endpoint, type GenRequest } from './protocol.js';

type Chunk = Record<string, unknown>;

/** Outcome / Progress → the wire shapes of one endpoint (full responses and SSE chunks) */
export class Formatter {
  private readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private sent = ''; // settled text already streamed

  /**
   * @param settings llama-server `generation_settings` (the request's options and n_ctx; llama.vscode's status
   * bar reads generation_settings.n_ctx)
   */
  constructor(
    private readonly endpoint: Endpoint,
    private readonly req: GenRequest,
    private readonly model: string,
    private readonly settings: Chunk = {},
  ) {
    this.id = (isChatShaped(endpoint) ? 'chatcmpl-' : 'cmpl-') + randomUUID().replaceAll('-', '').slice(0, 24);
  }

  private usage(o: Outcome) {
    return { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens, total_tokens: o.promptTokens + o.completionTokens };
  }

  full(o: Outcome): Chunk {
    if (isLlama(this.endpoint)) return pick(this.llama(o, o.text), this.req.responseFields);
    const base = {
      id: this.id,
      object: isChatShaped(this.endpoint) ? 'chat.completion' : 'text_completion',
      created: this.created,
      model: this.model,
    };
    if (isChatShaped(this.endpoint)) {
      const message = o.toolCalls
        ? { role: 'assistant', content: o.text || null, tool_calls: o.toolCalls }
        : { role: 'assistant', content: o.text };
      return {
        ...base,
        choices: [{ index: 0, message, logprobs: null, finish_reason: o.finishReason }],
        usage: this.usage(o),
        timings: o.timings,
      };
    }
    return {
      ...base,
      choices: [{ index: 0, text: o.text, logprobs: null, finish_reason: o.finishReason }],
      usage: this.usage(o),
      timings: o.timings,
    };
  }

  /** a llama-server result; `tokens_cached` is 0: there is no prompt cache across requests */
  private llama(o: Outcome, content: string, index = 0): Chunk {
    const t = o.timings,
      per = (n: number, ms: number) => ({ per_token_ms: n ? round3(ms / n) : 0, per_second: ms ? round3((n * 1000) / ms) : 0 });
    const pp = per(t.prompt_n, t.prompt_ms),
      gp = per(t.predicted_n, t.predicted_ms);
    return {
      index,
      content,
      stop: true,
      model: this.model,
      ...(this.endpoint === 'completion' ? { prompt: this.req.promptIds ?? this.req.prompt } : {}),
      tokens_predicted: o.completionTokens,
      tokens_evaluated: o.promptTokens,
      tokens_cached: 0,
      stop_type: o.stopType,
      stopping_word: o.stoppingWord,
      truncated: false,
      generation_settings: this.settings,
      timings: {
        cache_n: 0,
        ...t,
        prompt_per_token_ms: pp.per_token_ms,
        prompt_per_second: pp.per_second,
        predicted_per_token_ms: gp.per_token_ms,
      },
    };
  }

  /** n_cmpl results of one llama-server request: an array, as llama-server answers when n_cmpl > 1 */
  llamaMany(outcomes: readonly Outcome[]): Chunk[] {
    return outcomes.map((o, i) => pick(this.llama(o, o.text, i), this.req.responseFields));
  }

  /** one streamed piece: `content` is a delta, or the whole canvas when diffusing */
  private chunk(content: string | null, finish: string | null, extra: Chunk = {}): Chunk {
    if (isLlama(this.endpoint)) return { index: 0, content: content ?? '', stop: false, ...extra };
    const base: Chunk = {
      id: this.id,
      object: isChatShaped(this.endpoint) ? 'chat.completion.chunk' : 'text_completion',
      created: this.created,
      model: this.model,
    };
    if (isChatShaped(this.endpoint)) {
      base['choices'] = [{ index: 0, delta: content === null ? {} : { content }, logprobs: null, finish_reason: finish }];
    } else {
      // FIM clients read either choices[].text or choices[].delta.content (interfaces.md §1.4)
      base['choices'] = [
        {
          index: 0,
          text: content ?? '',
          ...(this.endpoint === 'fim' ? { delta: content === null ? {} : { content } } : {}),
          logprobs: null,
          finish_reason: finish,
        },
      ];
    }
    if (this.req.includeUsage) base['usage'] = null;
    return { ...base, ...extra };
  }

  start(): Chunk[] {
    if (!isChatShaped(this.endpoint)) return [];
    const c = this.chunk('', null);
    (c['choices'] as Array<{ delta: Chunk }>)[0]!.delta = { role: 'assistant', content: '' };
    return [c];
  }

  step(p: Progress): Chunk[] {
    if (this.req.diffusing) {
      // Mercury's replace-semantics frame, plus our cells: [text | null (masked), confidence] per position
      const meta = {
        diffusion_content: true,
        diffusion_progress: round3(p.progress),
        step: p.step,
        nfe: p.nfe,
        cells: p.cells.map((c) => [c.text, c.confidence]),
      };
      return [this.chunk(p.canvas, null, { diffusion_meta: meta })];
    }
    if (p.text.length <= this.sent.length || !p.text.startsWith(this.sent)) return [];
    const delta = p.text.slice(this.sent.length);
    this.sent = p.text;
    return [this.chunk(delta, null)];
  }

  finish(o: Outcome): Array<Chunk | string> {
    const out: Array<Chunk | string> = [];
    if (this.req.diffusing) {
      // the last frame is the answer (replace semantics), so it also carries the finish reason and timings
      const meta = { diffusion_meta: { diffusion_content: true, diffusion_progress: 1 }, timings: o.timings };
      if (isLlama(this.endpoint)) {
        out.push({ ...this.llama(o, o.text), ...meta });
        return out;
      }
      out.push(this.chunk(o.text, o.finishReason, meta));
    } else {
      const rest = o.text.startsWith(this.sent) ? o.text.slice(this.sent.length) : '';
      if (rest && !isLlama(this.endpoint)) out.push(this.chunk(rest, null));
      // OpenAI streams a call as its id and name first, then its arguments as fragments (here: one)
      for (const [index, c] of (o.toolCalls ?? []).entries()) {
        const delta = (d: Chunk) => {
          const ch = this.chunk(null, null);
          (ch['choices'] as Array<{ delta: Chunk }>)[0]!.delta = { tool_calls: [{ index, ...d }] };
          return ch;
        };
        out.push(
          delta({ id: c.id, type: 'function', function: { name: c.function.name, arguments: '' } }),
          delta({ function: { arguments: c.function.arguments } }),
        );
      }
      if (isLlama(this.endpoint)) {
        out.push(this.llama(o, rest));
        return out;
      }
      out.push(this.chunk(isChatShaped(this.endpoint) ? null : '', o.finishReason, { timings: o.timings }));
    }
    if (this.req.includeUsage) {
      const u = this.chunk(null, null, { usage: this.usage(o) });
      u['choices'] = [];
      out.push(u);
    }
    out.push('[DONE]');
    return out;
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * llama-server `response_fields`: only the fields named; "a/b" takes a nested field and puts it at the root
 * under the flat key "a/b" (what llama.vim reads); a missing one is left out; [""] gives {}
 */
function pick(o: Chunk, fields: readonly string[] | null): Chunk {
  if (!fields) return o;
  const out: Chunk = {};
  for (const f of fields) {
    let v: unknown = o;
    for (const part of f.split('/')) v = v !== null && typeof v === 'object' && f !== '' ? (v as Chunk)[part] : undefined;
    if (v !== undefined) out[f] = v;
  }
  return out;
}

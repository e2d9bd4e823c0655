// The HTTP surface (fastify): OpenAI chat/completions, Mercury FIM + `diffusing` frames, llama-server /infill
// and /health, each a thin mapping of wire JSON onto the engine (engine.ts). Errors are always the OpenAI
// envelope (errors.ts); streams are SSE (`data: {…}\n\n`, ending in `data: [DONE]` on the OpenAI routes).
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ServeConfig } from './config.js';
import type { Engine, Outcome, Progress } from './engine.js';
import { ApiError, Cancelled, toApiError } from './errors.js';
import { parseGenRequest, type Endpoint, type GenRequest } from './protocol.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function createApp(engine: Engine, cfg: ServeConfig): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: cfg.bodyLimit });
  const created = Math.floor(Date.now() / 1000);
  const id = engine.served.id;

  // every body is JSON, whatever its content type (curl -d sends form-urlencoded); the bytes must be UTF-8
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) { done(new ApiError(400, 'the request body is empty: send a JSON object', 'body', 'empty_body'), undefined); return; }
    let text: string;
    try { text = utf8.decode(buf); } catch { done(new ApiError(400, 'the request body is not valid UTF-8', 'body', 'invalid_utf8'), undefined); return; }
    try { done(null, JSON.parse(text)); } catch (e) { done(new ApiError(400, `malformed JSON in the request body: ${(e as Error).message}`, 'body', 'invalid_json'), undefined); }
  });
  app.setErrorHandler((err, _req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500 && !(err instanceof ApiError)) console.error(`dllm serve: ${(err as Error).stack ?? String(err)}`);
    void reply.status(e.status).send(e.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError(404, `no route for ${req.method} ${req.url.split('?')[0]}`, null, 'unknown_url', 'not_found_error');
    void reply.status(404).send(e.body);
  });

  const health = async () => ({ status: 'ok' });
  app.get('/health', health);
  app.get('/v1/health', health);
  const card = () => ({
    id, object: 'model', created, owned_by: 'dllm',
    meta: { kind: engine.kind, n_vocab: engine.served.config.vocabSize, n_ctx_train: engine.served.config.maxPositions, max_tokens: cfg.maxTokens },
  });
  app.get('/v1/models', async () => ({ object: 'list', data: [card()] }));
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req) => {
    if (req.params.model !== id) throw new ApiError(404, `model "${req.params.model}" does not exist; this server serves "${id}"`, 'model', 'model_not_found');
    return card();
  });

  const routes: Array<[string, Endpoint]> = [['/v1/chat/completions', 'chat'], ['/v1/completions', 'completions'], ['/v1/fim/completions', 'fim'], ['/infill', 'infill']];
  for (const [url, endpoint] of routes) app.post(url, (request, reply) => handle(engine, endpoint, request.body, reply));
  return app;
}

async function handle(engine: Engine, endpoint: Endpoint, body: unknown, reply: FastifyReply): Promise<unknown> {
  const req = parseGenRequest(endpoint, body);
  const prepared = engine.prepare(req);
  const ac = new AbortController();
  const raw = reply.raw;
  raw.on('close', () => { if (!raw.writableFinished) ac.abort(); });
  const f = new Formatter(endpoint, req, engine.served.id);
  if (!req.stream) {
    try {
      return f.full(await engine.submit(prepared, { signal: ac.signal }));
    } catch (e) {
      if (e instanceof Cancelled) { reply.hijack(); raw.destroy(); return undefined; }
      throw e;
    }
  }
  let open = false;
  const send = (o: unknown) => { if (open && !raw.destroyed) raw.write(`data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`); };
  const run = engine.submit(prepared, { signal: ac.signal, onStep: (p) => { for (const c of f.step(p)) send(c); } }); // throws 503 before any byte is sent
  reply.hijack();
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  open = true;
  for (const c of f.start()) send(c);
  try {
    for (const c of f.finish(await run)) send(c);
  } catch (e) {
    if (e instanceof Cancelled) { raw.destroy(); return undefined; }
    send(toApiError(e).body);
    if (endpoint !== 'infill') send('[DONE]');
  }
  end(raw);
  return undefined;
}

function end(raw: ServerResponse): void { if (!raw.destroyed) raw.end(); }

type Chunk = Record<string, unknown>;

/** Outcome / Progress → the wire shapes of one endpoint (full responses and SSE chunks) */
class Formatter {
  private readonly id: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private sent = ''; // settled text already streamed

  constructor(private readonly endpoint: Endpoint, private readonly req: GenRequest, private readonly model: string) {
    this.id = (endpoint === 'chat' ? 'chatcmpl-' : 'cmpl-') + randomUUID().replaceAll('-', '').slice(0, 24);
  }

  private usage(o: Outcome) { return { prompt_tokens: o.promptTokens, completion_tokens: o.completionTokens, total_tokens: o.promptTokens + o.completionTokens }; }

  full(o: Outcome): Chunk {
    if (this.endpoint === 'infill') return this.llama(o, o.text);
    const base = { id: this.id, object: this.endpoint === 'chat' ? 'chat.completion' : 'text_completion', created: this.created, model: this.model };
    if (this.endpoint === 'chat') {
      return { ...base, choices: [{ index: 0, message: { role: 'assistant', content: o.text }, logprobs: null, finish_reason: o.finishReason }], usage: this.usage(o), timings: o.timings };
    }
    return { ...base, choices: [{ index: 0, text: o.text, logprobs: null, finish_reason: o.finishReason }], usage: this.usage(o), timings: o.timings };
  }

  private llama(o: Outcome, content: string): Chunk {
    return { index: 0, content, stop: true, model: this.model, tokens_predicted: o.completionTokens, tokens_evaluated: o.promptTokens,
      stop_type: o.stopType, stopping_word: o.stoppingWord, truncated: false, timings: o.timings };
  }

  /** one streamed piece: `content` is a delta, or the whole canvas when diffusing */
  private chunk(content: string | null, finish: string | null, extra: Chunk = {}): Chunk {
    if (this.endpoint === 'infill') return { index: 0, content: content ?? '', stop: false, ...extra };
    const base: Chunk = { id: this.id, object: this.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: this.created, model: this.model };
    if (this.endpoint === 'chat') {
      base['choices'] = [{ index: 0, delta: content === null ? {} : { content }, logprobs: null, finish_reason: finish }];
    } else {
      // FIM clients read either choices[].text or choices[].delta.content (interfaces.md §1.4)
      base['choices'] = [{ index: 0, text: content ?? '', ...(this.endpoint === 'fim' ? { delta: content === null ? {} : { content } } : {}), logprobs: null, finish_reason: finish }];
    }
    if (this.req.includeUsage) base['usage'] = null;
    return { ...base, ...extra };
  }

  start(): Chunk[] {
    if (this.endpoint !== 'chat') return [];
    const c = this.chunk('', null);
    (c['choices'] as Array<{ delta: Chunk }>)[0]!.delta = { role: 'assistant', content: '' };
    return [c];
  }

  step(p: Progress): Chunk[] {
    if (this.req.diffusing) return [this.chunk(p.canvas, null, { diffusion_meta: { diffusion_content: true, diffusion_progress: round3(p.progress) } })];
    if (p.text.length <= this.sent.length || !p.text.startsWith(this.sent)) return [];
    const delta = p.text.slice(this.sent.length);
    this.sent = p.text;
    return [this.chunk(delta, null)];
  }

  finish(o: Outcome): Array<Chunk | string> {
    const out: Array<Chunk | string> = [];
    if (this.req.diffusing) out.push(this.chunk(o.text, o.finishReason, { diffusion_meta: { diffusion_content: true, diffusion_progress: 1 } }));
    else {
      const rest = o.text.startsWith(this.sent) ? o.text.slice(this.sent.length) : '';
      if (rest && this.endpoint !== 'infill') out.push(this.chunk(rest, null));
      if (this.endpoint === 'infill') { out.push(this.llama(o, rest)); return out; }
    }
    if (this.endpoint === 'infill') { out.push(this.llama(o, '')); return out; }
    out.push(this.chunk(this.endpoint === 'chat' ? null : '', o.finishReason, { timings: o.timings }));
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

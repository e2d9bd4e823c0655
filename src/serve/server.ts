// The HTTP surface (fastify): OpenAI chat/completions, Mercury FIM + `diffusing` frames, llama-server /infill,
// /completion and /health, Prometheus /metrics and the playground at /, each a thin mapping of wire JSON onto
// an engine (engine.ts; one per served model, picked by the body's `model`, default the first). Errors are
// always the OpenAI envelope (errors.ts); streams are SSE (`data: {…}\n\n`, ending in `data: [DONE]` on the
// OpenAI routes).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ServeConfig } from './config.js';
import type { Engine, Outcome, Progress } from './engine.js';
import type { Prepared } from './request.js';
import { timingsOf, warmUpOutcome } from './job.js';
import { ApiError, Cancelled, invalid, toApiError } from './errors.js';
import { Formatter } from './format.js';
import { Metrics } from './metrics.js';
import { isLlama, LLAMA_IGNORED, MAX_N_CMPL, parseGenRequest, ROUTE, type Endpoint, type GenRequest } from './protocol.js';
import { applyEdit, EDIT_DEFAULTS, editMessage, fenced, parseNextEdit } from './edit.js';
import { callFromValue, extractToolCalls } from './tools.js';
import { ISOLATION_HEADERS, registerBrowserFiles, type ModelDirs } from './browser-files.js';
import cors from '@fastify/cors';

/** seconds a client told 503 (queue full) should wait before retrying: about one short request's decode */
const RETRY_AFTER_S = 1;

const PLAYGROUND = new URL('../../../src/serve/playground.html', import.meta.url); // from build/src/serve/

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** @param modelDirs each model's folder by id: its files are served to the playground's in-page engine (browser-files.ts) */
export function createApp(engines: readonly Engine[], cfg: ServeConfig, modelDirs: ModelDirs = new Map()): FastifyInstance {
  if (engines.length === 0) throw new Error('createApp: no models to serve');
  // requestTimeout: the whole request (headers and body) must arrive in time, or Node answers 408 and closes;
  // Node checks it every connectionsCheckingInterval (30 s by default), so check at a quarter of the timeout
  const serverFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    createServer(
      {
        requestTimeout: cfg.requestTimeoutMs,
        headersTimeout: cfg.requestTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(cfg.requestTimeoutMs / 4))),
      },
      handler,
    );
  const app = Fastify({ logger: false, bodyLimit: cfg.bodyLimit, serverFactory });
  if (cfg.cors) void app.register(cors, { origin: cfg.cors === '*' ? '*' : cfg.cors, methods: ['GET', 'POST', 'OPTIONS'], maxAge: 600 });
  const created = Math.floor(Date.now() / 1000);
  const ids = engines.map((e) => e.served.id);
  const metrics = new Metrics(engines);
  const pick = (model: string | null): Engine => {
    const e = model === null ? engines[0] : engines.find((x) => x.served.id === model);
    if (!e)
      throw new ApiError(
        404,
        `model "${model}" does not exist; this server serves ${ids.map((i) => `"${i}"`).join(', ')}`,
        'model',
        'model_not_found',
      );
    return e;
  };
  app.addHook('onResponse', async (req, reply) => {
    metrics.onHttp(req.routeOptions.url ?? 'unknown', reply.statusCode);
  });

  // every body is JSON, whatever its content type (curl -d sends form-urlencoded); the bytes must be UTF-8
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    const buf = body as Buffer;
    if (buf.length === 0) {
      done(new ApiError(400, 'the request body is empty: send a JSON object', 'body', 'empty_body'), undefined);
      return;
    }
    let text: string;
    try {
      text = utf8.decode(buf);
    } catch {
      done(new ApiError(400, 'the request body is not valid UTF-8', 'body', 'invalid_utf8'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(new ApiError(400, `malformed JSON in the request body: ${(e as Error).message}`, 'body', 'invalid_json'), undefined);
    }
  });
  app.setErrorHandler((err, _req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500 && !(err instanceof ApiError)) console.error(`dllm serve: ${(err as Error).stack ?? String(err)}`);
    if (e.status === 503) void reply.header('retry-after', String(RETRY_AFTER_S));
    void reply.status(e.status).send(e.body);
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new ApiError(404, `no route for ${req.method} ${req.url.split('?')[0]}`, null, 'unknown_url', 'not_found_error');
    void reply.status(404).send(e.body);
  });

  const health = async () => ({ status: 'ok' });
  app.get('/health', health);
  app.get('/v1/health', health);
  const card = (e: Engine) => ({
    id: e.served.id,
    object: 'model',
    created,
    owned_by: 'dllm',
    meta: {
      kind: e.kind,
      n_vocab: e.served.config.vocabSize,
      n_ctx_train: e.served.config.maxPositions,
      max_tokens: cfg.maxTokens,
      chat_template: e.served.tokenizer.chatTemplate !== null,
      endpoints: (Object.keys(ROUTE) as Endpoint[]).filter((x) => servesEndpoint(e, x)),
      ...(modelDirs.has(e.served.id) ? { files: `/model/${encodeURIComponent(e.served.id)}/` } : {}),
    },
  });
  // Mercury lists models per endpoint (mercury-2 for chat, mercury-edit for FIM / apply / next-edit):
  // ?endpoint=edit lists the models that serve /v1/edit/completions
  app.get<{ Querystring: { endpoint?: string } }>('/v1/models', async (req) => {
    const want = req.query.endpoint;
    if (want !== undefined && !Object.hasOwn(ROUTE, want))
      throw invalid('endpoint', `"endpoint" must be one of ${Object.keys(ROUTE).join(', ')}, got "${want}"`);
    return { object: 'list', data: engines.filter((e) => want === undefined || servesEndpoint(e, want as Endpoint)).map(card) };
  });
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req) => card(pick(req.params.model)));
  app.get('/metrics', async (_req, reply) => {
    void reply.type(metrics.contentType);
    return metrics.text();
  });
  // llama-server /props: the default generation settings, slots, template — and the fields we accept and ignore
  const props = async () => {
    const e = engines[0]!;
    return {
      default_generation_settings: {
        n_ctx: e.served.config.maxPositions,
        n_predict: cfg.defaultMaxTokens,
        model: e.served.id,
        kind: e.kind,
      },
      total_slots: cfg.batchSize,
      model_path: e.served.id,
      chat_template: e.served.tokenizer.chatTemplate ?? '',
      ignored_fields: LLAMA_IGNORED,
      max_n_cmpl: MAX_N_CMPL,
    };
  };
  app.get('/props', props);
  const page = readFileSync(PLAYGROUND, 'utf8');
  app.get('/', async (_req, reply) => {
    void reply.type('text/html; charset=utf-8').headers(ISOLATION_HEADERS);
    return page;
  });
  registerBrowserFiles(app, modelDirs);

  const routes: Array<[string, Endpoint]> = [
    ['/v1/chat/completions', 'chat'],
    ['/v1/completions', 'completions'],
    ['/v1/fim/completions', 'fim'],
    ['/infill', 'infill'],
    ['/completion', 'completion'],
  ];
  for (const [url, endpoint] of routes) {
    app.post(url, (request, reply) => {
      const req = parseGenRequest(endpoint, request.body);
      return handle(pick(req.model), req, reply);
    });
  }
  app.post(ROUTE.apply, (request, reply) => {
    const req = withDefaults(parseGenRequest('apply', request.body), EDIT_DEFAULTS.apply);
    return handleApply(pick(req.model), req, reply);
  });
  app.post(ROUTE.edit, (request, reply) => {
    const req = withDefaults(parseGenRequest('edit', request.body), EDIT_DEFAULTS.edit);
    const engine = pick(req.model);
    if (engine.kind !== 'diffusion')
      throw new ApiError(
        400,
        `next-edit rewrites a region by infilling, which needs a diffusion model; "${engine.served.id}" is causal`,
        'model',
        'unsupported_model',
      );
    if (req.diffusing)
      throw invalid(
        'diffusing',
        '"diffusing" is not supported on /v1/edit/completions (the answer is one fenced region)',
        'unsupported_parameter',
      );
    const { content, field } = editMessage(req.messages!);
    const e = parseNextEdit(content, field);
    // the region's own length, with room to grow: the middle may end early (EOS), never run past the budget
    const want = Math.ceil(engine.served.tokenizer.encode(e.region).length * 1.5) + 8;
    const region: GenRequest = {
      ...req,
      messages: null,
      prompt: e.context + e.above,
      suffix: e.below || null,
      maxTokens: Math.min(req.maxTokens ?? want, want, cfg.maxTokens),
      maxTokensParam: req.maxTokens !== null ? req.maxTokensParam : 'max_tokens',
    };
    return handle(engine, region, reply, fenced);
  });
  return app;
}

/** which endpoints a model can answer: infilling ones need a diffusion model, chat needs a template */
function servesEndpoint(e: Engine, x: Endpoint): boolean {
  if (x === 'chat') return e.served.tokenizer.chatTemplate !== null;
  if (x === 'fim' || x === 'infill' || x === 'edit') return e.kind === 'diffusion';
  return true;
}

/** Mercury Edit's per-endpoint defaults where the request gave none */
function withDefaults(req: GenRequest, d: { maxTokens: number; presencePenalty: number; temperature: number; topP: number }): GenRequest {
  const decode = { ...req.decode };
  if (decode['temperature'] === undefined) decode['temperature'] = d.temperature;
  if (decode['presencePenalty'] === undefined) decode['presencePenalty'] = d.presencePenalty;
  return { ...req, decode, hints: { ...req.hints, topP: req.hints.topP ?? d.topP } };
}

/**
 * apply-edit: merged by its markers in code (edit.ts), a chunk that anchors nowhere placed where the model says it
 * fits (placement.ts), answered as a chat completion (streamed as one delta when asked)
 */
async function handleApply(engine: Engine, req: GenRequest, reply: FastifyReply): Promise<unknown> {
  const { content, field } = editMessage(req.messages!);
  const t0 = performance.now();
  const merged = (await applyEdit(content, field, engine.placement)).text,
    tok = engine.served.tokenizer;
  const promptTokens = tok.encode(content).length,
    completionTokens = tok.encode(merged).length,
    ms = performance.now() - t0;
  const o: Outcome = {
    text: merged,
    finishReason: 'stop',
    stopType: 'eos',
    stoppingWord: '',
    promptTokens,
    completionTokens,
    timings: timingsOf(promptTokens, 0, completionTokens, ms, 0, 0),
  };
  const f = new Formatter('apply', req, engine.served.id);
  if (!req.stream) return f.full(o);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  for (const c of [...f.start(), ...f.finish(o)]) raw.write(`data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`);
  end(raw);
  return undefined;
}

/** llama-server `generation_settings`: what this request decodes with, and the model's context (n_ctx) */
function generationSettings(engine: Engine, p: Prepared): Record<string, unknown> {
  const o = p.options,
    r = p.req;
  return {
    n_ctx: engine.served.config.maxPositions,
    n_predict: r.maxTokens ?? o.genLength,
    model: engine.served.id,
    temperature: o.temperature,
    top_k: o.topK,
    top_p: o.topP,
    seed: o.seed,
    stop: r.stop,
    stream: r.stream,
    presence_penalty: o.presencePenalty,
    frequency_penalty: o.frequencyPenalty,
    n_cmpl: r.nCmpl,
    n_indent: r.nIndent,
    t_max_predict_ms: r.tMaxPredictMs,
    ...(engine.kind === 'diffusion' ? { decoder: o.decoder, steps: o.steps, block_length: o.blockLength, threshold: o.threshold } : {}),
  };
}

/** n_cmpl completions of one prompt: one decode copied when it is deterministic (temperature 0), else seeds seed, seed+1, … */
async function completions(engine: Engine, p: Prepared, n: number, signal: AbortSignal): Promise<Outcome[]> {
  if (p.options.temperature === 0) {
    const o = await engine.submit(p, { signal });
    return Array.from({ length: n }, () => o);
  }
  const runs = Array.from({ length: n }, (_, i) =>
    engine.submit({ ...p, options: Object.freeze({ ...p.options, seed: p.options.seed + i }) }, { signal }),
  );
  return Promise.all(runs);
}

/** @param wrap turns the decoded text into the answer (next-edit fences the region); streams then send it whole */
async function handle(
  engine: Engine,
  req: GenRequest,
  reply: FastifyReply,
  wrap: ((text: string) => string) | null = null,
): Promise<unknown> {
  const endpoint = req.endpoint;
  const prepared = engine.prepare(req);
  const ac = new AbortController();
  const raw = reply.raw;
  raw.on('close', () => {
    if (!raw.writableFinished) ac.abort();
  });
  const f = new Formatter(endpoint, req, engine.served.id, isLlama(endpoint) ? generationSettings(engine, prepared) : {});
  const warmUp = req.maxTokens === 0; // llama-server n_predict 0: nothing to generate (and no prompt cache to fill)
  const tools = req.toolChoice !== 'none' && req.tools.length > 0;
  const structured = prepared.structure !== null || prepared.constraint !== null;
  const atEnd = wrap !== null || structured || tools; // answers read from the finished text
  // the finished text → the answer: next-edit's fences, tool calls (pinned on the canvas when forced, else parsed)
  const finalize = (o: Outcome): Outcome => {
    if (wrap) return { ...o, text: wrap(o.text) };
    if (!tools) return o;
    const found = structured ? { content: null, calls: [callFromValue(o.text)] } : extractToolCalls(o.text, req.tools);
    const calls = req.parallelToolCalls ? found.calls : found.calls.slice(0, 1);
    return calls.length ? { ...o, text: found.content ?? '', toolCalls: calls, finishReason: 'tool_calls' } : o;
  };
  if (!req.stream) {
    try {
      if (warmUp)
        return req.nCmpl > 1
          ? f.llamaMany(Array.from({ length: req.nCmpl }, () => warmUpOutcome(prepared)))
          : f.full(warmUpOutcome(prepared));
      if (req.nCmpl > 1) return f.llamaMany(await completions(engine, prepared, req.nCmpl, ac.signal));
      const o = await engine.submit(prepared, { signal: ac.signal });
      return f.full(finalize(o));
    } catch (e) {
      if (e instanceof Cancelled) {
        reply.hijack();
        raw.destroy();
        return undefined;
      }
      throw e;
    }
  }
  let open = false;
  const send = (o: unknown) => {
    if (open && !raw.destroyed) raw.write(`data: ${typeof o === 'string' ? o : JSON.stringify(o)}\n\n`);
  };
  // diffusing frames replace each other, so a structured answer may show its canvas (the pinned skeleton
  // filling) while it decodes: the last frame carries the answer read from it
  const frames = !atEnd || (req.diffusing && structured && !tools);
  const run = warmUp
    ? Promise.resolve(warmUpOutcome(prepared))
    : engine
        .submit(prepared, {
          signal: ac.signal,
          ...(frames
            ? {
                onStep: (p: Progress) => {
                  for (const c of f.step(p)) send(c);
                },
              }
            : {}),
        })
        .then((o) => (atEnd ? finalize(o) : o)); // atEnd: read whole at the end, then sent; throws 503 before any byte
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  open = true;
  for (const c of f.start()) send(c);
  try {
    for (const c of f.finish(await run)) send(c);
  } catch (e) {
    if (e instanceof Cancelled) {
      raw.destroy();
      return undefined;
    }
    send(toApiError(e).body);
    if (!isLlama(endpoint)) send('[DONE]');
  }
  end(raw);
  return undefined;
}

function end(raw: ServerResponse): void {
  if (!raw.destroyed) raw.end();
}

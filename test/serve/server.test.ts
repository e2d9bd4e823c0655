// The server end to end on the tiny fixture: the real `openai` client for chat, chat streaming and
// completions with suffix (and an error); raw HTTP for /infill, /v1/fim/completions, `diffusing` frames,
// stop strings, /health, /v1/models, and a client that disconnects mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { RunningServer } from '../../src/serve/index.js';
import { post, readSse, startFixture } from './helpers.js';

let server: RunningServer;
let client: OpenAI;
const MODEL = 'llada-tiny';
const chatBody = { model: MODEL, messages: [{ role: 'user' as const, content: 'Write a haiku.' }], max_tokens: 16, temperature: 0 };

before(async () => {
  server = await startFixture();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  await server.close();
});

test('GET /health and /v1/models', async () => {
  const h = await fetch(`${server.url}/health`);
  assert.equal(h.status, 200);
  assert.deepEqual(await h.json(), { status: 'ok' });
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    [MODEL],
  );
});

test('chat completion through the openai client', async () => {
  const r = await client.chat.completions.create(chatBody);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, MODEL);
  assert.equal(r.choices[0]!.message.role, 'assistant');
  assert.equal(typeof r.choices[0]!.message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
  assert.ok(r.usage!.completion_tokens <= 16 && r.usage!.prompt_tokens > 0);
  assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  const t = (r as unknown as { timings: Record<string, number> }).timings;
  for (const k of ['prompt_n', 'prompt_ms', 'predicted_n', 'predicted_ms', 'predicted_per_second']) assert.equal(typeof t[k], 'number', k);
});

test('chat streaming: append-only deltas equal the full answer, usage chunk last', async () => {
  const full = await client.chat.completions.create(chatBody);
  const stream = await client.chat.completions.create({ ...chatBody, stream: true, stream_options: { include_usage: true } });
  let text = '',
    finish: string | null = null,
    usage: OpenAI.CompletionUsage | null | undefined = null,
    n = 0,
    role = '';
  for await (const chunk of stream) {
    n++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) {
      usage = chunk.usage;
      assert.deepEqual(chunk.choices, []);
      continue;
    }
    const c = chunk.choices[0]!;
    if (c.delta.role) role = c.delta.role;
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(n >= 3);
  assert.equal(role, 'assistant');
  assert.equal(text, full.choices[0]!.message.content);
  assert.equal(finish, full.choices[0]!.finish_reason);
  assert.deepEqual(usage, full.usage);
});

test('completions with suffix (fill-in-the-middle) through the openai client', async () => {
  const r = await client.completions.create({
    model: MODEL,
    prompt: 'def add(a, b):\n    return ',
    suffix: '\n\nprint(add(1, 2))\n',
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0]!.text, 'string');
  assert.ok(r.usage!.completion_tokens <= 8);
});

test('errors come back as OpenAI errors through the client', async () => {
  await assert.rejects(client.chat.completions.create({ ...chatBody, model: 'no-such-model' }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'model_not_found');
    assert.equal(e.param, 'model');
    return true;
  });
  await assert.rejects(client.chat.completions.create({ ...chatBody, max_tokens: 10_000 }), (e: unknown) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, 'max_tokens');
    assert.match(e.message, /max_tokens/);
    return true;
  });
});

test('POST /infill (llama-server) returns content, stop_type and timings', async () => {
  const res = await post(`${server.url}/infill`, {
    input_prefix: 'def f(x):\n    ',
    input_suffix: '\n    return y\n',
    input_extra: [{ filename: 'a.py', text: 'import os' }],
    n_predict: 8,
    top_k: 40,
    top_p: 0.99,
    cache_prompt: true,
    samplers: ['top_k'],
  });
  assert.equal(res.status, 200);
  const r = (await res.json()) as Record<string, any>;
  assert.equal(typeof r['content'], 'string');
  assert.equal(r['stop'], true);
  assert.ok(['eos', 'limit', 'word'].includes(r['stop_type']));
  for (const k of ['prompt_n', 'prompt_ms', 'predicted_n', 'predicted_ms', 'predicted_per_second'])
    assert.equal(typeof r['timings'][k], 'number', k);
  assert.ok(r['timings'].predicted_n <= 8);
});

test('POST /v1/fim/completions (Mercury) plain and streaming agree', async () => {
  const body = { model: MODEL, prompt: 'function add(a, b) {\n  return ', suffix: ';\n}\n', max_tokens: 8 };
  const res = await post(`${server.url}/v1/fim/completions`, body);
  assert.equal(res.status, 200);
  const r = (await res.json()) as Record<string, any>;
  assert.equal(r['object'], 'text_completion');
  const text = r['choices'][0].text as string;
  const events = await readSse(await post(`${server.url}/v1/fim/completions`, { ...body, stream: true }));
  assert.equal(events.at(-1), '[DONE]');
  const chunks = events.filter((e): e is Record<string, any> => e !== '[DONE]');
  assert.equal(chunks.map((c) => c['choices'][0].text).join(''), text);
  assert.equal(chunks.map((c) => c['choices'][0].delta.content ?? '').join(''), text);
});

test('diffusing: true streams the whole canvas each step with diffusion_meta progress', async () => {
  const body = { ...chatBody, max_tokens: 16 };
  const full = (await (await post(`${server.url}/v1/chat/completions`, body)).json()) as Record<string, any>;
  const events = await readSse(await post(`${server.url}/v1/chat/completions`, { ...body, stream: true, diffusing: true }));
  assert.equal(events.at(-1), '[DONE]');
  const frames = events.filter((e): e is Record<string, any> => e !== '[DONE]' && e['diffusion_meta'] !== undefined);
  assert.ok(frames.length >= 2, `${frames.length} frames`);
  let last = -1;
  for (const f of frames) {
    assert.equal(f['diffusion_meta'].diffusion_content, true);
    const p = f['diffusion_meta'].diffusion_progress as number;
    assert.ok(p >= last && p <= 1, `progress ${p} after ${last}`);
    last = p;
  }
  assert.equal(last, 1);
  const final = frames.at(-1)!;
  assert.equal(final['choices'][0].delta.content, full['choices'][0].message.content); // replace semantics: the last frame is the answer
  assert.equal(final['choices'][0].finish_reason, full['choices'][0].finish_reason);
  assert.equal(typeof final['timings'].nfe, 'number', 'the last frame carries the timings');
  // cells: [text | null while masked, commit confidence]; one step of the fixed schedule commits one of 16
  const slow = await readSse(
    await post(`${server.url}/v1/completions`, {
      prompt: 'abc',
      max_tokens: 16,
      decoder: 'fixed',
      steps: 16,
      blockLength: 16,
      stream: true,
      diffusing: true,
    }),
  );
  const first = (slow[0] as Record<string, any>)['diffusion_meta'];
  assert.equal(first.step, 0);
  assert.equal(
    first.cells.filter((c: unknown[]) => c[0] === null).length,
    first.cells.length - 1,
    'one committed cell after the first step',
  );
  const committed = first.cells.find((c: unknown[]) => c[0] !== null);
  assert.ok(committed[1] > 0 && committed[1] <= 1, `confidence ${committed[1]}`);
});

test('stop strings cut the text and finish with "stop"', async () => {
  const full = (await (await post(`${server.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 16 })).json()) as Record<
    string,
    any
  >;
  const text = full['choices'][0].text as string;
  // a two-character stop string from inside the (random) text, away from undecodable bytes
  let i = 1;
  while (i + 2 <= text.length && text.slice(i, i + 2).includes('\uFFFD')) i++;
  if (i + 2 > text.length) return; // nothing to cut in
  const stop = text.slice(i, i + 2);
  assert.ok(text.indexOf(stop) > 0, `stop ${JSON.stringify(stop)} in ${JSON.stringify(text)}`);
  const cut = (await (
    await post(`${server.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 16, stop: [stop] })
  ).json()) as Record<string, any>;
  assert.equal(cut['choices'][0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut['choices'][0].finish_reason, 'stop');
  const events = await readSse(
    await post(`${server.url}/v1/completions`, { prompt: 'Once upon a time', max_tokens: 16, stop, stream: true }),
  );
  const streamed = events
    .filter((e): e is Record<string, any> => e !== '[DONE]')
    .map((c) => c['choices'][0].text)
    .join('');
  assert.equal(streamed, text.slice(0, text.indexOf(stop)));
});

test('a client that disconnects cancels its work; the server keeps serving', async () => {
  const cancelled = server.engine.counts.cancelled;
  const ac = new AbortController();
  const res = await post(
    `${server.url}/v1/chat/completions`,
    { ...chatBody, max_tokens: 64, steps: 64, decoder: 'fixed', blockLength: 8, stream: true },
    { signal: ac.signal },
  );
  const reader = res.body!.getReader();
  await reader.read(); // the first chunk arrived: decoding is under way
  ac.abort();
  await reader.read().catch(() => undefined);
  for (let i = 0; i < 100 && server.engine.depth > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.engine.depth, 0);
  assert.equal(server.engine.counts.cancelled, cancelled + 1);
  const h = await fetch(`${server.url}/health`);
  assert.equal(h.status, 200);
  const r = await client.chat.completions.create(chatBody);
  assert.equal(r.object, 'chat.completion');
});

test('the queue is bounded: one request over queueSize gets 503 before any work', async () => {
  const { Engine, parseGenRequest, ApiError } = await import('../../src/serve/index.js');
  const e = new Engine(server.engine.served, { ...server.config, queueSize: 1 });
  const p = e.prepare(parseGenRequest('completions', { prompt: 'a', max_tokens: 8 }));
  const signal = new AbortController().signal;
  const first = e.submit(p, { signal });
  assert.throws(
    () => e.submit(p, { signal }),
    (err: unknown) => err instanceof ApiError && err.status === 503 && err.code === 'queue_full',
  );
  const out = await first;
  assert.ok(out.completionTokens <= 8);
  assert.equal(e.depth, 0);
});

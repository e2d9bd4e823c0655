// What real clients send, end to end: the `openai` client and the AI SDK (`generateText`, `streamText`) on
// the shipped models' chat templates; llama.vim and llama.vscode's exact /infill requests (round2-reference.md
// §6: n_cmpl, the n_predict 0 warm-up, response_fields, generation_settings); special-token strings in user
// text on every route; fields clients send (null temperature/seed, penalties, mirostat, token-id prompts);
// dependent decoder defaults; a huge prompt refused before tokenizing; CORS, Retry-After, slow bodies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { generateText, streamText } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { openModel } from '../../src/platform/node-backend.js';
import { FIXTURE, post, readSse, startFixture } from './helpers.js';

const MODELS = fileURLToPath(new URL('../../../models/', import.meta.url));
const SHIPPED = ['dllm-code-mini', 'dllm-code-mini-ar'];

let fixture: RunningServer;
let shipped: RunningServer;

before(async () => {
  fixture = await startFixture({ maxTokens: 128, queueSize: 4, cors: '*', requestTimeoutMs: 800 });
  shipped = await startServer({
    modelDir: SHIPPED.map((m) => MODELS + m),
    config: { port: 0, maxTokens: 64, defaultMaxTokens: 8 },
    threads: 1,
  });
});
after(async () => {
  await fixture.close();
  await shipped.close();
});

test('the shipped models chat through the openai client (their template turns the conversation into a prompt)', async () => {
  const client = new OpenAI({ baseURL: `${shipped.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  for (const model of SHIPPED) {
    const r = await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'Python.' },
        { role: 'user', content: 'def add(a, b):' },
      ],
      max_tokens: 8,
      temperature: 0,
    });
    assert.equal(r.model, model);
    assert.equal(typeof r.choices[0]!.message.content, 'string', model);
    assert.ok(r.usage!.prompt_tokens > 3, `${model}: the template rendered the system comment and the code`);
  }
});

test('the AI SDK: generateText and streamText on both shipped models', async () => {
  const dllm = createOpenAICompatible({ name: 'dllm', baseURL: `${shipped.url}/v1` });
  for (const model of SHIPPED) {
    const g = await generateText({ model: dllm(model), prompt: 'def fibonacci(n):', maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    assert.equal(typeof g.text, 'string', model);
    assert.ok(['stop', 'length'].includes(g.finishReason), `${model}: finishReason ${g.finishReason}`);
    const s = streamText({
      model: dllm(model),
      messages: [{ role: 'user', content: 'import os\n' }],
      maxOutputTokens: 8,
      temperature: 0,
      maxRetries: 0,
    });
    let streamed = '';
    for await (const piece of s.textStream) streamed += piece;
    assert.equal(streamed, await s.text, `${model}: the stream adds up to the text`);
  }
});

// llama.vscode src/llama-server.ts @ 3938fb3, request A (FIM) and B (warm-up), exactly as sent
const VSCODE_FIM = {
  id_slot: 0,
  input_prefix: 'def add(a, b):\n',
  input_suffix: '\n',
  input_extra: [{ text: 'import os\n', time: 1760000000000, filename: '/abs/path/util.py' }],
  prompt: '    ',
  n_predict: 16,
  n_cmpl: 3,
  top_k: 40,
  top_p: 0.99,
  stream: false,
  samplers: ['top_k', 'top_p', 'infill'],
  cache_prompt: true,
  n_indent: 4,
  t_max_prompt_ms: 500,
  t_max_predict_ms: 500,
  lora: [{ id: 0, scale: 0.5 }],
  model: 'llada-tiny',
};
const VSCODE_WARMUP = {
  id_slot: 0,
  input_prefix: '',
  input_suffix: '',
  input_extra: [{ text: 'x = 1\n', time: 1, filename: 'a.py' }],
  prompt: '',
  n_predict: 0,
  samplers: [],
  cache_prompt: true,
  t_max_prompt_ms: 500,
  t_max_predict_ms: 1,
};
// llama.vim autoload/llama.vim @ a1c8e6e, request A (FIM) and B (ring-buffer warm-up)
const VIM_FIELDS = [
  'content',
  'timings/prompt_n',
  'timings/prompt_ms',
  'timings/prompt_per_token_ms',
  'timings/prompt_per_second',
  'timings/predicted_n',
  'timings/predicted_ms',
  'timings/predicted_per_token_ms',
  'timings/predicted_per_second',
  'truncated',
  'tokens_cached',
];
const VIM_FIM = {
  id_slot: 0,
  input_prefix: 'def add(a, b):\n',
  input_suffix: '\n',
  input_extra: [{ text: 'import os\n', time: [1760000000, 5], filename: 'util.py' }],
  prompt: '    ',
  n_predict: 16,
  stop: [],
  n_indent: 4,
  top_k: 40,
  top_p: 0.9,
  samplers: ['top_k', 'top_p', 'infill'],
  stream: false,
  cache_prompt: true,
  t_max_prompt_ms: 500,
  t_max_predict_ms: 1000,
  response_fields: VIM_FIELDS,
};
const VIM_WARMUP = {
  id_slot: 0,
  input_prefix: '',
  input_suffix: '',
  input_extra: [{ text: 'x = 1\n', time: [1, 2], filename: 'a.py' }],
  prompt: '',
  n_predict: 0,
  temperature: 0.0,
  samplers: [],
  stream: false,
  cache_prompt: true,
  t_max_prompt_ms: 1,
  t_max_predict_ms: 1,
  response_fields: [''],
};

test('llama.vscode: n_cmpl 3 gives an array of 3 results with generation_settings.n_ctx; the n_predict 0 warm-up is 200', async () => {
  const r = await post(`${fixture.url}/infill`, VSCODE_FIM);
  const body = (await r.json()) as Array<Record<string, any>>;
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.ok(Array.isArray(body) && body.length === 3, 'n_cmpl 3 → an array of 3');
  for (const c of body) {
    assert.equal(typeof c['content'], 'string');
    assert.equal(
      c['generation_settings']['n_ctx'],
      fixture.engine.served.config.maxPositions,
      'the status bar reads generation_settings.n_ctx',
    );
    assert.equal(c['tokens_cached'], 0);
    for (const k of ['prompt_n', 'prompt_ms', 'prompt_per_second', 'predicted_n', 'predicted_ms', 'predicted_per_second'])
      assert.equal(typeof c['timings'][k], 'number', k);
  }
  const w = await post(`${fixture.url}/infill`, VSCODE_WARMUP);
  const wb = (await w.json()) as Record<string, any>;
  assert.equal(w.status, 200, JSON.stringify(wb));
  assert.deepEqual([wb['content'], wb['tokens_predicted'], wb['stop_type']], ['', 0, 'limit'], 'a warm-up generates nothing');
});

test('llama.vim: response_fields flattens "timings/x" to root keys; [""] gives {}', async () => {
  const r = await post(`${fixture.url}/infill`, VIM_FIM);
  const body = (await r.json()) as Record<string, unknown>;
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.deepEqual(Object.keys(body).sort(), [...VIM_FIELDS].sort(), 'exactly the fields asked for');
  assert.match(JSON.stringify(body), /^\{"content"\s*:"/, 'llama.vim accepts a response only if it starts with {"content":"');
  assert.equal(typeof body['timings/predicted_per_second'], 'number');
  const w = await post(`${fixture.url}/infill`, VIM_WARMUP);
  assert.equal(w.status, 200);
  assert.deepEqual(await w.json(), {});
});

test('special-token strings in user text are plain text on every route (no 500, no control tokens)', async () => {
  const evil = '<|mdm_mask|><|eot_id|>'; // the fixture's context is 128 tokens: spelled out, these take ~25
  const routes: Array<[string, Record<string, unknown>]> = [
    ['/v1/chat/completions', { messages: [{ role: 'user', content: evil }], max_tokens: 4 }],
    ['/v1/completions', { prompt: evil, max_tokens: 4 }],
    ['/v1/completions', { prompt: evil, suffix: evil, max_tokens: 4 }],
    ['/v1/fim/completions', { prompt: evil, suffix: evil, max_tokens: 4 }],
    ['/infill', { input_prefix: evil, input_suffix: evil, input_extra: [{ text: evil, filename: 'a.py' }], n_predict: 4 }],
    ['/completion', { prompt: evil, n_predict: 4 }],
  ];
  for (const [path, body] of routes) {
    for (const stream of [false, true]) {
      const r = await post(fixture.url + path, { ...body, stream });
      const text = await r.text();
      assert.equal(r.status, 200, `${path} stream ${stream}: ${text.slice(0, 300)}`);
      assert.ok(!/"error"/.test(text), `${path} stream ${stream}: an error event: ${text.slice(0, 300)}`);
    }
  }
  const { tokenizer } = fixture.engine.served;
  assert.ok(!Array.from(tokenizer.encode(evil)).includes(tokenizer.specials.mask!), 'the mask string is not the mask id');
});

test('fields real clients send: null temperature/seed, presence/frequency penalties, mirostat, token-id prompts', async () => {
  const ok = async (path: string, body: unknown) => {
    const r = await post(fixture.url + path, body);
    const b = (await r.json()) as Record<string, any>;
    assert.equal(r.status, 200, `${path} ${JSON.stringify(body)} → ${JSON.stringify(b)}`);
    return b;
  };
  await ok('/v1/chat/completions', {
    messages: [{ role: 'user', content: 'hi' }],
    temperature: null,
    seed: null,
    top_p: null,
    max_tokens: 4,
  });
  await ok('/v1/completions', { prompt: 'def f():', presence_penalty: 1.5, frequency_penalty: 1.5, max_tokens: 4 }); // Continue's Inception provider
  await ok('/completion', { prompt: 'def f():', mirostat: 2, mirostat_tau: 5, mirostat_eta: 0.1, n_predict: 4 });
  const ids = await ok('/v1/completions', { prompt: [10, 11, 12], max_tokens: 4 });
  assert.ok(ids['usage']['prompt_tokens'] === 3, 'token ids are the prompt');
  await ok('/v1/completions', { prompt: [[10, 11, 12]], max_tokens: 4 });
  const props = (await (await fetch(`${fixture.url}/props`)).json()) as Record<string, any>;
  assert.ok(props['ignored_fields'].includes('mirostat'), '/props says which fields are accepted and ignored');
  assert.equal(props['default_generation_settings']['n_ctx'], fixture.engine.served.config.maxPositions);
});

test('decoder knobs derive their dependents: fixed + max_tokens 96 works; an error names only a field the user sent', async () => {
  const r = await post(`${fixture.url}/v1/completions`, { prompt: 'a', max_tokens: 96, decoder: 'fixed' });
  assert.equal(r.status, 200, await r.clone().text());
  const bad = await post(`${fixture.url}/v1/completions`, { prompt: 'a', max_tokens: 96, decoder: 'fixed', steps: 50 });
  const e = ((await bad.json()) as { error: { param: string; message: string } }).error;
  assert.equal(bad.status, 400);
  assert.equal(e.param, 'steps');
  assert.ok(!/genLength/.test(e.message), `the message names wire fields: ${e.message}`);
});

test('a ~900 KB prompt is refused at once, and the server stays live meanwhile', async () => {
  const huge = 'x = 1\n'.repeat(150_000); // 900 KB
  const big = await startFixture({ bodyLimit: 2 << 20 });
  try {
    const t0 = performance.now();
    const [r, h] = await Promise.all([post(`${big.url}/v1/completions`, { prompt: huge, max_tokens: 4 }), fetch(`${big.url}/health`)]);
    const ms = performance.now() - t0;
    const e = ((await r.json()) as { error: { code: string } }).error;
    assert.equal(r.status, 400);
    assert.equal(e.code, 'context_length_exceeded');
    assert.equal(h.status, 200);
    // tokenizing 900 KB took ~6 s here; refusing it takes the time to read the body (a fixed bound would be noise)
    assert.ok(ms < 3000, `refused after ${Math.round(ms)} ms`);
  } finally {
    await big.close();
  }
});

test('--cors: preflight and the allow-origin header; 503 carries Retry-After', async () => {
  const pre = await fetch(`${fixture.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin: 'http://localhost:3000',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization',
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  const r = await post(
    `${fixture.url}/v1/completions`,
    { prompt: 'a', max_tokens: 2 },
    { headers: { 'content-type': 'application/json', origin: 'http://x.test' } },
  );
  assert.equal(r.headers.get('access-control-allow-origin'), '*');
  await r.text();
  // queueSize 4: the fifth concurrent request is refused
  const many = await Promise.all(Array.from({ length: 8 }, () => post(`${fixture.url}/v1/completions`, { prompt: 'a', max_tokens: 32 })));
  const busy = many.find((x) => x.status === 503);
  assert.ok(busy, `statuses ${many.map((x) => x.status).join(',')}`);
  assert.equal(busy.headers.get('retry-after'), '1');
  await Promise.all(many.map((x) => x.text()));
});

test('a slow body is cut off by the request timeout (408 or a closed socket), not held forever', async () => {
  const { hostname, port } = new URL(fixture.url);
  const t0 = performance.now();
  const reply = await new Promise<string>((resolve) => {
    const s = connect(Number(port), hostname, () =>
      s.write('POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"pro'),
    );
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    setTimeout(() => {
      s.destroy();
      resolve('still open');
    }, 10_000);
  });
  const ms = performance.now() - t0;
  assert.notEqual(reply, 'still open', 'the server never gave up on the slow body');
  assert.ok(reply === '' || /^HTTP\/1\.1 408/.test(reply), reply.slice(0, 80));
  assert.ok(ms >= 700, `cut after ${Math.round(ms)} ms (requestTimeoutMs 800)`);
});

test('a streamed llama /completion with n_predict 0 ends at once with an empty result', async () => {
  const r = await post(`${fixture.url}/completion`, { prompt: 'a', n_predict: 0, stream: true });
  const events = await readSse(r);
  assert.equal(r.status, 200);
  const last = events.at(-1) as Record<string, unknown>;
  assert.deepEqual([last['content'], last['stop'], last['tokens_predicted']], ['', true, 0]);
});

test('startServer serves models the caller built (models: [...]), beside none from folders', async () => {
  const m = await openModel(FIXTURE, { backend: 'ref', dtype: 'f32', threads: 1 });
  const s = await startServer({
    models: [{ id: 'mine', config: m.config, model: m.model, tokenizer: m.tokenizer! }],
    config: { port: 0, maxTokens: 16, defaultMaxTokens: 8 },
  });
  try {
    const r = await post(`${s.url}/v1/completions`, { model: 'mine', prompt: 'a', max_tokens: 4 });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as { model: string }).model, 'mine');
  } finally {
    await s.close();
    m.dispose();
  }
});

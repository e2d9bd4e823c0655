// A table of bad requests and the status each must get, always with the OpenAI error envelope
// {error: {message, type, param, code}} naming the field; the server stays up through all of them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/serve/index.js';
import { startFixture } from './helpers.js';

let server: RunningServer;
before(async () => {
  server = await startFixture({ bodyLimit: 16 * 1024 });
});
after(async () => {
  await server.close();
});

const chat = (extra: Record<string, unknown>) => ({
  model: 'llada-tiny',
  messages: [{ role: 'user', content: 'hi' }],
  max_tokens: 8,
  ...extra,
});
const CHAT = '/v1/chat/completions',
  CMPL = '/v1/completions',
  FIM = '/v1/fim/completions',
  INFILL = '/infill';

interface Case {
  name: string;
  path: string;
  body: unknown;
  status: number;
  param?: string | null;
  code?: string;
  method?: string;
  raw?: boolean;
}
const CASES: Case[] = [
  { name: 'malformed JSON', path: CHAT, body: '{"messages": [', raw: true, status: 400, param: 'body', code: 'invalid_json' },
  { name: 'empty body', path: CHAT, body: '', raw: true, status: 400, param: 'body', code: 'empty_body' },
  { name: 'body is an array', path: CHAT, body: [1, 2], status: 400, param: 'body' },
  { name: 'body is a string', path: CHAT, body: '"hello"', raw: true, status: 400, param: 'body' },
  {
    name: 'invalid UTF-8',
    path: CHAT,
    body: Uint8Array.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    raw: true,
    status: 400,
    param: 'body',
    code: 'invalid_utf8',
  },
  {
    name: 'body over the size limit',
    path: CHAT,
    body: chat({ messages: [{ role: 'user', content: 'x'.repeat(20_000) }] }),
    status: 413,
    code: 'request_too_large',
  },
  { name: 'messages missing', path: CHAT, body: { model: 'llada-tiny' }, status: 400, param: 'messages' },
  { name: 'messages empty', path: CHAT, body: chat({ messages: [] }), status: 400, param: 'messages', code: 'empty_array' },
  { name: 'messages not an array', path: CHAT, body: chat({ messages: 'hi' }), status: 400, param: 'messages' },
  {
    name: 'message role unknown',
    path: CHAT,
    body: chat({ messages: [{ role: 'robot', content: 'hi' }] }),
    status: 400,
    param: 'messages[0].role',
  },
  {
    name: 'message content a number',
    path: CHAT,
    body: chat({ messages: [{ role: 'user', content: 5 }] }),
    status: 400,
    param: 'messages[0].content',
  },
  {
    name: 'message image part',
    path: CHAT,
    body: chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }),
    status: 400,
    param: 'messages[0].content[0]',
  },
  { name: 'unknown model', path: CHAT, body: chat({ model: 'gpt-9' }), status: 404, param: 'model', code: 'model_not_found' },
  { name: 'model not a string', path: CHAT, body: chat({ model: 7 }), status: 400, param: 'model' },
  {
    name: 'max_tokens over the limit',
    path: CHAT,
    body: chat({ max_tokens: 100_000 }),
    status: 400,
    param: 'max_tokens',
    code: 'max_tokens_exceeded',
  },
  { name: 'max_tokens a string', path: CHAT, body: chat({ max_tokens: '8' }), status: 400, param: 'max_tokens', code: 'invalid_type' },
  { name: 'max_tokens zero', path: CHAT, body: chat({ max_tokens: 0 }), status: 400, param: 'max_tokens' },
  { name: 'max_tokens fractional', path: CHAT, body: chat({ max_tokens: 2.5 }), status: 400, param: 'max_tokens' },
  {
    name: 'max_tokens and genLength',
    path: CHAT,
    body: chat({ genLength: 8 }),
    status: 400,
    param: 'max_tokens',
    code: 'conflicting_parameters',
  },
  { name: 'temperature negative', path: CHAT, body: chat({ temperature: -1 }), status: 400, param: 'temperature' },
  { name: 'temperature a string', path: CHAT, body: chat({ temperature: 'hot' }), status: 400, param: 'temperature' },
  { name: 'top_p over 1', path: CHAT, body: chat({ top_p: 1.5 }), status: 400, param: 'top_p' },
  { name: 'seed fractional', path: CHAT, body: chat({ seed: 1.5 }), status: 400, param: 'seed' },
  { name: 'stop a number', path: CHAT, body: chat({ stop: 3 }), status: 400, param: 'stop' },
  { name: 'stop with an empty string', path: CHAT, body: chat({ stop: [''] }), status: 400, param: 'stop' },
  { name: 'stream not a boolean', path: CHAT, body: chat({ stream: 'yes' }), status: 400, param: 'stream' },
  {
    name: 'stream_options without stream',
    path: CHAT,
    body: chat({ stream_options: { include_usage: true } }),
    status: 400,
    param: 'stream_options',
  },
  {
    name: 'stream_options unknown key',
    path: CHAT,
    body: chat({ stream: true, stream_options: { foo: 1 } }),
    status: 400,
    param: 'stream_options.foo',
  },
  { name: 'n = 2', path: CHAT, body: chat({ n: 2 }), status: 400, param: 'n' },
  { name: 'logprobs', path: CHAT, body: chat({ logprobs: true }), status: 400, param: 'logprobs' },
  { name: 'frequency_penalty out of range', path: CHAT, body: chat({ frequency_penalty: 3 }), status: 400, param: 'frequency_penalty' },
  { name: 'unknown field', path: CHAT, body: chat({ frobnicate: true }), status: 400, param: 'frobnicate', code: 'unknown_parameter' },
  { name: 'unknown decoder', path: CHAT, body: chat({ decoder: 'nope' }), status: 400, param: 'decoder' },
  { name: 'threshold out of range', path: CHAT, body: chat({ threshold: 2 }), status: 400, param: 'threshold' },
  {
    name: 'blockLength not dividing max_tokens',
    path: CHAT,
    body: chat({ max_tokens: 16, blockLength: 7 }),
    status: 400,
    param: 'max_tokens',
  },
  { name: 'topP with a LLaDA decoder', path: CHAT, body: chat({ topP: 0.5 }), status: 400, param: 'topP' },
  {
    name: 'prompt over the context',
    path: CMPL,
    body: { prompt: 'word '.repeat(400), max_tokens: 8 },
    status: 400,
    param: 'prompt',
    code: 'context_length_exceeded',
  },
  {
    name: 'prompt + max_tokens over the context',
    path: CMPL,
    body: { prompt: 'word '.repeat(20), max_tokens: 64 },
    status: 400,
    param: 'max_tokens',
    code: 'context_length_exceeded',
  },
  { name: 'completions prompt missing', path: CMPL, body: { max_tokens: 8 }, status: 400, param: 'prompt' },
  { name: 'completions prompt a number', path: CMPL, body: { prompt: 42 }, status: 400, param: 'prompt' },
  { name: 'completions echo', path: CMPL, body: { prompt: 'a', echo: true }, status: 400, param: 'echo' },
  { name: 'completions messages field', path: CMPL, body: { prompt: 'a', messages: [] }, status: 400, param: 'messages' },
  { name: 'fim suffix not a string', path: FIM, body: { prompt: 'a', suffix: 1 }, status: 400, param: 'suffix' },
  {
    name: 'infill input_extra not an array',
    path: INFILL,
    body: { input_prefix: 'a', input_extra: 'b' },
    status: 400,
    param: 'input_extra',
  },
  {
    name: 'infill input_extra chunk without text',
    path: INFILL,
    body: { input_prefix: 'a', input_extra: [{ filename: 'x' }] },
    status: 400,
    param: 'input_extra[0]',
  },
  { name: 'infill n_predict a string', path: INFILL, body: { input_prefix: 'a', n_predict: 'many' }, status: 400, param: 'n_predict' },
  { name: 'infill n_predict over the limit', path: INFILL, body: { input_prefix: 'a', n_predict: 5000 }, status: 400, param: 'n_predict' },
  { name: 'infill unknown field', path: INFILL, body: { input_prefix: 'a', bogus: 1 }, status: 400, param: 'bogus' },
  { name: 'completion prompt missing', path: '/completion', body: { n_predict: 4 }, status: 400, param: 'prompt' },
  { name: 'completion prompt an object', path: '/completion', body: { prompt: { text: 'a' } }, status: 400, param: 'prompt' },
  { name: 'completion prompt ids negative', path: '/completion', body: { prompt: [1, -2] }, status: 400, param: 'prompt' },
  {
    name: 'completion token id outside the vocabulary',
    path: '/completion',
    body: { prompt: [1, 100000] },
    status: 400,
    param: 'prompt[1]',
  },
  {
    name: 'completion stream_options (OpenAI only)',
    path: '/completion',
    body: { prompt: 'a', stream: true, stream_options: {} },
    status: 400,
    param: 'stream_options',
  },
  { name: 'unknown route', path: '/v1/nothing', body: {}, status: 404, param: null },
  { name: 'GET on a POST route', path: CHAT, method: 'GET', body: undefined, status: 404, param: null },
];

test(`${CASES.length} bad requests get the right status and an OpenAI error naming the field`, async () => {
  assert.ok(CASES.length >= 30);
  const got: string[] = [];
  for (const c of CASES) {
    const init: RequestInit = { method: c.method ?? 'POST', headers: { 'content-type': 'application/json' } };
    if (c.body !== undefined) init.body = (c.raw ? c.body : JSON.stringify(c.body)) as BodyInit;
    const res = await fetch(server.url + c.path, init);
    const j = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    got.push(`${res.status} ${c.name}`);
    assert.equal(res.status, c.status, `${c.name}: ${JSON.stringify(j)}`);
    assert.equal(typeof j.error.message, 'string', c.name);
    assert.equal(typeof j.error.type, 'string', c.name);
    assert.ok('param' in j.error && 'code' in j.error, c.name);
    if (c.param !== undefined) assert.equal(j.error.param, c.param, `${c.name}: ${JSON.stringify(j)}`);
    if (c.code !== undefined) assert.equal(j.error.code, c.code, `${c.name}: ${JSON.stringify(j)}`);
    if (c.param)
      assert.ok(
        j.error.message.includes(c.param.replace(/\[\d+\].*$/, '')) || c.param === 'body',
        `${c.name}: message "${j.error.message}" names ${c.param}`,
      );
  }
  const h = await fetch(`${server.url}/health`); // still up
  assert.equal(h.status, 200);
  console.log(got.join('\n'));
});

/** a seeded stream of hostile values: wrong types, extremes, deep nesting, odd strings */
function* hostile(seed: number): Generator<unknown> {
  let x = seed >>> 0;
  const next = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return x;
  };
  const pool: unknown[] = [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    1e308,
    -1e308,
    2 ** 53 + 1,
    '',
    ' ',
    '\u0000',
    '\ud800',
    'x'.repeat(3000),
    [],
    [null],
    [[[]]],
    {},
    { a: { b: { c: {} } } },
    '<script>',
    '${x}',
    '{{ raise }}',
    [1, 'a', {}],
    Array(50).fill('stop'),
    { role: 'user' },
    -0,
    'NaN',
    '[MASK]',
  ];
  for (;;) yield pool[next() % pool.length];
}

test('fuzz: 400 bodies with hostile values in known fields never crash the server and never get a 5xx', async () => {
  const routes: Array<[string, string[]]> = [
    [
      CHAT,
      [
        'model',
        'messages',
        'max_tokens',
        'temperature',
        'top_p',
        'stop',
        'seed',
        'stream',
        'stream_options',
        'diffusing',
        'decoder',
        'genLength',
        'blockLength',
        'steps',
        'threshold',
        'cfgScale',
      ],
    ],
    [CMPL, ['prompt', 'suffix', 'max_tokens', 'temperature', 'stop', 'seed', 'echo', 'n', 'logprobs', 'decoder', 'remasking', 'factor']],
    [FIM, ['prompt', 'suffix', 'max_tokens', 'diffusing', 'stream']],
    [INFILL, ['input_prefix', 'input_suffix', 'input_extra', 'n_predict', 'top_k', 'samplers']],
    ['/completion', ['prompt', 'n_predict', 'stop', 'seed', 'temperature']],
  ];
  const values = hostile(12345);
  const seen = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const [path, fields] = routes[i % routes.length]!;
    const body: Record<string, unknown> =
      path === CHAT ? chat({ max_tokens: 2 }) : path === INFILL ? { input_prefix: 'a', n_predict: 2 } : { prompt: 'a', max_tokens: 2 };
    if (path === '/completion') {
      delete body['max_tokens'];
      body['n_predict'] = 2;
    }
    for (let k = 0; k < 1 + (i % 3); k++) body[fields[(i * 7 + k * 13) % fields.length]!] = values.next().value;
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
    assert.ok(res.status < 500, `fuzz case ${i} ${path} ${JSON.stringify(body).slice(0, 300)} → ${res.status} ${text.slice(0, 300)}`);
    if (res.status >= 400) assert.ok((JSON.parse(text) as { error?: unknown }).error, `fuzz case ${i}: an error envelope`);
  }
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  console.log(`fuzz statuses: ${[...seen].map(([s, n]) => `${s}×${n}`).join(', ')}`);
});

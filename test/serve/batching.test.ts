// The server's scheduler and its llama-server / Prometheus surface, over raw HTTP on the tiny fixtures:
// concurrent requests decode together (continuous batching) and each gets what it gets alone; /completion
// (plain, token-id prompt, streaming); /metrics counts what the responses said; several models per server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { FIXTURE, post, readSse, startFixture } from './helpers.js';

const LLAMA = fileURLToPath(new URL('../../../test/fixtures/llama/', import.meta.url));
let server: RunningServer;

before(async () => {
  server = await startFixture({ batchSize: 4 });
});
after(async () => {
  await server.close();
});

/** Prometheus text → value of one sample line (name with labels exactly as printed) */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  assert.ok(line, `no sample ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

test('concurrent requests share model calls and each gets exactly its answer alone', async () => {
  const prompts = ['def add(a, b):', 'Once upon', 'x', 'import os\n'];
  const body = (prompt: string) => ({ prompt, max_tokens: 16, temperature: 0, decoder: 'fixed', steps: 16, blockLength: 8 });
  const alone: string[] = [];
  for (const p of prompts) alone.push(((await (await post(`${server.url}/v1/completions`, body(p))).json()) as any).choices[0].text);
  const before = await (await fetch(`${server.url}/metrics`)).text();
  const together = await Promise.all(
    prompts.map(async (p) => ((await (await post(`${server.url}/v1/completions`, body(p))).json()) as any).choices[0].text as string),
  );
  assert.deepEqual(together, alone, 'batched answers equal the answers alone (temperature 0, no cache)');
  const after = await (await fetch(`${server.url}/metrics`)).text();
  const calls =
    sample(after, 'dllm_forward_calls_total{model="llada-tiny"}') - sample(before, 'dllm_forward_calls_total{model="llada-tiny"}');
  const rows = sample(after, 'dllm_batch_rows_sum{model="llada-tiny"}') - sample(before, 'dllm_batch_rows_sum{model="llada-tiny"}');
  assert.equal(rows, 4 * 16, 'every request took 16 steps');
  assert.ok(calls < rows, `calls ${calls} < rows ${rows}: requests decoded together`);
});

test('/metrics counts requests, tokens, NFE and latency', async () => {
  const before = await (await fetch(`${server.url}/metrics`)).text();
  const r = (await (
    await post(`${server.url}/v1/completions`, { prompt: 'abc', max_tokens: 8, decoder: 'fixed', steps: 8, blockLength: 8 })
  ).json()) as any;
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const d = (s: string) => sample(text, s) - (before.includes(s + ' ') ? sample(before, s) : 0);
  assert.equal(d(`dllm_requests_total{model="llada-tiny",finish_reason="${r.choices[0].finish_reason}"}`), 1);
  assert.equal(d('dllm_generated_tokens_total{model="llada-tiny"}'), r.usage.completion_tokens);
  assert.equal(d('dllm_prompt_tokens_total{model="llada-tiny"}'), r.usage.prompt_tokens);
  assert.equal(d('dllm_nfe_total{model="llada-tiny"}'), r.timings.nfe);
  assert.equal(d('dllm_request_duration_seconds_count{model="llada-tiny"}'), 1);
  assert.equal(sample(text, 'dllm_queue_depth{model="llada-tiny"}'), 0);
  assert.match(text, /# TYPE dllm_time_to_first_step_seconds histogram/);
  assert.match(text, /dllm_http_requests_total\{route="\/v1\/completions",code="200"\} \d+/);
});

test('POST /completion (llama-server): content, stop_type, timings; token-id prompts; streaming without [DONE]', async () => {
  const r = (await (await post(`${server.url}/completion`, { prompt: 'def f():', n_predict: 8, cache_prompt: true })).json()) as any;
  assert.equal(typeof r.content, 'string');
  assert.equal(r.stop, true);
  assert.ok(['eos', 'limit', 'word'].includes(r.stop_type));
  assert.equal(r.prompt, 'def f():');
  assert.ok(r.tokens_predicted <= 8 && r.tokens_evaluated > 0);
  for (const k of ['prompt_n', 'prompt_ms', 'predicted_n', 'predicted_ms', 'predicted_per_second'])
    assert.equal(typeof r.timings[k], 'number', k);
  const ids = (await (await post(`${server.url}/completion`, { prompt: [5, 6, 7], n_predict: 4 })).json()) as any;
  assert.equal(ids.tokens_evaluated, 3);
  const bad = await post(`${server.url}/completion`, { prompt: [1, 1e9], n_predict: 4 });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as any).error.param, 'prompt[1]');
  const events = await readSse(await post(`${server.url}/completion`, { prompt: 'def f():', n_predict: 8, stream: true }));
  assert.ok(!events.includes('[DONE]'), 'llama-server streams end with stop: true, not [DONE]');
  const chunks = events as Array<Record<string, any>>;
  assert.ok(chunks.slice(0, -1).every((c) => c['stop'] === false));
  assert.equal(chunks.at(-1)!['stop'], true);
  assert.equal(chunks.map((c) => c['content']).join(''), r.content, 'streamed pieces join to the full answer');
});

test('several models per server: /v1/models lists them, `model` routes, unknown gets 404', async () => {
  const two = await startServer({ modelDir: [FIXTURE, LLAMA], config: { port: 0, maxTokens: 32, defaultMaxTokens: 8 }, threads: 1 });
  try {
    const models = (await (await fetch(`${two.url}/v1/models`)).json()) as any;
    assert.deepEqual(
      models.data.map((m: any) => [m.id, m.meta.kind]),
      [
        ['llada', 'diffusion'],
        ['llama', 'causal'],
      ],
    );
    const ar = (await (await post(`${two.url}/v1/completions`, { model: 'llama', prompt: 'hello', max_tokens: 4 })).json()) as any;
    assert.equal(ar.model, 'llama');
    assert.equal(
      ar.timings.nfe,
      ar.usage.completion_tokens + (ar.choices[0].finish_reason === 'stop' ? 1 : 0),
      'AR: one forward per token',
    );
    const dflt = (await (await post(`${two.url}/v1/completions`, { prompt: 'hello', max_tokens: 4 })).json()) as any;
    assert.equal(dflt.model, 'llada', 'no model field → the first model');
    const missing = await post(`${two.url}/v1/completions`, { model: 'gpt-4', prompt: 'hello' });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 'model_not_found');
  } finally {
    await two.close();
  }
});

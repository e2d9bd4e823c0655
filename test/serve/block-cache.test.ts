// The server with the exact block cache (config cache 'block'): requests decode block-causally, concurrent
// requests batched continuously (rows at different blocks, left-padded) get exactly what a server without a
// cache gives them under the same attention (body blockCausal: true), and a request that asks for
// bidirectional decoding is refused naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningServer } from '../../src/serve/index.js';
import { post, startFixture } from './helpers.js';

let cached: RunningServer, full: RunningServer;

before(async () => {
  cached = await startFixture({ batchSize: 4, cache: 'block' });
  full = await startFixture({ batchSize: 4 });
});
after(async () => {
  await cached.close();
  await full.close();
});

const PROMPTS = ['def add(a, b):', 'Once upon', 'x', 'import os\n'];
const body = (prompt: string, extra: Record<string, unknown> = {}) => ({
  prompt,
  max_tokens: 16,
  temperature: 0,
  blockLength: 8,
  ...extra,
});
const text = async (url: string, b: unknown) => {
  const res = await post(`${url}/v1/completions`, b);
  assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
  return ((await res.json()) as any).choices[0].text as string;
};

test("cache 'block': concurrent requests get the answers of full block-causal recomputation", async () => {
  const want = await Promise.all(PROMPTS.map((p) => text(full.url, body(p, { blockCausal: true }))));
  const got = await Promise.all(PROMPTS.map((p) => text(cached.url, body(p))));
  assert.ok(
    want.some((t) => t.length > 0),
    'the fixture says something',
  );
  assert.deepEqual(got, want, 'block cache (batched) vs no cache (batched), both block-causal');
  const alone: string[] = [];
  for (const p of PROMPTS) alone.push(await text(cached.url, body(p)));
  assert.deepEqual(alone, want, 'block cache, one request at a time');
});

test("cache 'block': a request with blockCausal false is a 400 naming the field", async () => {
  const res = await post(`${cached.url}/v1/completions`, body('x', { blockCausal: false }));
  assert.equal(res.status, 400);
  assert.match(await res.text(), /blockCausal/);
});

// Structured output on the canvas: response_format json_schema (strict) pins the JSON structure and limits each
// value cell to its type's tokens, so the answer always parses and validates — checked with Ajv over seeds and
// temperatures on the tiny random fixture (whose free text is noise), through the openai client and the AI SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { generateObject, jsonSchema } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { RunningServer } from '../../src/serve/index.js';
import { buildSkeleton } from '../../src/text/structured.js';
import { post, startFixture } from './helpers.js';

let server: RunningServer;
before(async () => {
  server = await startFixture({ maxTokens: 64 });
});
after(async () => {
  await server.close();
});

// small enough for the fixture's context of 128 tokens (its vocabulary is ~300 tokens: about one per character)
const SCHEMA = {
  type: 'object',
  properties: {
    n: { type: 'string', maxLength: 6 },
    a: { type: 'integer', minimum: 1, maximum: 99 },
    b: { type: 'boolean' },
    c: { type: 'string', enum: ['red', 'blue'] },
    t: { type: 'array', items: { type: 'string', maxLength: 2 }, minItems: 2, maxItems: 2 },
    o: { type: 'object', properties: { z: { type: 'integer' }, u: { type: 'null' } }, required: ['z', 'u'], additionalProperties: false },
  },
  required: ['n', 'a', 'b', 'c', 't', 'o'],
  additionalProperties: false,
};

test('strict json_schema: every answer parses and validates (Ajv), at temperature 0 and 1, many seeds', async () => {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const validate = new Ajv({ strict: false }).compile(SCHEMA);
  for (const [temperature, seed] of [
    [0, 0],
    [1, 1],
    [1, 2],
    [1, 3],
    [0.7, 4],
    [1, 5],
  ] as const) {
    const r = await client.chat.completions.create({
      model: 'llada-tiny',
      messages: [{ role: 'user', content: 'x' }],
      temperature,
      seed,
      response_format: { type: 'json_schema', json_schema: { name: 'user', schema: SCHEMA, strict: true } },
    });
    const text = r.choices[0]!.message.content!;
    const value = JSON.parse(text);
    assert.ok(validate(value), `seed ${seed} τ ${temperature}: ${text} — ${JSON.stringify(validate.errors)}`);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
  }
});

test('json_object gives a JSON object; a schema feature that cannot be pinned is refused by name', async () => {
  const r = await post(`${server.url}/v1/chat/completions`, {
    messages: [{ role: 'user', content: 'hi' }],
    response_format: { type: 'json_object' },
  });
  const j = (await r.json()) as { choices: Array<{ message: { content: string } }> };
  assert.equal(r.status, 200, JSON.stringify(j));
  assert.equal(typeof JSON.parse(j.choices[0]!.message.content), 'object');
  const bad = await post(`${server.url}/v1/chat/completions`, {
    messages: [{ role: 'user', content: 'hi' }],
    response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'string', pattern: '^a+$' } } },
  });
  const e = ((await bad.json()) as { error: { param: string; message: string } }).error;
  assert.equal(bad.status, 400);
  assert.equal(e.param, 'response_format.json_schema.schema');
  assert.match(e.message, /"pattern" is not supported/);
});

test('the AI SDK generateObject with a JSON schema (structured outputs on)', async () => {
  const dllm = createOpenAICompatible({ name: 'dllm', baseURL: `${server.url}/v1`, supportsStructuredOutputs: true });
  const { object } = await generateObject({
    model: dllm('llada-tiny'),
    prompt: 'A point.',
    maxRetries: 0,
    schema: jsonSchema<{ x: number; y: number }>({
      type: 'object',
      properties: { x: { type: 'integer' }, y: { type: 'integer' } },
      required: ['x', 'y'],
      additionalProperties: false,
    }),
  });
  assert.equal(typeof object.x, 'number');
  assert.equal(typeof object.y, 'number');
});

test('the skeleton: braces, keys and quotes are pinned; only value cells are free', async () => {
  const sk = buildSkeleton(
    { type: 'object', properties: { a: { type: 'boolean' } }, additionalProperties: false },
    server.engine.served.tokenizer,
  );
  const pinned = sk.pinned.reduce((n, p) => n + p.ids.length, 0);
  assert.equal(pinned + sk.allowed.length, sk.length, 'every position is pinned or a constrained cell');
  assert.equal(sk.allowed.length, 1, 'one boolean cell');
});

test('the library (lm.complete with jsonSchema) and the CLI (dllm generate --json-schema FILE) give valid JSON', async () => {
  const { loadModel } = await import('../../src/platform/node-generator.js');
  const { FIXTURE } = await import('./helpers.js');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const schema = {
    type: 'object',
    properties: { ok: { type: 'boolean' }, n: { type: 'integer', maximum: 50 }, s: { type: 'string', maxLength: 4 } },
    required: ['ok', 'n', 's'],
    additionalProperties: false,
  };
  const validate = new Ajv({ strict: false }).compile(schema);
  const lm = await loadModel(FIXTURE, { backend: 'ref', threads: 1 });
  try {
    for (const seed of [0, 1, 2]) {
      const c = await lm.complete('x', { jsonSchema: schema, temperature: 1, seed });
      assert.ok(validate(JSON.parse(c.text)), c.text);
      assert.ok(c.tokensPerForward > 0);
    }
  } finally {
    lm.dispose();
  }
  const dir = mkdtempSync(join(tmpdir(), 'dllm-schema-')),
    file = join(dir, 'schema.json');
  writeFileSync(file, JSON.stringify(schema));
  try {
    const cli = new URL('../../../bin/dllm.js', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [
      cli,
      'generate',
      'x',
      '--model',
      FIXTURE,
      '--json-schema',
      file,
      '--json',
    ]);
    assert.ok(validate(JSON.parse(JSON.parse(stdout).text)), stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

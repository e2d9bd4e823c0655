// Structured output and forced tool calls on a causal model: masked token by token (text/json-mask.ts), since
// a causal model cannot pin a skeleton — response_format with a schema no canvas can hold (anyOf, a variable
// array), a named tool, and the AI SDK's generateText with toolChoice "required", all validated with Ajv.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { generateText, jsonSchema, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/serve/index.js';

const LLAMA = new URL('../../../test/fixtures/llama/', import.meta.url).pathname;
const SCHEMA = {
  type: 'object',
  properties: {
    k: {
      anyOf: [
        { type: 'integer', minimum: -5, maximum: 5 },
        { type: 'string', maxLength: 3 },
      ],
    },
    v: { type: 'array', items: { type: 'boolean' }, maxItems: 3 },
  },
  required: ['k', 'v'],
  additionalProperties: false,
};
const PARAMS = { type: 'object', properties: { q: { type: 'string', maxLength: 4 } }, required: ['q'], additionalProperties: false };

// a template that renders `tools` tersely (the fixture's own would list them in a system message, longer
// than its context of 128 tokens)
const TEMPLATE =
  "{% if tools %}{{ 'tools:' }}{% for t in tools %}{{ ' ' + t.function.name }}{% endfor %}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}";

let dir: string, server: RunningServer, client: OpenAI;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dllm-causal-structured-'));
  cpSync(LLAMA, dir, { recursive: true });
  const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...tc, chat_template: TEMPLATE }));
  server = await startServer({ modelDir: dir, config: { port: 0, modelId: 'ar-tiny', maxTokens: 64, defaultMaxTokens: 8 }, threads: 1 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('causal: strict json_schema with anyOf and a variable array validates over seeds, streamed too', async () => {
  const validate = new Ajv({ strict: false }).compile(SCHEMA);
  for (const seed of [0, 1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: 'ar-tiny',
      messages: [{ role: 'user', content: 'x' }],
      temperature: seed ? 1 : 0,
      seed,
      response_format: { type: 'json_schema', json_schema: { name: 'kv', schema: SCHEMA, strict: true } },
    });
    const text = r.choices[0]!.message.content!;
    assert.ok(validate(JSON.parse(text)), `seed ${seed}: ${text}`);
  }
  const stream = await client.chat.completions.create({
    model: 'ar-tiny',
    messages: [{ role: 'user', content: 'x' }],
    stream: true,
    response_format: { type: 'json_schema', json_schema: { name: 'kv', schema: SCHEMA, strict: true } },
  });
  let text = '';
  for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
  assert.ok(validate(JSON.parse(text)), text);
});

test('causal: a named tool is forced token by token; the AI SDK generateText with toolChoice "required"', async () => {
  const valid = new Ajv({ strict: false }).compile(PARAMS);
  const tools = [{ type: 'function' as const, function: { name: 'look', parameters: PARAMS } }];
  const r = await client.chat.completions.create({
    model: 'ar-tiny',
    messages: [{ role: 'user', content: 'x' }],
    tools,
    tool_choice: { type: 'function', function: { name: 'look' } },
  });
  const call = r.choices[0]!.message.tool_calls![0]!;
  assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
  assert.ok(call.type === 'function' && call.function.name === 'look' && valid(JSON.parse(call.function.arguments)));
  const dllm = createOpenAICompatible({ name: 'dllm', baseURL: `${server.url}/v1` });
  const g = await generateText({
    model: dllm('ar-tiny'),
    prompt: 'x',
    maxRetries: 0,
    toolChoice: 'required',
    tools: {
      look: tool({ inputSchema: jsonSchema<{ q: string }>(PARAMS) }),
      stop: tool({ inputSchema: jsonSchema({ type: 'object', properties: {} }) }),
    },
  });
  assert.equal(g.toolCalls.length, 1);
  assert.ok(['look', 'stop'].includes(g.toolCalls[0]!.toolName));
});

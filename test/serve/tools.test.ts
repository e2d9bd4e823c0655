// Tool calling on /v1/chat/completions as OpenAI defines it, on a copy of the tiny fixture whose chat template
// renders `tools`: a forced call (a named function) is pinned on the canvas and always parses and validates;
// streamed as delta.tool_calls; role "tool" messages in the history; the openai client and the AI SDK's
// generateText({ tools }); the Hermes and Llama-3 formats read back from text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { generateText, jsonSchema, tool } from 'ai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { extractToolCalls } from '../../src/serve/tools.js';
import { FIXTURE, post } from './helpers.js';

// a template in the Hugging Face convention: a `tools` list, assistant tool_calls, tool turns
const TEMPLATE =
  "{% if tools %}{{ '<|start_header_id|>system<|end_header_id|>\\n\\nTools:' }}{% for t in tools %}{{ ' ' + t.function.name }}{% endfor %}{{ '<|eot_id|>' }}{% endif %}" +
  "{% for m in messages %}{{ '<|start_header_id|>' + m.role + '<|end_header_id|>\\n\\n' }}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ '<tool_call>' + c.function.name + '</tool_call>' }}{% endfor %}{% endif %}{{ m.content + '<|eot_id|>' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
const PARAMS = {
  type: 'object',
  properties: { c: { type: 'string', maxLength: 4 }, d: { type: 'integer', minimum: 1, maximum: 9 } },
  required: ['c', 'd'],
  additionalProperties: false,
};
const TOOLS = [
  { type: 'function' as const, function: { name: 'wx', description: 'weather', parameters: PARAMS } },
  { type: 'function' as const, function: { name: 'tm', parameters: { type: 'object', properties: {} } } },
];

let dir: string, server: RunningServer, client: OpenAI;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dllm-tools-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...tc, chat_template: TEMPLATE }));
  server = await startServer({ modelDir: dir, config: { port: 0, modelId: 'tiny', maxTokens: 64, defaultMaxTokens: 8 }, threads: 1 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const validArgs = new Ajv({ strict: false }).compile(PARAMS);

test('a named tool_choice: message.tool_calls with valid arguments, finish_reason tool_calls (several seeds)', async () => {
  for (const seed of [0, 1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'w?' }],
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'wx' } },
      temperature: 1,
      seed,
    });
    const c = r.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.content, null);
    const call = c.message.tool_calls![0]!;
    assert.equal(call.type, 'function');
    assert.ok(call.type === 'function' && call.function.name === 'wx');
    const args = JSON.parse(call.type === 'function' ? call.function.arguments : '');
    assert.ok(validArgs(args), `seed ${seed}: ${JSON.stringify(args)} ${JSON.stringify(validArgs.errors)}`);
    assert.match(call.id, /^call_/);
  }
});

test('streamed: delta.tool_calls with index, id and name, then the arguments', async () => {
  const stream = await client.chat.completions.create({
    model: 'tiny',
    messages: [{ role: 'user', content: 'w?' }],
    tools: TOOLS,
    tool_choice: { type: 'function', function: { name: 'wx' } },
    stream: true,
  });
  let name = '',
    args = '',
    finish: string | null = null,
    id = '';
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    for (const t of ch?.delta.tool_calls ?? []) {
      assert.equal(t.index, 0);
      name += t.function?.name ?? '';
      args += t.function?.arguments ?? '';
      id ||= t.id ?? '';
    }
    if (ch?.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(name, 'wx');
  assert.ok(validArgs(JSON.parse(args)), args);
  assert.ok(id.startsWith('call_'));
  assert.equal(finish, 'tool_calls');
});

test('a history with the call and the tool\'s answer (role "tool") is accepted; tool_choice "none" answers in text', async () => {
  const r = await client.chat.completions.create({
    model: 'tiny',
    tools: TOOLS,
    tool_choice: 'none',
    max_tokens: 4,
    messages: [
      { role: 'user', content: 'w?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'wx', arguments: '{"c":"a","d":1}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sun' },
    ],
  });
  assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
  assert.equal(r.choices[0]!.message.tool_calls, undefined);
  const bad = await post(`${server.url}/v1/chat/completions`, { messages: [{ role: 'tool', content: 'x' }] });
  assert.equal(bad.status, 400, 'a tool message without tool_call_id');
  const unknown = await post(`${server.url}/v1/chat/completions`, {
    messages: [{ role: 'user', content: 'x' }],
    tools: TOOLS,
    tool_choice: { type: 'function', function: { name: 'nope' } },
  });
  assert.equal(unknown.status, 400);
});

test('the AI SDK generateText({ tools, toolChoice }) gets a typed tool call', async () => {
  const dllm = createOpenAICompatible({ name: 'dllm', baseURL: `${server.url}/v1` });
  const r = await generateText({
    model: dllm('tiny'),
    prompt: 'w?',
    maxRetries: 0,
    toolChoice: { type: 'tool', toolName: 'wx' },
    tools: { wx: tool({ description: 'weather', inputSchema: jsonSchema<{ c: string; d: number }>(PARAMS) }) },
  });
  assert.equal(r.toolCalls.length, 1);
  assert.equal(r.toolCalls[0]!.toolName, 'wx');
  assert.ok(validArgs(r.toolCalls[0]!.input), JSON.stringify(r.toolCalls[0]!.input));
});

test('tool calls read back from text: Hermes <tool_call> blocks and a Llama-3 JSON object', () => {
  const hermes = extractToolCalls(
    'Let me check.\n<tool_call>\n{"name": "wx", "arguments": {"c": "Oslo", "d": 2}}\n</tool_call>\n<tool_call>{"name": "tm", "arguments": {}}</tool_call>',
    TOOLS,
  );
  assert.deepEqual(
    hermes.calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    [
      ['wx', { c: 'Oslo', d: 2 }],
      ['tm', {}],
    ],
  );
  assert.equal(hermes.content, 'Let me check.');
  const llama3 = extractToolCalls('{"name": "wx", "parameters": {"c": "Rome", "d": 1}}', TOOLS);
  assert.deepEqual(JSON.parse(llama3.calls[0]!.function.arguments), { c: 'Rome', d: 1 });
  assert.equal(
    extractToolCalls('<tool_call>{"name": "unknown", "arguments": {}}</tool_call>', TOOLS).calls.length,
    0,
    'a tool not offered is text',
  );
});

test('tool_choice "required" among several tools: one call of one of them, masked token by token, always valid', async () => {
  const validTm = new Ajv({ strict: false }).compile(TOOLS[1]!.function.parameters);
  const seen = new Set<string>();
  for (const seed of [0, 1, 2, 3, 4, 5]) {
    const r = await client.chat.completions.create({
      model: 'tiny',
      messages: [{ role: 'user', content: 'w?' }],
      tools: TOOLS,
      tool_choice: 'required',
      temperature: 1,
      seed,
    });
    const c = r.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls', `seed ${seed}`);
    const call = c.message.tool_calls![0]!;
    assert.ok(call.type === 'function');
    const args = JSON.parse(call.function.arguments);
    const ok = call.function.name === 'wx' ? validArgs(args) : call.function.name === 'tm' && validTm(args);
    assert.ok(ok, `seed ${seed}: ${call.function.name}(${call.function.arguments})`);
    seen.add(call.function.name);
  }
  assert.ok(seen.size >= 1);
  const short = await post(`${server.url}/v1/chat/completions`, {
    messages: [{ role: 'user', content: 'w?' }],
    tools: TOOLS,
    tool_choice: 'required',
    max_tokens: 5,
  });
  const e = ((await short.json()) as { error: { param: string; message: string } }).error;
  assert.equal(short.status, 400);
  assert.equal(e.param, 'max_tokens');
  assert.match(e.message, /shortest JSON the call allows is \d+ characters/);
});

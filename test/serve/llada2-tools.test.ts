// Tool calling in LLaDA2.0's own chat format, on a copy of the tiny LLaDA2-MoE fixture. LLaDA2.0 ships the
// Bailing v2 template of Ling-2.0: `<role>SYSTEM|HUMAN|ASSISTANT|OBSERVATION</role>` turns closed by
// `<|role_end|>`, the tools as JSON lines inside `<tools>` in the system turn, calls as `<tool_call>\n{"name",
// "arguments"}\n</tool_call>` in the assistant turn, consecutive tool answers grouped into one OBSERVATION turn
// of `<tool_response>` blocks. The template below has that structure and the Jinja constructs the shipped one
// uses (namespace, reversed slices, `is string`, tojson, neighbours by loop.index0); its instruction wording is
// ours. Also the GLM-4.5 / Ling-3 key/value call form read back from text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { extractToolCalls } from '../../src/serve/tools.js';
import { TextTokenizer } from '../../src/tokenizer/index.js';

const LLADA2 = fileURLToPath(new URL('../../../test/fixtures/llada2/', import.meta.url));
const ROLE_END_ID = 284; // a free id below the fixture's vocab_size (288): ids 0-279 BPE, 280 eos, 283 mask

const TEMPLATE = [
  "{{- '<role>SYSTEM</role>' }}",
  "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n' }}{%- endif %}",
  '{%- if tools %}',
  '{{- \'# Tools\\n\\nCall a function with <tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>. Functions:\\n<tools>\' }}',
  "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}",
  "{{- '\\n</tools>\\n' }}",
  '{%- endif %}',
  "{{- 'detailed thinking off<|role_end|>' }}",
  '{%- set ns = namespace(last_user=messages|length - 1, seen=false) %}',
  '{%- for m in messages[::-1] %}',
  "{%- if not ns.seen and m.role == 'user' %}{%- set ns.seen = true %}{%- set ns.last_user = messages|length - 1 - loop.index0 %}{%- endif %}",
  '{%- endfor %}',
  '{%- for m in messages %}',
  "{%- set content = m.content if m.content is string else '' %}",
  "{%- if m.role == 'user' %}{{- '<role>HUMAN</role>' + content + '<|role_end|>' }}",
  "{%- elif m.role == 'system' and not loop.first %}{{- '<role>SYSTEM</role>' + content + '<|role_end|>' }}",
  "{%- elif m.role == 'assistant' %}{{- '<role>ASSISTANT</role>' + content }}",
  '{%- for c in m.tool_calls or [] %}',
  "{%- if content or not loop.first %}{{- '\\n' }}{%- endif %}",
  '{%- set f = c.function if c.function else c %}',
  '{{- \'<tool_call>\\n{"name": "\' + f.name + \'", "arguments": \' }}',
  '{%- if f.arguments is string %}{{- f.arguments }}{%- else %}{{- f.arguments | tojson }}{%- endif %}',
  "{{- '}\\n</tool_call>' }}",
  '{%- endfor %}',
  "{{- '<|role_end|>' }}",
  "{%- elif m.role == 'tool' %}",
  "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}{{- '<role>OBSERVATION</role>' }}{%- endif %}",
  "{{- '\\n<tool_response>\\n' + content + '\\n</tool_response>' }}",
  "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}{{- '<|role_end|>' }}{%- endif %}",
  '{%- endif %}',
  '{%- endfor %}',
  "{%- if add_generation_prompt %}{{- '<role>ASSISTANT</role>' }}{%- endif %}",
].join('\n');

const PARAMS = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 3 }, days: { type: 'integer', minimum: 1, maximum: 3 } },
  required: ['city', 'days'],
  additionalProperties: false,
};
const TOOLS = [{ type: 'function' as const, function: { name: 'wx', parameters: PARAMS } }];

const tokenizerOf = (d: string) => {
  const json = (f: string) => JSON.parse(readFileSync(join(d, f), 'utf8')) as Record<string, unknown>;
  return new TextTokenizer({
    tokenizerJson: json('tokenizer.json'),
    tokenizerConfig: json('tokenizer_config.json'),
    modelConfig: json('config.json'),
    generationConfig: json('generation_config.json'),
  });
};

let dir: string, server: RunningServer, client: OpenAI;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dllm-llada2-tools-'));
  cpSync(LLADA2, dir, { recursive: true });
  const edit = (file: string, f: (j: any) => void) => {
    const j = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    f(j);
    writeFileSync(join(dir, file), JSON.stringify(j));
  };
  const roleEnd = { content: '<|role_end|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  edit('tokenizer.json', (t) => t.added_tokens.push({ id: ROLE_END_ID, ...roleEnd }));
  edit('tokenizer_config.json', (c) => {
    c.added_tokens_decoder[String(ROLE_END_ID)] = roleEnd;
    c.chat_template = TEMPLATE;
    c.model_max_length = 1024;
  });
  // the fixture is RoPE-only: a longer context is a config number, not new weights
  edit('config.json', (c) => (c.max_position_embeddings = 1024));
  server = await startServer({
    modelDir: dir,
    config: { port: 0, modelId: 'llada2-tiny', maxTokens: 64, defaultMaxTokens: 8 },
    threads: 1,
  });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('end of turn is <|role_end|> when generation_config names only <|endoftext|>', () => {
  const tok = tokenizerOf(dir);
  assert.equal(tok.specials.eos, 280);
  assert.equal(tok.specials.eot, ROLE_END_ID);
});

test('a conversation with calls and tool answers renders in the Bailing v2 layout, byte for byte', () => {
  const tok = tokenizerOf(dir);
  const text = tok.renderChat(
    [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Oslo?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'wx', arguments: '{"city":"Osl","days":1}' } },
          { id: 'b', type: 'function', function: { name: 'wx', arguments: '{"city":"Osl","days":2}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: 'sun' },
      { role: 'tool', tool_call_id: 'b', content: 'rain' },
    ],
    { tools: TOOLS },
  );
  const call = (d: number) => `<tool_call>\n{"name": "wx", "arguments": {"city":"Osl","days":${d}}}\n</tool_call>`;
  const expected =
    '<role>SYSTEM</role>Be brief.\n# Tools\n\nCall a function with <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>. Functions:\n<tools>\n' +
    // tojson as transformers renders it (Python json.dumps separators ', ' and ': ')
    '{"type": "function", "function": {"name": "wx", "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 3}, "days": {"type": "integer", "minimum": 1, "maximum": 3}}, "required": ["city", "days"], "additionalProperties": false}}}' +
    '\n</tools>\ndetailed thinking off<|role_end|>' +
    '<role>HUMAN</role>Oslo?<|role_end|>' +
    `<role>ASSISTANT</role>${call(1)}\n${call(2)}<|role_end|>` +
    '<role>OBSERVATION</role>\n<tool_response>\nsun\n</tool_response>\n<tool_response>\nrain\n</tool_response><|role_end|>' +
    '<role>ASSISTANT</role>';
  assert.equal(text, expected);
  const ids = tok.encodeChat([{ role: 'user', content: 'hi' }]);
  assert.equal(ids.filter((i) => i === ROLE_END_ID).length, 2, 'the template makes <|role_end|> a single special token');
});

test('a named tool_choice on the LLaDA2 model: the pinned call validates (several seeds), history with tool turns accepted', async () => {
  const valid = new Ajv({ strict: false }).compile(PARAMS);
  for (const seed of [0, 1, 2]) {
    const r = await client.chat.completions.create({
      model: 'llada2-tiny',
      messages: [
        { role: 'user', content: 'Oslo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'a', type: 'function', function: { name: 'wx', arguments: '{"city":"Osl","days":1}' } }],
        },
        { role: 'tool', tool_call_id: 'a', content: 'sun' },
        { role: 'user', content: 'and tomorrow?' },
      ],
      tools: TOOLS,
      tool_choice: { type: 'function', function: { name: 'wx' } },
      temperature: 1,
      seed,
    });
    const c = r.choices[0]!;
    assert.equal(c.finish_reason, 'tool_calls', `seed ${seed}`);
    const call = c.message.tool_calls![0]!;
    assert.ok(call.type === 'function' && call.function.name === 'wx');
    const args = JSON.parse(call.function.arguments);
    assert.ok(valid(args), `seed ${seed}: ${call.function.arguments} ${JSON.stringify(valid.errors)}`);
  }
});

test('LLaDA2 output read back: calls after text, separated by newlines, up to <|role_end|>', () => {
  const out = extractToolCalls(
    'Checking both.\n<tool_call>\n{"name": "wx", "arguments": {"city": "Osl", "days": 1}}\n</tool_call>\n<tool_call>\n{"name": "wx", "arguments": "{\\"city\\": \\"Rom\\", \\"days\\": 2}"}\n</tool_call>',
    TOOLS,
  );
  assert.deepEqual(
    out.calls.map((c) => JSON.parse(c.function.arguments)),
    [
      { city: 'Osl', days: 1 },
      { city: 'Rom', days: 2 },
    ],
  );
  assert.equal(out.content, 'Checking both.');
});

test('the GLM-4.5 / Ling-3 key/value form: values typed by the parameter schema (a string stays raw)', () => {
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'wx', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } },
    },
    { type: 'function' as const, function: { name: 'now', parameters: { type: 'object', properties: {} } } },
  ];
  const out = extractToolCalls(
    'ok\n<tool_call>wx\n<arg_key>city</arg_key>\n<arg_value>123</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call><tool_call>now</tool_call>',
    tools,
  );
  assert.deepEqual(
    out.calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    [
      ['wx', { city: '123', days: 2 }],
      ['now', {}],
    ],
  );
  assert.equal(out.content, 'ok');
  const broken = extractToolCalls('<tool_call>wx\n<arg_key>city</arg_key> no value</tool_call>', tools);
  assert.equal(broken.calls.length, 0, 'a malformed block stays text');
  assert.match(broken.content!, /no value/);
});

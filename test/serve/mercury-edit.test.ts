// Mercury Edit's endpoints with Inception's request shapes (round2-reference.md §5): apply-edit merges the
// update snippet by its "... existing code ..." markers; next-edit rewrites the <|code_to_edit|> region by
// diffusion infilling and answers it in ``` fences; both as chat completions (the openai client reads them),
// streamed too; /v1/models?endpoint= lists the models per endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdit, parseNextEdit } from '../../src/serve/edit.js';
import type { RunningServer } from '../../src/serve/index.js';
import { post, readSse, startFixture } from './helpers.js';

let server: RunningServer;
before(async () => {
  server = await startFixture({ maxTokens: 64 });
});
after(async () => {
  await server.close();
});

const ORIGINAL = 'def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b';
const SNIPPET = '// ... existing code ...\ndef sub(a, b):\n    """a minus b"""\n    return a - b\n// ... existing code ...';
const APPLY = `<|original_code|>\n${ORIGINAL}\n<|/original_code|>\n\n<|update_snippet|>\n${SNIPPET}\n<|/update_snippet|>`;

test('apply-edit merge: the snippet replaces its anchored span, markers keep the rest', () => {
  const merged = applyEdit(APPLY, 'messages[0].content');
  assert.equal(merged, ORIGINAL.replace('def sub(a, b):\n', 'def sub(a, b):\n    """a minus b"""\n'));
  const whole = applyEdit('<|original_code|>\nx = 1\n<|/original_code|>\n\n<|update_snippet|>\nx = 2\n<|/update_snippet|>', 'm');
  assert.equal(whole, 'x = 2', 'no markers: the snippet is the new code');
  assert.throws(() => applyEdit('just text', 'messages[0].content'), /original_code/);
});

test('POST /v1/apply/completions answers choices[0].message.content with the merged code, streamed too', async () => {
  const body = { model: 'llada-tiny', messages: [{ role: 'user', content: APPLY }], max_tokens: 64 };
  const r = await post(`${server.url}/v1/apply/completions`, body);
  const j = (await r.json()) as { object: string; choices: Array<{ message: { content: string }; finish_reason: string }> };
  assert.equal(r.status, 200, JSON.stringify(j));
  assert.equal(j.object, 'chat.completion');
  assert.match(j.choices[0]!.message.content, /"""a minus b"""/);
  const s = await post(`${server.url}/v1/apply/completions`, { ...body, stream: true });
  const events = await readSse(s);
  const text = events
    .filter((e) => e !== '[DONE]')
    .map((e) => (e as any).choices[0]?.delta?.content ?? '')
    .join('');
  assert.equal(text, j.choices[0]!.message.content);
  assert.equal(events.at(-1), '[DONE]');
});

const NEXT = [
  '<|recently_viewed_code_snippets|>\n<|recently_viewed_code_snippet|>\ncode_snippet_file_path: util.py\nimport os\n<|/recently_viewed_code_snippet|>\n<|/recently_viewed_code_snippets|>',
  '<|current_file_content|>\ncurrent_file_path: main.py\ndef add(a, b):\n<|code_to_edit|>\n    return a +<|cursor|> b\n<|/code_to_edit|>\nprint(add(1, 2))\n<|/current_file_content|>',
  '<|edit_diff_history|>\n--- main.py\n+++ main.py\n@@ -1 +1 @@\n-def add(a,b):\n+def add(a, b):\n<|/edit_diff_history|>',
].join('\n\n');

test('next-edit parse: the region without its cursor, the code around it, the snippets as context', () => {
  const e = parseNextEdit(NEXT, 'messages[0].content');
  assert.equal(e.path, 'main.py');
  assert.equal(e.above, 'def add(a, b):\n');
  assert.equal(e.region, '    return a + b');
  assert.equal(e.below, '\nprint(add(1, 2))');
  assert.equal(e.context, '# util.py\nimport os\n');
});

test('POST /v1/edit/completions (Continue sends a system prompt first): a fenced region, as a chat completion', async () => {
  const body = {
    model: 'llada-tiny',
    messages: [
      { role: 'system', content: 'You are Mercury.' },
      { role: 'user', content: NEXT },
    ],
    max_tokens: 32,
  };
  const r = await post(`${server.url}/v1/edit/completions`, body);
  const j = (await r.json()) as { choices: Array<{ message: { content: string } }> };
  assert.equal(r.status, 200, JSON.stringify(j));
  const c = j.choices[0]!.message.content;
  assert.ok(c.startsWith('```\n') && c.endsWith('\n```'), JSON.stringify(c));
  // Continue's parser: message.slice(indexOf("```\n") + 4, lastIndexOf("\n\n```")) — needs the fences found
  assert.ok(c.indexOf('```\n') === 0 && c.lastIndexOf('```') > 3);
  const s = await post(`${server.url}/v1/edit/completions`, { ...body, stream: true });
  const text = (await readSse(s))
    .filter((e) => e !== '[DONE]')
    .map((e) => (e as any).choices[0]?.delta?.content ?? '')
    .join('');
  assert.ok(text.startsWith('```\n') && text.endsWith('\n```'), JSON.stringify(text));
  const bad = await post(`${server.url}/v1/edit/completions`, { messages: [{ role: 'user', content: 'no sections' }] });
  assert.equal(bad.status, 400);
});

test('/v1/models?endpoint= lists the models per endpoint', async () => {
  const all = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: Array<{ id: string; meta: { endpoints: string[] } }> };
  assert.ok(all.data[0]!.meta.endpoints.includes('edit'));
  const edit = (await (await fetch(`${server.url}/v1/models?endpoint=edit`)).json()) as { data: unknown[] };
  assert.equal(edit.data.length, 1);
  assert.equal((await fetch(`${server.url}/v1/models?endpoint=nope`)).status, 400);
});

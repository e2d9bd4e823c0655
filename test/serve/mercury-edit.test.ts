// Mercury Edit's endpoints with Inception's request shapes (round2-reference.md §5): apply-edit merges the
// update snippet by its "... existing code ..." markers; next-edit rewrites the <|code_to_edit|> region by
// diffusion infilling and answers it in ``` fences; both as chat completions (the openai client reads them),
// streamed too; /v1/models?endpoint= lists the models per endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { applyEdit, MAX_PLACEMENTS, parseNextEdit } from '../../src/serve/edit.js';
import { placementScorer } from '../../src/serve/placement.js';
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

test('apply-edit merge: the snippet replaces its anchored span, markers keep the rest', async () => {
  let asked = 0;
  const merged = await applyEdit(APPLY, 'messages[0].content', async () => ++asked);
  assert.equal(merged.text, ORIGINAL.replace('def sub(a, b):\n', 'def sub(a, b):\n    """a minus b"""\n'));
  assert.equal(asked, 0, 'an anchored chunk never asks the model');
  const whole = await applyEdit('<|original_code|>\nx = 1\n<|/original_code|>\n\n<|update_snippet|>\nx = 2\n<|/update_snippet|>', 'm');
  assert.equal(whole.text, 'x = 2', 'no markers: the snippet is the new code');
  await assert.rejects(applyEdit('just text', 'messages[0].content'), /original_code/);
});

// a chunk of new code whose lines are nowhere in the original: only a model can say where it goes
const NEW_CHUNK = 'def div(a, b):\n    return a / b';
const UNANCHORED = `<|original_code|>\n${ORIGINAL}\n<|/original_code|>\n\n<|update_snippet|>\n// ... existing code ...\n${NEW_CHUNK}\n// ... existing code ...\n<|/update_snippet|>`;
const ORIG_LINES = ORIGINAL.split('\n');
/** the original with the new chunk before its line p */
const placedAt = (p: number) => [...ORIG_LINES.slice(0, p), ...NEW_CHUNK.split('\n'), ...ORIG_LINES.slice(p)].join('\n');

test('apply-edit: a chunk that anchors nowhere goes where the scorer says, tried at every line boundary', async () => {
  const calls: Array<{ before: string; span: string; after: string }> = [];
  const merged = await applyEdit(UNANCHORED, 'm', async (before, span, after) => {
    calls.push({ before, span, after });
    return before.endsWith('return a - b') ? 0 : -1; // right after sub's body
  });
  assert.equal(merged.text, placedAt(ORIG_LINES.indexOf('    return a - b') + 1));
  assert.equal(merged.placed, 1);
  assert.equal(calls.length, ORIG_LINES.length + 1, `every boundary of the ${ORIG_LINES.length} lines is tried`);
  assert.ok(
    calls.every((c) => c.span === NEW_CHUNK),
    'the span scored is the chunk',
  );
  assert.equal((await applyEdit(UNANCHORED, 'm')).text, placedAt(0), 'without a model: right after the code placed so far');
  // a long original: at most MAX_PLACEMENTS places, spread from the first boundary to the last
  const long = Array.from({ length: 40 }, (_, i) => `x${i} = ${i}`).join('\n');
  const seen: number[] = [];
  await applyEdit(UNANCHORED.replace(ORIGINAL, long), 'm', async (before) => {
    seen.push(before === '' ? 0 : before.split('\n').length);
    return 0;
  });
  assert.equal(seen.length, MAX_PLACEMENTS);
  assert.deepEqual([seen[0], seen.at(-1)], [0, 40]);
});

test("POST /v1/apply/completions places an unanchored chunk at the served model's best-scoring boundary", async () => {
  const score = placementScorer(server.engine.served, server.engine.kind);
  const scores: number[] = [];
  for (let p = 0; p <= ORIG_LINES.length; p++)
    scores.push(await score(ORIG_LINES.slice(0, p).join('\n'), NEW_CHUNK, ORIG_LINES.slice(p).join('\n')));
  assert.ok(new Set(scores).size > 1, `the model scores the places alike: ${scores}`);
  const best = scores.indexOf(Math.max(...scores));
  // while another request decodes: the scores run between its steps, one per step
  const engine = server.engine,
    log: string[] = [];
  const observer = engine.observer,
    exclusive = engine.exclusive.bind(engine);
  let started!: () => void;
  const decoding = new Promise<void>((r) => (started = r));
  engine.observer = {
    onCall: (m, n) => {
      log.push('step');
      started();
      observer?.onCall(m, n);
    },
    onFinish: (m, j, o) => observer?.onFinish(m, j, o),
    onCancel: (m) => observer?.onCancel(m),
  };
  engine.exclusive = (fn) => exclusive(() => (log.push('score'), fn()));
  try {
    const busy = post(`${server.url}/v1/completions`, {
      model: 'llada-tiny',
      prompt: 'hello',
      max_tokens: 64,
      decoder: 'fixed',
      steps: 64,
    });
    await decoding;
    const r = await post(`${server.url}/v1/apply/completions`, { model: 'llada-tiny', messages: [{ role: 'user', content: UNANCHORED }] });
    const j = (await r.json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(r.status, 200, JSON.stringify(j));
    assert.equal(j.choices[0]!.message.content, placedAt(best), `scores by boundary: ${scores.map((x) => x.toFixed(2))}`);
    assert.equal((await busy).status, 200);
  } finally {
    engine.observer = observer;
    engine.exclusive = exclusive;
  }
  const scored = log.filter((x) => x === 'score').length;
  assert.equal(scored, ORIG_LINES.length + 1, 'one score per boundary');
  const first = log.indexOf('score'),
    last = log.lastIndexOf('score');
  assert.ok(log.slice(first, last).includes('step'), `the decoding request stepped while the scores ran: ${log.join(' ')}`);
  assert.ok(
    !log.slice(first, last).join(' ').includes('score score'),
    `two scores ran back to back while a request decoded: ${log.join(' ')}`,
  );
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

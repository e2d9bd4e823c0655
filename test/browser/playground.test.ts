// End to end in a real browser: playwright-core drives Debian's chromium (.ci/run installs it with apt-get)
// against a live server with a diffusion model (the LLaDA fixture, with a chat template) and an AR model (the
// llama fixture). The playground talks to the public API only; these tests click through it as a user would
// and check what it sends (the request bodies) and what it shows: the race (masked cells turning into tokens,
// the winner and the speed ratios), a chat exchange, the stopped state, an API error in words, the infill
// example's suffix, and the layout at 1200 px and 420 px (screenshots under test-output/).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { FIXTURE } from '../serve/helpers.js';

const LLAMA = fileURLToPath(new URL('../../../test/fixtures/llama/', import.meta.url));
const OUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));
const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));

let server: RunningServer;
let browser: Browser;

before(async () => {
  assert.ok(CHROMIUM, "no chromium found: install Debian's (apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH");
  server = await startServer({ modelDir: [FIXTURE, LLAMA], config: { port: 0, maxTokens: 64, defaultMaxTokens: 16 }, threads: 1 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

interface Opened {
  page: Page;
  errors: string[];
  bodies: Array<{ url: string; body: Record<string, any> }>;
}

/** a fresh page at this width, the models loaded; it records page errors and every generation request's body */
async function open(width: number, height = 800): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width, height } });
  const errors: string[] = [],
    bodies: Opened['bodies'] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (r.method() === 'POST') bodies.push({ url: new URL(r.url()).pathname, body: r.postDataJSON() });
  });
  await page.goto(server.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
  return { page, errors, bodies };
}

const attr = async (page: Page, sel: string, name: string) => Number(await page.locator(sel).getAttribute(name));
const pane = (model: string, scope = '#panes') => `${scope} .pane[data-model="${model}"]`;

function shot(page: Page, name: string) {
  mkdirSync(OUT, { recursive: true });
  return page.screenshot({ path: OUT + name, fullPage: true });
}

/** fixed schedule, 24 tokens in 24 steps: exactly one token per step */
async function fixed24(page: Page): Promise<void> {
  await page.selectOption('#decoder', 'fixed');
  for (const [id, v] of [
    ['#max_tokens', '24'],
    ['#blockLength', '24'],
    ['#steps', '24'],
  ] as const)
    await page.fill(id, v);
}

test('the playground races diffusion against AR: masked cells turn into tokens, and the winner and the speed ratio are shown', async () => {
  const { page, errors, bodies } = await open(1200);
  assert.equal(await page.inputValue('#model'), 'llada', 'the diffusion model is picked first');
  assert.equal(await page.isChecked('#race'), true, 'race mode is on when an AR model is served');
  assert.equal(await page.inputValue('#twin'), 'llama');
  await page.fill('#prompt', 'def add(a, b):');
  await fixed24(page);
  await page.click('#go');
  await page.waitForSelector(pane('llada') + '[data-done="true"]', { timeout: 30_000 });
  await page.waitForSelector(pane('llama') + '[data-done="true"]', { timeout: 30_000 });

  const diff = pane('llada'),
    canvas = diff + ' .canvas';
  assert.equal(await attr(page, canvas, 'data-masked'), 0, 'the last frame has no masked cells');
  assert.ok((await attr(page, canvas, 'data-tokens')) > 0, 'the last frame shows tokens');
  const frames = (await attr(page, diff + ' .replay', 'max')) + 1;
  assert.ok(frames >= 2, `${frames} frames`);
  await page.locator(diff + ' .replay').fill('0'); // replay the first step
  assert.equal(await attr(page, canvas, 'data-frame'), 0);
  assert.equal(await attr(page, canvas, 'data-tokens'), 1, 'one token after the first step of a 24-step fixed schedule');
  assert.equal(await attr(page, canvas, 'data-masked'), 23, 'the rest still masked');
  assert.equal(await page.locator(canvas + ' .cell.m').count(), 23, 'every masked cell is drawn as a placeholder');
  assert.equal(await page.locator(canvas + ' .cell.new').count(), 1, 'the new token is highlighted');
  assert.match((await page.locator(canvas + ' .cell.new').getAttribute('style')) ?? '', /--h:\d+/, 'coloured by its confidence');

  // the race result: a winner by tokens/s, the ratio, and tokens/s and tokens per forward for each model
  const banner = page.locator('#banner');
  assert.equal(await banner.isVisible(), true);
  const winner = await banner.getAttribute('data-winner');
  assert.ok(winner === 'llada' || winner === 'llama', `winner ${winner}`);
  assert.ok(Number(await banner.getAttribute('data-ratio')) >= 1);
  const text = await banner.innerText();
  assert.match(text, new RegExp(`${winner} wins: [\\d.]+× the tokens per second of ${winner === 'llada' ? 'llama' : 'llada'}`));
  assert.match(text, /tokens \/ s/);
  assert.match(text, /tokens \/ forward/);
  assert.equal(await page.locator(pane(winner!) + '.winner').count(), 1, 'the winning pane is marked');
  assert.match(await page.locator(diff + ' .stats').innerText(), /tok\/s\s+[\d.]+[\s\S]*tokens\/forward\s+[\d.]+[\s\S]*forwards\s+24/);
  assert.equal(await page.locator(pane('llama') + ' .canvas').getAttribute('data-masked'), '0', 'the AR pane has no masks');

  // what was sent: the diffusion model gets the decoder knobs, the AR model only the common ones
  const sent = bodies.filter((b) => b.url === '/v1/completions');
  const d = sent.find((b) => b.body['model'] === 'llada')!.body,
    a = sent.find((b) => b.body['model'] === 'llama')!.body;
  assert.deepEqual(
    { ...d },
    {
      prompt: 'def add(a, b):',
      max_tokens: 24,
      temperature: 0,
      seed: 0,
      decoder: 'fixed',
      blockLength: 24,
      steps: 24,
      model: 'llada',
      stream: true,
      diffusing: true,
    },
  );
  assert.deepEqual(
    { ...a },
    { prompt: 'def add(a, b):', max_tokens: 24, temperature: 0, seed: 0, model: 'llama', stream: true, diffusing: true },
  );

  await page.locator(diff + ' .replay').fill(String(Math.floor(frames / 2))); // the screenshot shows noise resolving
  await shot(page, 'playground-1200.png');
  assert.ok(existsSync(OUT + 'playground-1200.png'));
  assert.deepEqual(errors, [], 'no errors in the page');
  await page.close();
});

test('the playground fits a 420 px screen: one column, nothing wider than the viewport', async () => {
  const { page, errors } = await open(420, 900);
  assert.equal(await page.locator('#settings').getAttribute('open'), null, 'the settings start folded on a phone');
  await page.click('#settings summary');
  await fixed24(page);
  await page.click('#settings summary');
  await page.click('#go');
  await page.waitForSelector('#banner:not([hidden])', { timeout: 30_000 });
  const [a, b] = await page.locator('#panes .pane').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().toJSON()));
  assert.ok(a && b && b.top >= a.bottom, 'the panes are stacked');
  assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 420, 'no horizontal scrolling');
  await page.locator(pane('llada') + ' .replay').fill('10');
  await shot(page, 'playground-420.png');
  assert.ok(existsSync(OUT + 'playground-420.png'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('the chat tab talks to /v1/chat/completions through the chat template and keeps the conversation', async () => {
  const { page, errors, bodies } = await open(1200);
  await page.click('.tabs button[data-tab="chat"]');
  assert.equal(await page.innerText('#go'), 'Send');
  await page.fill('#max_tokens', '8');
  await page.fill('#message', 'def add(a, b):');
  await page.click('#go');
  const chat = (m: string) => pane(m, '#chat-panes');
  await page.waitForSelector(chat('llada') + '[data-done="true"]', { timeout: 30_000 });
  await page.waitForSelector(chat('llama') + '[data-done="true"]', { timeout: 30_000 });
  assert.equal(await page.inputValue('#message'), '', 'the box is cleared once sent');
  assert.equal(await page.locator(chat('llada') + ' .turn.user').innerText(), 'def add(a, b):');
  assert.equal(await attr(page, chat('llada') + ' .canvas', 'data-masked'), 0);
  assert.ok((await attr(page, chat('llada') + ' .canvas', 'data-tokens')) > 0, 'the answer is drawn cell by cell');
  const first = bodies.filter((b) => b.url === '/v1/chat/completions');
  assert.equal(first.length, 2, 'both models answer (race)');
  assert.deepEqual(first[0]!.body['messages'], [{ role: 'user', content: 'def add(a, b):' }]);
  assert.equal(first[0]!.body['stream'], true);
  assert.equal(first[0]!.body['diffusing'], true);

  // the second turn carries the first answer, model by model, and the system prompt
  await page.fill('#system', 'Python 3');
  await page.fill('#message', 'def sub(a, b):');
  await page.click('#go');
  await page.waitForFunction(
    () =>
      document.querySelectorAll('#chat-panes .turn.user').length === 4 &&
      document.querySelectorAll('#chat-panes .pane[data-done="true"]').length === 2,
    null,
    { timeout: 30_000 },
  );
  const second = bodies.filter((b) => b.url === '/v1/chat/completions').slice(2);
  const llada = second.find((b) => b.body['model'] === 'llada')!.body['messages'] as Array<{ role: string; content: string }>;
  assert.deepEqual(
    llada.map((m) => m.role),
    ['system', 'user', 'assistant', 'user'],
  );
  assert.equal(llada[0]!.content, 'Python 3');
  assert.equal(llada[3]!.content, 'def sub(a, b):');
  assert.equal(await page.locator('#chat-panes .turn.assistant').count(), 4);
  await shot(page, 'playground-chat-1200.png');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a JSON schema in the chat tab: the skeleton is pinned on the diffusion canvas (dashed cells), both answers validate', async () => {
  const { page, errors, bodies } = await open(1200);
  await page.click('.tabs button[data-tab="chat"]');
  const schema = {
    type: 'object',
    properties: { n: { type: 'integer', minimum: 0, maximum: 99 }, ok: { type: 'boolean' } },
    required: ['n', 'ok'],
    additionalProperties: false,
  };
  await page.fill('#max_tokens', '40');
  await page.click('details.schema summary');
  await page.fill('#schema', JSON.stringify(schema));
  await page.fill('#message', 'a record');
  await page.click('#go');
  const chat = (m: string) => pane(m, '#chat-panes');
  for (const m of ['llada', 'llama']) {
    await page.waitForSelector(chat(m) + '[data-done="true"]', { timeout: 30_000 });
    const text = (await page.locator(chat(m)).getAttribute('data-text'))!;
    const v = JSON.parse(text) as { n: number; ok: boolean };
    assert.ok(Number.isInteger(v.n) && v.n >= 0 && v.n <= 99 && typeof v.ok === 'boolean', `${m}: ${text}`);
  }
  const sent = bodies.filter((b) => b.url === '/v1/chat/completions');
  assert.deepEqual(sent[0]!.body['response_format'], { type: 'json_schema', json_schema: { name: 'playground', schema, strict: true } });
  // the first frame of the diffusion answer, replayed: braces, keys and separators pinned before any step
  await page.locator(chat('llada') + ' .replay').evaluate((el: HTMLInputElement) => {
    el.value = '0';
    el.dispatchEvent(new Event('input'));
  });
  const pinned = await page.locator(chat('llada') + ' .canvas .cell.pin').allInnerTexts();
  assert.ok(pinned.join('').includes('"n": '), `pinned cells: ${JSON.stringify(pinned)}`);
  await shot(page, 'playground-schema-1200.png');
  // a schema that does not parse is refused in the page, before any request
  await page.fill('#schema', '{"type":');
  await page.fill('#message', 'again');
  await page.click('#go');
  assert.equal(await page.getAttribute('#schema', 'aria-invalid'), 'true');
  assert.match(await page.innerText('#status'), /does not parse/);
  assert.equal(bodies.filter((b) => b.url === '/v1/chat/completions').length, 2);
  assert.deepEqual(errors, []);
  await page.close();
});

test('Stop aborts the stream and the pane says it stopped, its masked cells still showing', async () => {
  const { page, errors } = await open(1200);
  await page.uncheck('#race');
  await page.selectOption('#decoder', 'fixed');
  for (const [id, v] of [
    ['#max_tokens', '64'],
    ['#blockLength', '64'],
    ['#steps', '64'],
  ] as const)
    await page.fill(id, v);
  await page.fill('#prompt', 'x');
  // a slow link (about 8 KB/s), so the 64 frames take seconds to arrive and Stop lands in the middle
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: 8_000, uploadThroughput: -1 });
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(r.failure()?.errorText ?? ''));
  await page.click('#go');
  await page.waitForSelector(pane('llada') + '[data-state="running"]', { timeout: 30_000 });
  assert.equal(await page.isEnabled('#stop'), true);
  await page.click('#stop');
  await page.waitForSelector(pane('llada') + '[data-state="stopped"]', { timeout: 10_000 });
  assert.equal(await page.innerText(pane('llada') + ' .pill'), 'stopped');
  assert.match(
    await page.innerText(pane('llada') + ' .note'),
    /^Stopped\s*after \d+ steps?: \d+ of 64 tokens decided, the rest still masked\.$/,
  );
  assert.equal(await page.innerText('#status'), 'stopped');
  assert.ok((await attr(page, pane('llada') + ' .canvas', 'data-masked')) > 0, 'the masked cells stay on screen');
  assert.equal(await page.isEnabled('#go'), true);
  assert.equal(await page.isEnabled('#stop'), false);
  assert.equal(await page.locator(pane('llada') + '[data-done]').count(), 0);
  assert.deepEqual(failed, ['net::ERR_ABORTED'], 'the fetch was aborted');
  assert.equal(await page.isVisible('#banner'), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('an API error is shown in words, and the knob it names is marked', async () => {
  const { page, errors } = await open(1200);
  await page.fill('#threshold', '1.5'); // τ must be in (0, 1]
  await page.click('#go');
  await page.waitForSelector(pane('llada') + '[data-state="error"]', { timeout: 30_000 });
  const note = await page.innerText(pane('llada') + ' .note');
  assert.match(
    note,
    /^The server rejected the request\s*"threshold" must be in \(0, 1\], got 1\.5\s*field threshold · invalid_value · HTTP 400$/,
  );
  assert.equal(await page.getAttribute('#threshold', 'aria-invalid'), 'true');
  assert.equal(await page.innerText(pane('llada') + ' .pill'), 'error');
  await page.waitForSelector(pane('llama') + '[data-done="true"]', { timeout: 30_000 }); // τ is not an AR knob
  assert.equal(await page.isVisible('#banner'), false, 'no winner when one side failed');
  await page.fill('#threshold', '0.9');
  assert.equal(await page.getAttribute('#threshold', 'aria-invalid'), null, 'editing the knob clears the mark');
  assert.deepEqual(errors, []);
  await page.close();
});

test("the infill example keeps its suffix's leading newline, in the box and in the request", async () => {
  const { page, errors, bodies } = await open(1200);
  await page.click('.tabs button[data-tab="infill"]');
  assert.equal(await page.inputValue('#prefix'), 'def is_even(n):\n    ');
  assert.equal(await page.inputValue('#suffix'), '\n    return result');
  await page.fill('#max_tokens', '8');
  await page.click('#go');
  await page.waitForSelector(pane('llada') + '[data-done="true"]', { timeout: 30_000 });
  await page.waitForSelector(pane('llama') + '[data-done="true"]', { timeout: 30_000 });
  const sent = bodies.filter((b) => b.url === '/v1/completions');
  const d = sent.find((b) => b.body['model'] === 'llada')!.body,
    a = sent.find((b) => b.body['model'] === 'llama')!.body;
  assert.equal(d['prompt'], 'def is_even(n):\n    ');
  assert.equal(d['suffix'], '\n    return result', 'the suffix starts with its newline');
  assert.equal(a['suffix'], undefined, 'the AR model only continues the prefix');
  assert.match(await page.innerText(pane('llada') + ' .canvas'), /\n {4}return result$/, 'the canvas shows the suffix after the middle');
  assert.deepEqual(errors, []);
  await page.close();
});

test('every knob says in one line what it does; the decoder shows only the knobs it reads, with the defaults it derives', async () => {
  const { page, errors } = await open(1200);
  const lines = await page.$$eval('.knob', (els) => els.map((e) => (e.querySelector('p')?.textContent ?? '').trim()));
  assert.ok(lines.length >= 8, `only ${lines.length} knobs found`);
  for (const l of lines) assert.ok(l.length > 10 && l.length < 200 && !l.includes('\n'), `a knob's explanation is not one line: "${l}"`);
  const shown = async () =>
    page.$$eval('.knob[data-k]', (els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => (e as HTMLElement).dataset['k']));
  await page.selectOption('#decoder', 'threshold');
  assert.ok((await shown()).includes('threshold') && !(await shown()).includes('factor') && !(await shown()).includes('steps'));
  await page.selectOption('#decoder', 'fixed');
  assert.ok((await shown()).includes('steps') && !(await shown()).includes('threshold'));
  await page.selectOption('#decoder', 'factor');
  assert.ok((await shown()).includes('factor') && !(await shown()).includes('threshold'));
  assert.ok(((await page.textContent('#decoder-info')) ?? '').length > 10, 'the decoder line explains the decoder');
  // coupled defaults: the placeholders follow max tokens (32 divides 96; 40 is its own block)
  await page.selectOption('#decoder', 'fixed');
  await page.fill('#max_tokens', '96');
  await page.dispatchEvent('#max_tokens', 'input');
  assert.equal(await page.getAttribute('#blockLength', 'placeholder'), 'auto (32)');
  assert.equal(await page.getAttribute('#steps', 'placeholder'), 'auto (96)');
  await page.fill('#max_tokens', '40');
  await page.dispatchEvent('#max_tokens', 'input');
  assert.equal(await page.getAttribute('#blockLength', 'placeholder'), 'auto (40)');
  assert.deepEqual(errors, []);
  await page.close();
});

test('joint_threshold (LLaDA2.1 edits) in the playground: its knobs, its default τ, the fields it sends, a finished canvas', async () => {
  const { page, errors, bodies } = await open(1200);
  const shown = async () =>
    page.$$eval('.knob[data-k]', (els) => els.filter((e) => !(e as HTMLElement).hidden).map((e) => (e as HTMLElement).dataset['k']));
  await page.selectOption('#decoder', 'joint_threshold');
  const knobs = await shown();
  for (const k of ['block', 'threshold', 'editThreshold', 'maxPostEditSteps']) assert.ok(knobs.includes(k), `${k} hidden: ${knobs}`);
  assert.ok(!knobs.includes('steps') && !knobs.includes('factor'), `knobs it does not read are shown: ${knobs}`);
  assert.equal(await page.getAttribute('#threshold', 'placeholder'), '0.5', "JointThreshold's own default τ");
  await page.uncheck('#race');
  await page.fill('#prompt', 'def add(a, b):');
  for (const [id, v] of [
    ['#max_tokens', '16'],
    ['#blockLength', '8'],
    ['#editThreshold', '0.3'],
    ['#maxPostEditSteps', '2'],
  ] as const)
    await page.fill(id, v);
  await page.click('#go');
  await page.waitForSelector(pane('llada') + '[data-done="true"]', { timeout: 30_000 });
  const sent = bodies.find((b) => b.body['decoder'] === 'joint_threshold')?.body;
  assert.ok(sent, `no joint_threshold request among ${JSON.stringify(bodies)}`);
  assert.equal(sent['editThreshold'], 0.3);
  assert.equal(sent['maxPostEditSteps'], 2);
  assert.equal(sent['steps'], undefined, 'steps is not a knob of joint_threshold');
  assert.equal(await attr(page, pane('llada') + ' .canvas', 'data-masked'), 0, 'no masked cell left');
  assert.deepEqual(errors, []);
  await page.close();
});

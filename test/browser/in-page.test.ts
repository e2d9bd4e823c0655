// The models running in the page (issue 16): playwright-core drives Debian's chromium against `dllm serve`
// with the shipped models (dllm-code-mini and its AR twin, 18 MB each). `/?engine=browser` fetches the bundle
// (/web/dllm.js) and the models' files (/model/<id>/…) and decodes in the page, threaded on Web Workers (the
// server's COOP/COEP headers make it cross-origin isolated). At temperature 0 every answer must equal the
// server's for the same prompt and settings, and no API request may happen while the page decodes. The
// README's "In the browser" calls run as written on a page that is not isolated: the single-thread fallback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/serve/index.js';

const MODELS = ['dllm-code-mini', 'dllm-code-mini-ar'].map((m) => fileURLToPath(new URL(`../../../models/${m}/`, import.meta.url)));
const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const WEB = fileURLToPath(new URL('../../web/dllm.js', import.meta.url)); // build/web/
const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
const API = /^\/(v1\/|completion|infill)/;

let server: RunningServer;
let browser: Browser;

before(async () => {
  assert.ok(CHROMIUM, "no chromium found: install Debian's (apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH");
  assert.ok(existsSync(WEB), `${WEB} is missing: the browser bundle is built by \`npm run build\` (scripts/build-web.mjs)`);
  for (const m of MODELS) assert.ok(existsSync(m + 'model.safetensors'), `${m} is missing its weights`);
  // the wasm backend: the page runs the same kernels, so greedy decoding must pick the same tokens
  server = await startServer({ modelDir: MODELS, backend: 'wasm', threads: 1, config: { port: 0, maxTokens: 64, defaultMaxTokens: 32 } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

/** the server's answer for the same request the playground would send */
async function served(path: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const j = (await res.json()) as { choices: Array<{ text?: string; message?: { content: string } }> };
  assert.equal(res.status, 200, JSON.stringify(j));
  return j.choices[0]!.text ?? j.choices[0]!.message!.content;
}

/** API requests the page makes from now on */
function watchApi(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (API.test(p)) seen.push(`${r.method()} ${p}`);
  });
  return seen;
}

const pane = (model: string, scope: string) => `${scope} .pane[data-model="${model}"]`;
const KNOBS = { max_tokens: 32, temperature: 0, seed: 0 };

test("/?engine=browser decodes in the page, threaded, with no API request, token for token the server's text", async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  let workers = 0;
  page.on('worker', () => {
    workers++;
  });
  await page.goto(server.url + '/?engine=browser');
  await page.waitForSelector('body[data-engine-ready="true"]', { timeout: 60_000 });
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP + COEP make the page cross-origin isolated');
  const threads = Number(await page.getAttribute('body', 'data-threads'));
  assert.ok(threads > 1 || (await page.evaluate(() => navigator.hardwareConcurrency)) === 1, 'the kernels run on Web Workers');
  assert.equal(workers, threads - 1, "both models share one pool: the page's thread and threads − 1 workers");
  assert.match(await page.innerText('#engine-status'), /^in this page: wasm-(relaxed-)?simd, \d+ threads?$/);
  assert.equal(await page.inputValue('#engine'), 'browser');
  assert.equal(await page.isChecked('#race'), true, 'the AR twin races in the page too');

  // complete: both models, same knobs the page sends to the server in server mode (threshold decoding)
  const prompt = 'def fibonacci(n):';
  await page.fill('#prompt', prompt);
  await page.fill('#max_tokens', String(KNOBS.max_tokens));
  const api = watchApi(page);
  await page.click('#go');
  for (const m of ['dllm-code-mini', 'dllm-code-mini-ar'])
    await page.waitForSelector(pane(m, '#panes') + '[data-done="true"]', { timeout: 60_000 });
  assert.deepEqual(api, [], 'no /v1, /completion or /infill request while the page decodes');
  const diff = pane('dllm-code-mini', '#panes');
  assert.ok((await page.getAttribute(diff, 'data-text'))!.length > 0, 'the model wrote something');
  assert.equal(
    await page.getAttribute(diff, 'data-text'),
    await served('/v1/completions', { model: 'dllm-code-mini', prompt, decoder: 'threshold', ...KNOBS }),
  );
  assert.equal(
    await page.getAttribute(pane('dllm-code-mini-ar', '#panes'), 'data-text'),
    await served('/v1/completions', { model: 'dllm-code-mini-ar', prompt, ...KNOBS }),
  );
  // the same canvas animation: frames of masked cells turning into tokens, replayable
  const frames = Number(await page.getAttribute(diff + ' .replay', 'max')) + 1;
  assert.ok(frames >= 2, `${frames} frames`);
  await page.locator(diff + ' .replay').fill('0');
  assert.ok(Number(await page.getAttribute(diff + ' .canvas', 'data-masked')) > 0, 'the first frame still has masked cells');
  assert.ok((await page.locator(diff + ' .canvas .cell.m').count()) > 0, 'drawn as noise placeholders');
  assert.equal(await page.isVisible('#banner'), true, 'the race result is shown');

  // infill: the diffusion model sees the suffix, in the page as on the server
  await page.click('.tabs button[data-tab="infill"]');
  await page.uncheck('#race');
  await page.fill('#max_tokens', '16');
  await page.click('#go');
  await page.waitForSelector(diff + '[data-done="true"]', { timeout: 60_000 });
  const infill = { prompt: await page.inputValue('#prefix'), suffix: await page.inputValue('#suffix') };
  assert.equal(
    await page.getAttribute(diff, 'data-text'),
    await served('/v1/completions', { model: 'dllm-code-mini', ...infill, decoder: 'threshold', ...KNOBS, max_tokens: 16 }),
  );

  // chat: the model's chat template, in the page
  await page.click('.tabs button[data-tab="chat"]');
  await page.fill('#message', 'def is_palindrome(s):');
  await page.click('#go');
  await page.waitForSelector(pane('dllm-code-mini', '#chat-panes') + '[data-done="true"]', { timeout: 60_000 });
  assert.equal(
    await page.getAttribute(pane('dllm-code-mini', '#chat-panes'), 'data-text'),
    await served('/v1/chat/completions', {
      model: 'dllm-code-mini',
      messages: [{ role: 'user', content: 'def is_palindrome(s):' }],
      decoder: 'threshold',
      ...KNOBS,
      max_tokens: 16,
    }),
  );
  assert.deepEqual(api, [], 'still no API request: every decode ran in the page');

  // a setting the decoder refuses: said in words, the knob marked, as the server's 400 is
  await page.click('.tabs button[data-tab="complete"]');
  await page.fill('#threshold', '1.5');
  await page.click('#go');
  await page.waitForSelector(diff + '[data-state="error"]', { timeout: 60_000 });
  assert.match(
    await page.innerText(diff + ' .note'),
    /^The settings were rejected\s*"threshold" must be in \(0, 1\], got 1\.5\s*field threshold · in this page$/,
  );
  assert.equal(await page.getAttribute('#threshold', 'aria-invalid'), 'true');
  assert.deepEqual(errors, []);
  await page.close();
});

test("the README's browser example runs as written; without cross-origin isolation the kernels run on one thread", async () => {
  const page = await browser.newPage();
  const errors: string[] = [],
    logged: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => logged.push(m.text()));
  await page.goto(server.url + '/health'); // a same-origin page without COOP/COEP
  const api = watchApi(page);
  // the README's block itself, as a module script of the page
  const readme = readFileSync(README, 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('<!-- browser-example')));
  assert.ok(readme.includes('<!-- browser-example') && block, 'README.md has the browser example after its marker');
  await page.addScriptTag({ type: 'module', content: `${block[1]}\ndocument.body.dataset.readme = 'done';` });
  await page.waitForSelector('body[data-readme="done"]', { state: 'attached', timeout: 60_000 });
  assert.ok(
    logged.some((l) => /^model\.safetensors \d+ \d+$/.test(l)),
    'onProgress reported the weights',
  );
  assert.ok(
    logged.some((l) => /^\d+ /.test(l)),
    'stream() printed steps',
  );
  const got = await page.evaluate(async () => {
    // ---- as in README.md, "In the browser"
    const { loadModel } = await import('/web/dllm.js' as string);
    const lm = await loadModel('/model/dllm-code-mini/', {
      onProgress: (p: { file: string; loaded: number; total: number | null }) => console.log(p.file, p.loaded, p.total),
    });
    const { text } = await lm.complete('def fibonacci(n):', { maxTokens: 32, temperature: 0 });
    let steps = 0;
    for await (const step of lm.stream('def add(a, b):', { maxTokens: 16 })) steps += step.committed.length > 0 ? 1 : 0;
    // ----
    const out = {
      text,
      steps,
      backend: lm.backend as string,
      isolated: crossOriginIsolated,
      shared: typeof SharedArrayBuffer !== 'undefined',
    };
    lm.dispose();
    return out;
  });
  assert.equal(got.isolated, false);
  assert.equal(got.shared, false, 'no SharedArrayBuffer: the single-thread fallback');
  assert.match(got.backend, /^wasm-(relaxed-)?simd$/);
  assert.ok(got.steps > 0);
  assert.equal(
    got.text,
    await served('/v1/completions', { model: 'dllm-code-mini', prompt: 'def fibonacci(n):', max_tokens: 32, temperature: 0 }),
  );
  assert.deepEqual(api, []);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the engine switch reloads the playground in the other mode; in server mode the watcher sees the API requests', async () => {
  const page = await browser.newPage();
  await page.goto(server.url + '/');
  assert.equal(await page.inputValue('#engine'), 'server');
  await page.waitForSelector('#model option', { state: 'attached' });
  await page.fill('#max_tokens', '8');
  const api = watchApi(page);
  await page.click('#go');
  await page.waitForSelector(pane('dllm-code-mini', '#panes') + '[data-done="true"]', { timeout: 60_000 });
  assert.ok(api.includes('POST /v1/completions'), `the no-API checks above are not vacuous: ${api.join(', ')}`);
  assert.ok((await page.getAttribute(pane('dllm-code-mini', '#panes'), 'data-text')) !== null, 'server mode sets data-text too');
  await Promise.all([page.waitForURL(/\?engine=browser$/), page.selectOption('#engine', 'browser')]);
  await page.waitForSelector('body[data-engine-ready="true"]', { timeout: 60_000 });
  await page.close();
});

test('Stop ends an in-page decode between steps: the pane says it stopped, masked cells still showing', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url + '/?engine=browser');
  await page.waitForSelector('body[data-engine-ready="true"]', { timeout: 60_000 });
  await page.uncheck('#race');
  await page.selectOption('#decoder', 'fixed');
  for (const [id, v] of [
    ['#max_tokens', '64'],
    ['#blockLength', '64'],
    ['#steps', '64'],
  ] as const)
    await page.fill(id, v);
  // a slow CPU, so the 64 steps take seconds and Stop lands in the middle
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 6 });
  await page.click('#go');
  const diff = pane('dllm-code-mini', '#panes');
  await page.waitForSelector(diff + '[data-state="running"]', { timeout: 60_000 });
  await page.click('#stop');
  await page.waitForSelector(diff + '[data-state="stopped"]', { timeout: 60_000 });
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  assert.match(await page.innerText(diff + ' .note'), /^Stopped\s*after \d+ steps?: \d+ of 64 tokens decided, the rest still masked\.$/);
  assert.ok(Number(await page.getAttribute(diff + ' .canvas', 'data-masked')) > 0);
  assert.equal(await page.locator(diff + '[data-done]').count(), 0);
  assert.equal(await page.isEnabled('#go'), true);
  assert.deepEqual(errors, []);
  await page.close();
});

test("a pool worker that cannot load is reported in words within seconds (not the pool's 30 s timeout)", async () => {
  const page = await browser.newPage();
  await page.route('**/web/dllm-pool-worker.js', (r) => r.fulfill({ status: 404, body: 'gone' }));
  const t0 = Date.now();
  await page.goto(server.url + '/?engine=browser');
  await page.waitForSelector('#status .fatal', { timeout: 20_000 });
  assert.match(
    await page.innerText('#status'),
    /^Could not load the model into the page: kernels: a pool worker failed: pool worker \d+ failed to start/,
  );
  assert.ok(Date.now() - t0 < 20_000);
  await page.close();
});

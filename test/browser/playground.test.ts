// End to end in a real browser: playwright-core drives Debian's chromium (.ci/run installs it with apt-get)
// against a live server with a diffusion model and an AR model. The test loads the playground, races the
// two on one prompt, checks that the diffusion pane went from masked cells to tokens (first frame: masks
// and one token; last frame: tokens, no masks) while the AR pane grew token by token, and saves a screenshot
// under test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { FIXTURE } from '../serve/helpers.js';

const LLAMA = fileURLToPath(new URL('../../../test/fixtures/llama/', import.meta.url));
const OUT = fileURLToPath(new URL('../../../test-output/', import.meta.url));
const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));

let server: RunningServer;
let browser: Browser;

before(async () => {
  assert.ok(CHROMIUM, 'no chromium found: install Debian\'s (apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH');
  server = await startServer({ modelDir: [FIXTURE, LLAMA], config: { port: 0, maxTokens: 64, defaultMaxTokens: 16 }, threads: 1 });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
});
after(async () => { await browser?.close(); await server?.close(); });

test('the playground races diffusion against AR and shows masked cells turning into tokens', async () => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 700 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url + '/');
  await page.waitForSelector('#model option', { state: 'attached' });
  assert.equal(await page.inputValue('#model'), 'llada', 'the diffusion model is picked first');
  assert.equal(await page.isChecked('#race'), true, 'race mode is on when an AR model is served');
  await page.fill('#prompt', 'def add(a, b):');
  await page.selectOption('#decoder', 'fixed');
  for (const [id, v] of [['#max_tokens', '24'], ['#blockLength', '24'], ['#steps', '24']] as const) await page.fill(id, v);
  await page.click('#go');
  await page.waitForSelector('.pane[data-model="llada"][data-done="true"]', { timeout: 30_000 });
  await page.waitForSelector('.pane[data-model="llama"][data-done="true"]', { timeout: 30_000 });
  const diff = page.locator('.pane[data-model="llada"]');
  const last = { masked: Number(await diff.locator('.canvas').getAttribute('data-masked')), tokens: Number(await diff.locator('.canvas').getAttribute('data-tokens')) };
  assert.equal(last.masked, 0, 'the last frame has no masked cells');
  assert.ok(last.tokens > 0, 'the last frame shows tokens');
  const frames = Number(await diff.locator('.replay').getAttribute('max')) + 1;
  assert.ok(frames >= 2, `${frames} frames`);
  await diff.locator('.replay').fill('0'); // replay the first step
  assert.equal(await diff.locator('.canvas').getAttribute('data-frame'), '0');
  const first = { masked: Number(await diff.locator('.canvas').getAttribute('data-masked')), tokens: Number(await diff.locator('.canvas').getAttribute('data-tokens')) };
  assert.equal(first.tokens, 1, 'one token after the first step of a 24-step fixed schedule');
  assert.equal(first.masked, 23, 'the rest still masked');
  assert.ok(await diff.locator('.cell.new').count() === 1, 'the new token is highlighted by its confidence');
  await diff.locator('.replay').fill(String(frames - 1));
  assert.match(await diff.locator('.stats').innerText(), /tok\/s · TPF [\d.]+ · NFE \d+/);
  const ar = page.locator('.pane[data-model="llama"] .canvas');
  assert.equal(await ar.getAttribute('data-masked'), '0', 'the AR pane has no masks');
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: OUT + 'playground.png', fullPage: true });
  assert.ok(existsSync(OUT + 'playground.png'));
  assert.deepEqual(errors, [], 'no errors in the page');
});

// The WebGPU forward engine (src/webgpu) in Debian's chromium, whose WebGPU runs on SwiftShader (a CPU Vulkan)
// on a secure context (http://127.0.0.1) with --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader. This
// checks correctness only — SwiftShader's speed says nothing of a GPU's. In the page, the same model loads
// twice from `dllm serve`'s /model/<id>/ files, on WebGPU and on the WASM kernels; their logits must agree
// within 1e-4 on odd shapes (B = 2, T = 7, padded keys, causal and block-causal masks, chosen logit rows, a KV
// cache filled in two calls), and greedy decoding must give the same tokens. Models: the tiny LLaDA (diffusion)
// and LLaMA (causal, cached) fixtures, and the shipped dllm-code-mini (f16 weights widened on upload).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/serve/index.js';

const DIRS = ['test/fixtures/llada/', 'test/fixtures/llama/', 'models/dllm-code-mini/'].map((d) =>
  fileURLToPath(new URL(`../../../${d}`, import.meta.url)),
);
const WEB = fileURLToPath(new URL('../../web/dllm.js', import.meta.url)); // build/web/
const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
/** f32 on both sides, summed in other orders (tiled matmul, online softmax): the bound */
const TOLERANCE = 1e-4;

let server: RunningServer, browser: Browser, page: Page;
before(async () => {
  assert.ok(CHROMIUM, "no chromium found: install Debian's (apt-get install chromium) or set CHROMIUM_PATH");
  assert.ok(existsSync(WEB), `${WEB} is missing: the browser bundle is built by \`npm run build\``);
  server = await startServer({ modelDir: DIRS, backend: 'wasm', threads: 1, config: { port: 0, maxTokens: 64, defaultMaxTokens: 16 } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
  });
  page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url + '/health');
  assert.deepEqual(errors, []);
});
after(async () => {
  await browser?.close();
  await server?.close();
});

interface Parity {
  cases: Array<{ what: string; maxDiff: number; n: number }>;
  greedy: { gpu: number[]; wasm: number[] };
  backend: string;
}

/** in the page: the model on both engines, forwards compared case by case, and one greedy completion */
function parity(id: string, prompt: string, causal: boolean): Promise<Parity> {
  return page.evaluate(
    async ({ id, prompt, causal }) => {
      const dllm = await import('/web/dllm.js' as string);
      const gpu = await dllm.loadModel(`/model/${id}/`, { backend: 'webgpu' });
      const cpu = await dllm.loadModel(`/model/${id}/`, { backend: 'wasm', threads: 1 });
      const V = gpu.config.vocabSize;
      let seed = 7;
      const ids = (n: number) => Int32Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2147483648) % V);
      const diff = (a: Float32Array, b: Float32Array) => {
        if (a.length !== b.length) return Infinity;
        let m = 0;
        for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
        return m;
      };
      const cases: Array<{ what: string; maxDiff: number; n: number }> = [];
      const both = async (what: string, input: Record<string, unknown>) => {
        const [g, c] = [await gpu.model.forward(input), await cpu.model.forward(input)];
        cases.push({ what, maxDiff: diff(g, c), n: g.length });
      };
      const B = 2,
        T = 7,
        tokens = ids(B * T);
      await both('B=2 T=7', { tokens, B, T });
      const keyValid = Uint8Array.from({ length: B * T }, (_, i) => (i === 0 || i === 9 ? 0 : 1));
      await both('padded keys', { tokens, B, T, keyValid });
      await both('causal', { tokens, B, T, mask: { kind: 'causal' } });
      await both('block-causal, 3', { tokens, B, T, mask: { kind: 'blockCausal', blockLength: 3 } });
      await both('logit rows 13, 0, 5', { tokens, B, T, logitRows: Int32Array.from([13, 0, 5]) });
      // a KV cache of 9 rows filled in two calls (5 rows, then 4), against the engine's own full forward
      const full = ids(9);
      const cached = async (m: { model: any }) => {
        const cache = m.model.createCache(1, 9);
        const mask = { kind: causal ? 'causal' : 'none' };
        await m.model.forward({ tokens: full.subarray(0, 5), B: 1, T: 5, cache, rowStart: 0, mask });
        const tail = await m.model.forward({ tokens: full.subarray(5), B: 1, T: 4, cache, rowStart: 5, mask });
        m.model.freeCache(cache);
        return tail as Float32Array;
      };
      const [gTail, cTail] = [await cached(gpu), await cached(cpu)];
      cases.push({ what: 'cache, rows 5..8', maxDiff: diff(gTail, cTail), n: gTail.length });
      if (causal) {
        const whole = (await gpu.model.forward({ tokens: full, B: 1, T: 9 })) as Float32Array;
        cases.push({ what: 'cache = full causal forward', maxDiff: diff(gTail, whole.subarray(5 * V)), n: gTail.length });
      }
      const opts = { maxTokens: 12, temperature: 0 };
      const greedy = { gpu: Array.from((await gpu.complete(prompt, opts)).ids), wasm: Array.from((await cpu.complete(prompt, opts)).ids) };
      const backend = gpu.backend;
      gpu.dispose();
      cpu.dispose();
      return { cases, greedy, backend } as never;
    },
    { id, prompt, causal },
  );
}

for (const [id, prompt, causal] of [
  ['llada', 'hello', false],
  ['llama', 'hello', true],
  ['dllm-code-mini', 'def add(a, b):', false],
] as const) {
  test(`${id}: WebGPU logits match the WASM engine within ${TOLERANCE}, greedy tokens identical`, async () => {
    const r = await parity(id, prompt, causal);
    assert.equal(r.backend, 'webgpu');
    for (const c of r.cases) assert.ok(c.maxDiff <= TOLERANCE, `${id} ${c.what}: max |Δlogit| = ${c.maxDiff} over ${c.n} logits`);
    assert.ok(r.greedy.wasm.length > 0);
    assert.deepEqual(r.greedy.gpu, r.greedy.wasm, `${id}: greedy ids differ`);
  });
}

test("onnxruntime-web's WebGPU provider (backend 'ort', executionProviders ['webgpu']): logits match the WASM engine, greedy tokens identical", async () => {
  for (const [id, prompt] of [
    ['llada', 'hello'],
    ['dllm-code-mini', 'def add(a, b):'],
  ] as const) {
    const r = await page.evaluate(
      async ({ id, prompt }) => {
        const dllm = await import('/web/dllm.js' as string);
        const ort = await import('/web/ort/ort.webgpu.bundle.min.mjs' as string);
        ort.env.wasm.numThreads = 1;
        const gpu = await dllm.loadModel(`/model/${id}/`, { backend: 'ort', ort, executionProviders: ['webgpu'] });
        const cpu = await dllm.loadModel(`/model/${id}/`, { backend: 'wasm', threads: 1 });
        const V = gpu.config.vocabSize,
          B = 2,
          T = 7;
        const tokens = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 3) % V);
        const keyValid = Uint8Array.from({ length: B * T }, (_, i) => (i === 0 || i === 9 ? 0 : 1));
        const diffs: number[] = [];
        for (const input of [
          { tokens, B, T },
          { tokens, B, T, keyValid },
          { tokens, B, T, mask: { kind: 'blockCausal', blockLength: 3 } },
        ]) {
          const [a, b] = [await gpu.model.forward(input), await cpu.model.forward(input)];
          let m = a.length === b.length ? 0 : Infinity;
          for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
          diffs.push(m);
        }
        const opts = { maxTokens: 12, temperature: 0 };
        const greedy = {
          gpu: Array.from((await gpu.complete(prompt, opts)).ids),
          wasm: Array.from((await cpu.complete(prompt, opts)).ids),
        };
        gpu.dispose();
        cpu.dispose();
        return { diffs, greedy };
      },
      { id, prompt },
    );
    r.diffs.forEach((d, i) => assert.ok(d <= TOLERANCE, `${id} case ${i}: max |Δlogit| = ${d}`));
    assert.ok(r.greedy.wasm.length > 0);
    assert.deepEqual(r.greedy.gpu, r.greedy.wasm, `${id}: greedy ids differ`);
  }
});

test('a model the engine cannot run is refused by name (MoE), and options are checked', async () => {
  const msg = await page.evaluate(async () => {
    const dllm = await import('/web/dllm.js' as string);
    const cfg = { arch: 'llada2', moe: {}, qkNorm: true, headDim: 8, ropeDim: 4 };
    let bad = '';
    try {
      dllm.parseWebLoadOptions({ backend: 'wasm', device: {} });
    } catch (e) {
      bad = (e as Error).message;
    }
    return { why: dllm.webGpuUnsupported(cfg), bad };
  });
  assert.match(msg.why!, /llada2 needs mixture-of-experts layers, a fused q\/k\/v projection, q\/k norms, partial RoPE/);
  assert.match(msg.bad, /"device" needs backend "webgpu"/);
});

test("the playground's /?engine=webgpu decodes dllm-code-mini in the page on WebGPU: the server's text at temperature 0", async () => {
  const p = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const api: string[] = [];
  let watching = false; // from the first click on: any generation request would mean the server decoded
  p.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (watching && /^\/(v1\/(completions|chat)|completion|infill)/.test(path)) api.push(path);
  });
  await p.goto(server.url + '/?engine=webgpu');
  await p.waitForSelector('body[data-engine-ready="true"]', { timeout: 120_000 });
  assert.equal(await p.innerText('#engine-status'), 'in this page: WebGPU');
  await p.selectOption('#model', 'dllm-code-mini');
  await p.uncheck('#race');
  const prompt = 'def add(a, b):';
  await p.fill('#prompt', prompt);
  await p.fill('#max_tokens', '12');
  watching = true;
  await p.click('#go');
  const sel = '#panes .pane[data-model="dllm-code-mini"]';
  await p.waitForSelector(sel + '[data-done="true"]', { timeout: 120_000 });
  assert.deepEqual(api, [], 'no completion request while the page decodes');
  const res = await fetch(server.url + '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'dllm-code-mini', prompt, max_tokens: 12, temperature: 0, seed: 0, decoder: 'threshold' }),
  });
  const served = ((await res.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
  assert.equal(await p.getAttribute(sel, 'data-text'), served);
  await p.close();
});

// The WebGPU forward engine (src/webgpu) in Debian's chromium, whose WebGPU runs on SwiftShader (a CPU Vulkan)
// on a secure context (http://127.0.0.1) with --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader. This
// checks correctness only — SwiftShader's speed says nothing of a GPU's. In the page, the same model loads
// twice from `dllm serve`'s /model/<id>/ files, on WebGPU and on the WASM kernels; their logits must agree
// within 1e-4 on odd shapes (B = 2, T = 7, padded keys, causal and block-causal masks, chosen logit rows, a KV
// cache filled in two calls), and greedy decoding must give the same tokens. Models: the tiny LLaDA (diffusion)
// and LLaMA (causal, cached) fixtures, and the shipped dllm-code-mini (f16 weights widened on upload). The same
// check (test/helpers/browser-parity.ts) runs onnxruntime-web's WebGPU provider on the ONNX graph.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { RunningServer } from '../../src/serve/index.js';
import {
  PARITY_MODELS,
  PARITY_TOLERANCE as TOLERANCE,
  openParitySession,
  parityInPage,
  type ParitySession,
} from '../helpers/browser-parity.js';

let server: RunningServer, browser: Browser, page: Page, session: ParitySession | undefined;
before(async () => {
  session = await openParitySession(['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader']);
  ({ server, browser, page } = session);
});
after(async () => {
  await session?.close();
});

for (const [id, prompt, causal] of PARITY_MODELS) {
  test(`${id}: WebGPU logits match the WASM engine within ${TOLERANCE}, greedy tokens identical`, async () => {
    const r = await parityInPage(page, id, prompt, causal, { options: { backend: 'webgpu' } });
    assert.equal(r.backend, 'webgpu');
    for (const c of r.cases) assert.ok(c.maxDiff <= TOLERANCE, `${id} ${c.what}: max |Δlogit| = ${c.maxDiff} over ${c.n} logits`);
    assert.ok(r.greedy.wasm.length > 0);
    assert.deepEqual(r.greedy.engine, r.greedy.wasm, `${id}: greedy ids differ`);
  });
}

test("onnxruntime-web's WebGPU provider (backend 'ort', executionProviders ['webgpu']): logits match the WASM engine, greedy tokens identical", async () => {
  for (const [id, prompt, causal] of PARITY_MODELS.filter(([id]) => id !== 'llama')) {
    const r = await parityInPage(page, id, prompt, causal, {
      options: { backend: 'ort', executionProviders: ['webgpu'] },
      ortModule: '/web/ort/ort.webgpu.bundle.min.mjs',
    });
    assert.equal(r.backend, 'ort');
    for (const c of r.cases) assert.ok(c.maxDiff <= TOLERANCE, `${id} ${c.what}: max |Δlogit| = ${c.maxDiff} over ${c.n} logits`);
    assert.equal(r.top1Mismatches, 0, `${id}: the graph's top-1 differs from the argmax of its logits`);
    assert.deepEqual(r.greedy.engine, r.greedy.wasm, `${id}: greedy ids differ`);
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

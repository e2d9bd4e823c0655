// The page's ONNX Runtime path (loadModel(…, { backend: 'ort', ort }), web-generator.ts): onnxruntime-web's
// WebAssembly execution provider in Debian's chromium, on the graph onnx/graph.ts builds in the page from the
// model's own files. The page imports onnxruntime-web from `dllm serve`'s /web/ort/ and loads each model twice,
// on ORT and on our WASM kernels; their logits must agree within 1e-4 on odd shapes (B = 2, T = 7, padded keys,
// causal and block-causal masks, chosen logit rows, a KV cache filled in two calls), the graph's in-graph top-1
// must equal the argmax of its logits, and greedy decoding must give the same tokens. A q8 graph (its int8
// kernels are checked in Node by test/onnx/parity.test.ts) must load here and stay near the f32 logits.
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
/** f32 on both sides, summed in other orders (MLAS GEMM tiles, our tiled matmul and online softmax): the bound */
const TOLERANCE = 1e-4;

let server: RunningServer, browser: Browser, page: Page;
before(async () => {
  assert.ok(CHROMIUM, "no chromium found: install Debian's (apt-get install chromium) or set CHROMIUM_PATH");
  assert.ok(existsSync(WEB), `${WEB} is missing: the browser bundle is built by \`npm run build\``);
  server = await startServer({ modelDir: DIRS, backend: 'wasm', threads: 1, config: { port: 0, maxTokens: 64, defaultMaxTokens: 16 } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
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
  top1Mismatches: number;
  greedy: { ort: number[]; wasm: number[] };
  backend: string;
}

/** in the page: the model on ORT and on the WASM kernels, forwards compared case by case, and one greedy completion */
function parity(id: string, prompt: string, causal: boolean): Promise<Parity> {
  return page.evaluate(
    async ({ id, prompt, causal }) => {
      const dllm = await import('/web/dllm.js' as string);
      const ort = await import('/web/ort/ort.wasm.bundle.min.mjs' as string);
      ort.env.wasm.numThreads = 1; // the page is not cross-origin isolated here: no SharedArrayBuffer
      const onnx = await dllm.loadModel(`/model/${id}/`, { backend: 'ort', ort });
      const cpu = await dllm.loadModel(`/model/${id}/`, { backend: 'wasm', threads: 1 });
      const V = onnx.config.vocabSize;
      let seed = 11;
      const ids = (n: number) => Int32Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) % 2147483648) % V);
      const diff = (a: Float32Array, b: Float32Array) => {
        if (a.length !== b.length) return Infinity;
        let m = 0;
        for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
        return m;
      };
      const cases: Array<{ what: string; maxDiff: number; n: number }> = [];
      const both = async (what: string, input: Record<string, unknown>) => {
        const [g, c] = [await onnx.model.forward(input), await cpu.model.forward(input)];
        cases.push({ what, maxDiff: diff(g, c), n: g.length });
        return g as Float32Array;
      };
      const B = 2,
        T = 7,
        tokens = ids(B * T);
      const plain = await both('B=2 T=7', { tokens, B, T });
      const keyValid = Uint8Array.from({ length: B * T }, (_, i) => (i === 0 || i === 9 ? 0 : 1));
      await both('padded keys', { tokens, B, T, keyValid });
      await both('causal', { tokens, B, T, mask: { kind: 'causal' } });
      await both('block-causal, 3', { tokens, B, T, mask: { kind: 'blockCausal', blockLength: 3 } });
      await both('logit rows 13, 0, 5', { tokens, B, T, logitRows: Int32Array.from([13, 0, 5]) });
      // the graph's own argmax (the confidences path of the decoders) against the argmax of its logits
      const top = await onnx.model.forwardTop1({ tokens, B, T }, []);
      let top1Mismatches = 0;
      for (let r = 0; r < B * T; r++) {
        let arg = 0;
        for (let v = 1; v < V; v++) if (plain[r * V + v]! > plain[r * V + arg]!) arg = v;
        if (top.token[r] !== arg) top1Mismatches++;
      }
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
      const [oTail, cTail] = [await cached(onnx), await cached(cpu)];
      cases.push({ what: 'cache, rows 5..8', maxDiff: diff(oTail, cTail), n: oTail.length });
      const opts = { maxTokens: 12, temperature: 0 };
      const greedy = { ort: Array.from((await onnx.complete(prompt, opts)).ids), wasm: Array.from((await cpu.complete(prompt, opts)).ids) };
      const backend = onnx.backend;
      onnx.dispose();
      cpu.dispose();
      return { cases, top1Mismatches, greedy, backend } as never;
    },
    { id, prompt, causal },
  );
}

for (const [id, prompt, causal] of [
  ['llada', 'hello', false],
  ['llama', 'hello', true],
  ['dllm-code-mini', 'def add(a, b):', false],
] as const) {
  test(`${id}: onnxruntime-web logits match the WASM engine within ${TOLERANCE}, greedy tokens identical`, async () => {
    const r = await parity(id, prompt, causal);
    assert.equal(r.backend, 'ort');
    for (const c of r.cases) assert.ok(c.maxDiff <= TOLERANCE, `${id} ${c.what}: max |Δlogit| = ${c.maxDiff} over ${c.n} logits`);
    assert.equal(r.top1Mismatches, 0, `${id}: the graph's top-1 differs from the argmax of its logits in ${r.top1Mismatches} rows`);
    assert.ok(r.greedy.wasm.length > 0);
    assert.deepEqual(r.greedy.ort, r.greedy.wasm, `${id}: greedy ids differ`);
  });
}

test('backend "ort" in the page: q8 graphs load and stay near f32; a missing runtime and f16 are refused by name', async () => {
  const r = await page.evaluate(async () => {
    const dllm = await import('/web/dllm.js' as string);
    const ort = await import('/web/ort/ort.wasm.bundle.min.mjs' as string);
    const f32 = await dllm.loadModel('/model/dllm-code-mini/', { backend: 'ort', ort });
    const q8 = await dllm.loadModel('/model/dllm-code-mini/', { backend: 'ort', ort, dtype: 'q8' });
    const tokens = Int32Array.from({ length: 9 }, (_, i) => 40 + 7 * i);
    const [a, b] = [await f32.model.forward({ tokens, B: 1, T: 9 }), await q8.model.forward({ tokens, B: 1, T: 9 })];
    let m = 0,
      scale = 0,
      finite = true;
    for (let i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(a[i]));
      finite &&= Number.isFinite(b[i]);
    }
    f32.dispose();
    q8.dispose();
    const refused: string[] = [];
    for (const o of [{ backend: 'ort' }, { backend: 'ort', ort, dtype: 'f16' }, { backend: 'wasm', ort }])
      try {
        dllm.parseWebLoadOptions(o);
        refused.push('');
      } catch (e) {
        refused.push((e as Error).message);
      }
    return { rel: m / scale, finite, refused };
  });
  assert.ok(r.finite, 'q8 logits are finite');
  // int8 weights per output channel: logits move by a few percent of their range, not more
  assert.ok(r.rel < 0.1, `q8 vs f32: max |Δlogit| is ${(r.rel * 100).toFixed(2)} % of the largest logit`);
  assert.match(r.refused[0]!, /backend "ort" needs the onnxruntime-web module as "ort"/);
  assert.match(r.refused[1]!, /f16 is a storage format of the wasm kernels/);
  assert.match(r.refused[2]!, /"ort" needs backend "ort"/);
});

test('/web/ort/ serves only the listed onnxruntime-web files', async () => {
  const ok = await fetch(server.url + '/web/ort/ort-wasm-simd-threaded.wasm');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), 'application/wasm');
  await ok.arrayBuffer();
  for (const bad of ['package.json', '..%2Fpackage.json', 'ort.node.min.mjs']) {
    const r = await fetch(server.url + '/web/ort/' + bad);
    assert.equal(r.status, 404, `/web/ort/${bad}`);
    await r.arrayBuffer();
  }
});

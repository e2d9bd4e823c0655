// The page's ONNX Runtime path (loadModel(…, { backend: 'ort', ort }), web-generator.ts): onnxruntime-web's
// WebAssembly execution provider in Debian's chromium, on the graph onnx/graph.ts builds in the page from the
// model's own files. The page imports onnxruntime-web from `dllm serve`'s /web/ort/ and loads each model twice,
// on ORT and on our WASM kernels; their logits must agree within 1e-4 on odd shapes (B = 2, T = 7, padded keys,
// causal and block-causal masks, chosen logit rows, a KV cache filled in two calls), the graph's in-graph top-1
// must equal the argmax of its logits, and greedy decoding must give the same tokens. A q8 graph (its int8
// kernels are checked in Node by test/onnx/parity.test.ts) must load here and stay near the f32 logits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RunningServer } from '../../src/serve/index.js';
import {
  PARITY_MODELS,
  PARITY_TOLERANCE as TOLERANCE,
  openParitySession,
  parityInPage,
  type ParitySession,
} from '../helpers/browser-parity.js';

let server: RunningServer, page: Page, session: ParitySession | undefined;
before(async () => {
  session = await openParitySession([]);
  ({ server, page } = session);
});
after(async () => {
  await session?.close();
});

for (const [id, prompt, causal] of PARITY_MODELS) {
  test(`${id}: onnxruntime-web logits match the WASM engine within ${TOLERANCE}, greedy tokens identical`, async () => {
    const r = await parityInPage(page, id, prompt, causal, { options: { backend: 'ort' }, ortModule: '/web/ort/ort.wasm.bundle.min.mjs' });
    assert.equal(r.backend, 'ort');
    for (const c of r.cases) assert.ok(c.maxDiff <= TOLERANCE, `${id} ${c.what}: max |Δlogit| = ${c.maxDiff} over ${c.n} logits`);
    assert.equal(r.top1Mismatches, 0, `${id}: the graph's top-1 differs from the argmax of its logits in ${r.top1Mismatches} rows`);
    assert.ok(r.greedy.wasm.length > 0);
    assert.deepEqual(r.greedy.engine, r.greedy.wasm, `${id}: greedy ids differ`);
  });
}

test('backend "ort" in the page: q8 graphs load and stay near f32; a missing runtime, f16 and kernel-only options are refused by name', async () => {
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
    for (const o of [
      { backend: 'ort' },
      { backend: 'ort', ort, dtype: 'f16' },
      { backend: 'wasm', ort },
      { backend: 'ort', ort, memoryBytes: 1 << 20 },
    ])
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
  assert.match(r.refused[3]!, /"memoryBytes" is for the WebAssembly kernels/);
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

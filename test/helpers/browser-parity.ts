// One forward-parity check in the page, for every engine the browser bundle can run a model on (WebGPU shaders,
// onnxruntime-web on its WebAssembly or WebGPU provider): the model loads twice from `dllm serve`'s
// /model/<id>/ files, on the engine under test and on our WASM kernels, and their logits are compared on odd
// shapes (B = 2, T = 7, padded keys, causal and block-causal masks, chosen logit rows, a KV cache filled in two
// calls), the engine's in-graph top-1 (where it has one) against the argmax of its own logits, and one greedy
// completion. Used by test/browser/webgpu.test.ts and test/browser/ort-web.test.ts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../src/serve/index.js';

/** the models both browser parity tests load: the tiny LLaDA (diffusion) and LLaMA (causal) fixtures, and the shipped dllm-code-mini */
export const PARITY_DIRS = ['test/fixtures/llada/', 'test/fixtures/llama/', 'models/dllm-code-mini/'].map((d) =>
  fileURLToPath(new URL(`../../../${d}`, import.meta.url)),
);
export const PARITY_MODELS = [
  ['llada', 'hello', false],
  ['llama', 'hello', true],
  ['dllm-code-mini', 'def add(a, b):', false],
] as const;
export const WEB_BUNDLE = fileURLToPath(new URL('../../web/dllm.js', import.meta.url)); // build/web/
export const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));
/** f32 on both sides, summed in other orders (tiled matmuls, MLAS GEMM tiles, online softmax): the bound */
export const PARITY_TOLERANCE = 1e-4;

/** `dllm serve` (wasm, one thread) with the parity models, and Chromium on one page of it that loaded without errors */
export interface ParitySession {
  server: RunningServer;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** start the server and the browser (Chromium flags beyond --no-sandbox: `args`) for a browser parity test file */
export async function openParitySession(args: string[] = []): Promise<ParitySession> {
  assert.ok(CHROMIUM, "no chromium found: install Debian's (apt-get install chromium) or set CHROMIUM_PATH");
  assert.ok(existsSync(WEB_BUNDLE), `${WEB_BUNDLE} is missing: the browser bundle is built by \`npm run build\``);
  const server = await startServer({
    modelDir: PARITY_DIRS,
    backend: 'wasm',
    threads: 1,
    config: { port: 0, maxTokens: 64, defaultMaxTokens: 16 },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...args] });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(server.url + '/health');
  assert.deepEqual(errors, []);
  return {
    server,
    browser,
    page,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}

/** the engine under test: loadModel's options, and (onnxruntime-web) the URL of the runtime module to pass as `ort` */
export interface PageEngine {
  options: Record<string, unknown>;
  ortModule?: string;
}

export interface Parity {
  cases: Array<{ what: string; maxDiff: number; n: number }>;
  /** rows where the engine's own top-1 differs from the argmax of its logits (null: it has no top-1 path) */
  top1Mismatches: number | null;
  greedy: { engine: number[]; wasm: number[] };
  backend: string;
}

/** in the page: the model on the engine and on the WASM kernels, forwards compared case by case, one greedy completion */
export function parityInPage(page: Page, id: string, prompt: string, causal: boolean, engine: PageEngine): Promise<Parity> {
  return page.evaluate(
    async ({ id, prompt, causal, engine }) => {
      const dllm = await import('/web/dllm.js' as string);
      const options = { ...engine.options };
      if (engine.ortModule) {
        const ort = await import(engine.ortModule);
        ort.env.wasm.numThreads = 1; // the test page is not cross-origin isolated: no SharedArrayBuffer
        options['ort'] = ort;
      }
      const under = await dllm.loadModel(`/model/${id}/`, options);
      const cpu = await dllm.loadModel(`/model/${id}/`, { backend: 'wasm', threads: 1 });
      const V = under.config.vocabSize;
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
        const [g, c] = [await under.model.forward(input), await cpu.model.forward(input)];
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
      let top1Mismatches: number | null = null;
      if (typeof under.model.forwardTop1 === 'function') {
        const top = await under.model.forwardTop1({ tokens, B, T }, []);
        top1Mismatches = 0;
        for (let r = 0; r < B * T; r++) {
          let arg = 0;
          for (let v = 1; v < V; v++) if (plain[r * V + v]! > plain[r * V + arg]!) arg = v;
          if (top.token[r] !== arg) top1Mismatches++;
        }
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
      const [uTail, cTail] = [await cached(under), await cached(cpu)];
      cases.push({ what: 'cache, rows 5..8', maxDiff: diff(uTail, cTail), n: uTail.length });
      if (causal) {
        const whole = (await under.model.forward({ tokens: full, B: 1, T: 9 })) as Float32Array;
        cases.push({ what: 'cache = full causal forward', maxDiff: diff(uTail, whole.subarray(5 * V)), n: uTail.length });
      }
      const opts = { maxTokens: 12, temperature: 0 };
      const greedy = {
        engine: Array.from((await under.complete(prompt, opts)).ids),
        wasm: Array.from((await cpu.complete(prompt, opts)).ids),
      };
      const backend = under.backend;
      under.dispose();
      cpu.dispose();
      return { cases, top1Mismatches, greedy, backend } as never;
    },
    { id, prompt, causal, engine },
  );
}

// The browser platform's parts that run in Node too (no browser here): option checking, response bodies read
// with progress, model files over fetch or from Blobs, the WASM kernels through the web platform, and the
// playground's in-page frames — step for step the frames the server streams for the same request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { createKernels as createNodeKernels } from '../../src/platform/node.js';
import {
  createKernels,
  decodeFrames,
  fetchFiles,
  blobFiles,
  loadModel,
  parseWebLoadOptions,
  readBody,
  type FileProgress,
  type StepFrame,
} from '../../src/web.js';
import { FIXTURE } from '../serve/helpers.js';
import type { Kernels } from '../../src/kernels/backend.js';

const WASM = pathToFileURL(fileURLToPath(new URL('../../wasm/', import.meta.url))); // build/wasm/
/** Node's fetch has no file: URLs; the kernels' .wasm are read from disk through the `fetch` option */
const fileFetch = (async (url: URL | string) => new Response(new Uint8Array(await readFile(fileURLToPath(url))))) as typeof fetch;

let server: RunningServer;
let kernels: Kernels;
before(async () => {
  server = await startServer({
    modelDir: FIXTURE,
    backend: 'wasm',
    threads: 1,
    config: { port: 0, modelId: 'llada-tiny', maxTokens: 64, defaultMaxTokens: 16 },
  });
  kernels = await createNodeKernels({ backend: 'wasm', threads: 1 }); // the server's kernels, so frames must match exactly
});
after(async () => {
  kernels?.dispose();
  await server?.close();
});

test('loadModel options: unknown keys and wrong values are refused by name', () => {
  assert.throws(() => parseWebLoadOptions({ dtyp: 'f16' }), /unknown option "dtyp"/);
  assert.throws(() => parseWebLoadOptions({ dtype: 'f64' }), /"dtype" must be f32, f16, q8, q4, got f64/);
  assert.throws(() => parseWebLoadOptions({ threads: -1 }), /"threads" must be an integer/);
  assert.throws(() => parseWebLoadOptions({ onProgress: 'yes' }), /"onProgress" must be a function/);
  assert.deepEqual(parseWebLoadOptions({ dtype: 'q8', cache: 'prefix' }), { dtype: 'q8', cache: 'prefix' });
});

/** a response whose body arrives in these chunks, with or without a content-length */
function chunked(parts: number[][], length: number | null): Response {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(Uint8Array.from(p));
      c.close();
    },
  });
  return new Response(body, length === null ? {} : { headers: { 'content-length': String(length) } });
}

test('response bodies are read whole with progress, with or without (or with a wrong) content-length, within a limit', async () => {
  const seen: FileProgress[] = [];
  const a = await readBody(chunked([[1, 2], [3], [4, 5]], 5), 'w.bin', (p) => seen.push({ ...p }));
  assert.deepEqual([...a], [1, 2, 3, 4, 5]);
  assert.deepEqual(
    seen.map((p) => p.loaded),
    [0, 2, 3, 5],
  );
  assert.ok(seen.every((p) => p.total === 5 && p.file === 'w.bin'));
  assert.deepEqual([...(await readBody(chunked([[1], [2, 3]], null), 'x'))], [1, 2, 3]);
  assert.deepEqual(
    [
      ...(await readBody(
        chunked(
          [
            [1, 2],
            [3, 4],
          ],
          3,
        ),
        'x',
      )),
    ],
    [1, 2, 3, 4],
    'more bytes than announced are kept',
  );
  assert.deepEqual([...(await readBody(chunked([[1]], 3), 'x'))], [1], 'fewer bytes than announced are what came');
  await assert.rejects(readBody(chunked([[1, 2, 3]], 3), 'big.json', undefined, 2), /big\.json: 3 bytes, over the 2-byte limit/);
  await assert.rejects(readBody(chunked([[1, 2], [3]], null), 'big.json', undefined, 2), /big\.json: over the 2-byte limit/);
});

test('model files over fetch: one request per file, a 404 is an absent file, names cannot leave the folder', async () => {
  const asked: string[] = [];
  const fake = (async (url: URL | string) => {
    asked.push(String(url));
    return String(url).endsWith('/config.json') ? new Response('{"a":1}') : new Response('no', { status: 404 });
  }) as typeof fetch;
  const files = fetchFiles('http://example.test/models/m?x=1', { fetch: fake });
  assert.deepEqual(await files.json('config.json'), { a: 1 });
  assert.deepEqual(await files.json('config.json'), { a: 1 });
  assert.equal(await files.json('tokenizer.json'), null);
  assert.equal(await files.exists('model.safetensors'), false);
  await assert.rejects(files.open('model.safetensors'), /model\.safetensors is missing \(HTTP 404\)/);
  assert.deepEqual(asked, [
    'http://example.test/models/m/config.json',
    'http://example.test/models/m/tokenizer.json',
    'http://example.test/models/m/model.safetensors',
  ]);
  await assert.rejects(files.json('../secret.json'), /not a plain file name/);
  const broken = fetchFiles('http://example.test/m/', { fetch: (async () => new Response('[1]')) as typeof fetch });
  await assert.rejects(broken.json('config.json'), /not a JSON object/);
});

test("model files from Blobs (a file picker's list): read by name, in ranges, within the JSON limits", async () => {
  const files = blobFiles([new File(['{"b":2}'], 'config.json'), new File([new Uint8Array([9, 8, 7, 6])], 'model.safetensors')]);
  assert.deepEqual(await files.json('config.json'), { b: 2 });
  assert.equal(await files.json('tokenizer.json'), null);
  const src = await files.open('model.safetensors');
  assert.equal(src.size, 4);
  assert.deepEqual([...(await src.read(1, 2))], [8, 7]);
  await assert.rejects(files.open('nope.bin'), /nope\.bin is not among the given files \(config\.json, model\.safetensors\)/);
  const huge = blobFiles({ 'tokenizer.json': new Blob([new Uint8Array(64 * 2 ** 20 + 1)]) });
  await assert.rejects(huge.json('tokenizer.json'), /over the 67108864-byte limit/);
});

test("the web platform's kernels: the .wasm fetched from `assets`, one thread where there are no Web Workers", async () => {
  const k = await createKernels({ backend: 'wasm', assets: WASM, fetch: fileFetch, threads: 4 });
  try {
    assert.equal(k.threads, 1, 'Node has no Web Worker: the calling thread alone');
    assert.match(k.name, /^wasm-(relaxed-)?simd$/);
    const out = k.allocF32(2),
      a = k.allocF32(2),
      b = k.allocF32(2);
    a.set([1, 2]);
    b.set([3, 4]);
    k.add(out, a, b, 2);
    assert.deepEqual([...out], [4, 6]);
  } finally {
    k.dispose();
  }
  await assert.rejects(
    createKernels({
      backend: 'wasm',
      assets: 'http://127.0.0.1:9/none/',
      fetch: (async () => new Response('', { status: 404 })) as typeof fetch,
    }),
    /kernels: .*kernels-.*\.wasm answered HTTP 404/,
  );
});

test('without shared memory the kernels ask for less memory when a device refuses 1 GiB', async () => {
  const g = globalThis as Record<string, unknown>;
  const SAB = g['SharedArrayBuffer'],
    Memory = WebAssembly.Memory;
  const asked: number[] = [];
  // a page that is not cross-origin isolated, on a device that cannot reserve 1 GiB at once
  delete g['SharedArrayBuffer'];
  (WebAssembly as { Memory: unknown }).Memory = function (d: WebAssembly.MemoryDescriptor) {
    if (!d.shared) asked.push(d.initial * 65536);
    if (!d.shared && d.initial * 65536 >= 2 ** 30) throw new RangeError('WebAssembly.Memory(): could not allocate memory');
    return new Memory(d);
  };
  try {
    const k = await createKernels({ backend: 'auto', assets: WASM, fetch: fileFetch });
    try {
      assert.deepEqual(asked, [2 ** 30, 2 ** 29]);
      assert.match(k.name, /^wasm-/, 'still the WebAssembly kernels, on 512 MiB');
      assert.equal((k as unknown as { arena: { memory: WebAssembly.Memory } }).arena.memory.buffer.byteLength, 2 ** 29);
    } finally {
      k.dispose();
    }
  } finally {
    g['SharedArrayBuffer'] = SAB;
    (WebAssembly as { Memory: unknown }).Memory = Memory;
  }
});

/** the server's diffusing frames for a request: each step's cells, then the final text */
async function servedFrames(body: Record<string, unknown>): Promise<{ steps: unknown[]; text: string }> {
  const res = await fetch(server.url + '/v1/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true, diffusing: true }),
  });
  const events = (await res.text())
    .split('\n\n')
    .filter((e) => e.startsWith('data: {'))
    .map((e) => JSON.parse(e.slice(6)) as Record<string, any>);
  return {
    steps: events
      .filter((e) => e['diffusion_meta']?.cells)
      .map((e) => ({ step: e['diffusion_meta'].step, nfe: e['diffusion_meta'].nfe, cells: e['diffusion_meta'].cells })),
    text: events.filter((e) => e['diffusion_meta']?.cells === undefined && e['diffusion_meta']).at(-1)!['choices'][0].text,
  };
}

test("the page's frames equal the server's stream frame for frame (loaded over /model/<id>/ and from Blobs)", async () => {
  const progress: FileProgress[] = [];
  const lm = await loadModel(server.url + '/model/llada-tiny/', { kernels, onProgress: (p) => progress.push(p) });
  const files = new Map(
    await Promise.all(
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'].map(
        async (n) => [n, await readFile(FIXTURE + n)] as const,
      ),
    ),
  );
  const fromBlobs = await loadModel(Object.fromEntries([...files].map(([n, b]) => [n, new Uint8Array(b)])), { kernels });
  try {
    assert.equal(lm.kind, 'diffusion');
    const weights = progress.filter((p) => p.file === 'model.safetensors').at(-1)!;
    assert.equal(weights.loaded, files.get('model.safetensors')!.length, 'progress reaches the whole file');
    for (const [input, knobs] of [
      [{ prompt: 'def add(a, b):' }, { decoder: 'fixed', max_tokens: 8, steps: 8, blockLength: 8 }],
      [{ prompt: 'x = ', suffix: '\nprint(x)' }, { max_tokens: 8 }],
    ] as const) {
      const want = await servedFrames({ ...input, ...knobs, temperature: 0 });
      assert.ok(want.steps.length > 0 && want.text.length > 0, 'the server streamed steps and a text');
      const { max_tokens, ...rest } = knobs as Record<string, unknown> & { max_tokens: number };
      for (const model of [lm, fromBlobs]) {
        const frames = [];
        for await (const f of decodeFrames(model, input, { ...rest, maxTokens: max_tokens, temperature: 0 })) frames.push(f);
        const steps = frames.filter((f): f is StepFrame => f.kind === 'step').map(({ step, nfe, cells }) => ({ step, nfe, cells }));
        assert.deepEqual(steps, want.steps, JSON.stringify(input));
        const last = frames.at(-1)!;
        assert.ok(last.kind === 'final');
        assert.equal(last.text, want.text);
        assert.equal(last.timings.nfe, steps.at(-1)!.nfe);
      }
    }
    const ac = new AbortController();
    const stopped = [];
    for await (const f of decodeFrames(lm, { prompt: 'a' }, { maxTokens: 8, decoder: 'fixed', steps: 8, blockLength: 8 }, ac.signal)) {
      stopped.push(f);
      ac.abort();
    }
    assert.equal(stopped.length, 1, 'an aborted decode ends at the next step, without a final frame');
  } finally {
    lm.dispose();
    fromBlobs.dispose();
  }
});

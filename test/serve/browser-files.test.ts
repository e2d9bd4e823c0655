// The files the playground's in-page engine fetches (serve/browser-files.ts): the bundle under /web/ and the
// loader files of each served model folder under /model/<id>/, with the cross-origin isolation headers;
// nothing else on disk is reachable — not the folder's other files, not a path with .., not an encoded slash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { FIXTURE } from './helpers.js';

const DREAM = fileURLToPath(new URL('../../../test/fixtures/dream/', import.meta.url)); // sharded: an index and two files
const WEB = fileURLToPath(new URL('../../web/', import.meta.url));

let server: RunningServer;
before(async () => {
  server = await startServer({
    modelDir: [FIXTURE, DREAM],
    config: { port: 0, modelId: 'llada-tiny', maxTokens: 64, defaultMaxTokens: 16 },
    threads: 1,
  });
});
after(async () => {
  await server?.close();
});

/** GET a raw path (fetch would normalise "..": this sends the bytes as written) */
function rawGet(path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const isolated = (h: Record<string, string | string[] | undefined>) => {
  assert.equal(h['cross-origin-opener-policy'], 'same-origin');
  assert.equal(h['cross-origin-embedder-policy'], 'require-corp');
};

test('the playground is served cross-origin isolated (COOP + COEP)', async () => {
  const r = await rawGet('/');
  assert.equal(r.status, 200);
  isolated(r.headers);
});

test('each model card names where its files are; the loader files come back byte for byte, isolated', async () => {
  const cards = ((await (await fetch(server.url + '/v1/models')).json()) as { data: Array<{ id: string; meta: { files?: string } }> }).data;
  assert.deepEqual(
    cards.map((c) => [c.id, c.meta.files]),
    [
      ['llada-tiny', '/model/llada-tiny/'],
      ['dream', '/model/dream/'],
    ],
  );
  for (const [url, file, type] of [
    ['/model/llada-tiny/config.json', FIXTURE + 'config.json', 'application/json; charset=utf-8'],
    ['/model/llada-tiny/tokenizer.json', FIXTURE + 'tokenizer.json', 'application/json; charset=utf-8'],
    ['/model/llada-tiny/model.safetensors', FIXTURE + 'model.safetensors', 'application/octet-stream'],
    ['/model/dream/model.safetensors.index.json', DREAM + 'model.safetensors.index.json', 'application/json; charset=utf-8'],
    ['/model/dream/model-00002-of-00002.safetensors', DREAM + 'model-00002-of-00002.safetensors', 'application/octet-stream'], // a shard the index names
  ] as const) {
    const r = await rawGet(url);
    assert.equal(r.status, 200, url);
    assert.deepEqual(r.body, readFileSync(file), url);
    assert.equal(r.headers['content-type'], type, url);
    assert.equal(r.headers['content-length'], String(r.body.length));
    isolated(r.headers);
  }
});

test('nothing but the loader files of served models: other files, unknown models, .. and encoded slashes are 404', async () => {
  for (const path of [
    '/model/llada-tiny/reference.safetensors', // in the folder, but not a file the loader reads
    '/model/llada-tiny/../../../package.json',
    '/model/llada-tiny/..%2F..%2F..%2Fpackage.json',
    '/model/llada-tiny/%2e%2e%2fconfig.json',
    '/model/llada-tiny/.%2Fconfig.json',
    '/model/..%2Fllada/config.json',
    '/model/nope/config.json',
    '/model/llada-tiny/',
    '/model/llada-tiny/sub/config.json',
    '/web/../src/serve/server.ts',
    '/web/..%2F..%2Fpackage.json',
    '/web/%2e%2e%2fsrc%2findex.js',
    '/web/nope.js',
    '/web/',
  ]) {
    const r = await rawGet(path);
    assert.equal(r.status, 404, `${path} → ${r.status}`);
    assert.ok(!r.body.toString().includes('"version"'), `${path} leaked a file`);
  }
  const unknown = JSON.parse((await rawGet('/model/nope/config.json')).body.toString()) as { error: { code: string } };
  assert.equal(unknown.error.code, 'model_not_found');
});

test('the browser bundle: dllm.js, its pool worker and the kernels, with the types a page needs', async () => {
  for (const [file, type] of [
    ['dllm.js', 'text/javascript; charset=utf-8'],
    ['dllm-pool-worker.js', 'text/javascript; charset=utf-8'],
    ['kernels-simd.wasm', 'application/wasm'],
    ['kernels-relaxed-shared.wasm', 'application/wasm'],
  ] as const) {
    const r = await rawGet('/web/' + file);
    assert.equal(r.status, 200, `${file} (is build/web/ built? npm run build)`);
    assert.equal(r.headers['content-type'], type);
    assert.deepEqual(r.body, readFileSync(WEB + file));
    isolated(r.headers);
  }
});

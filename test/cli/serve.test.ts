// `dllm serve` as a process: it prints its URL, serves two models given with --model twice, and on SIGTERM
// stops accepting, lets the in-flight stream finish with [DONE], and exits 0. Bad flags fail with one line.
// Start-up waits up to 30 s for the URL line: a loaded 2-core machine (training beside the tests) is slow to load models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const LLADA = new URL('../../../test/fixtures/llada', import.meta.url).pathname;
const LLAMA = new URL('../../../test/fixtures/llama', import.meta.url).pathname;

test('dllm serve: two models, then SIGTERM drains the in-flight request and exits 0', async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', LLADA, '--model', LLAMA, '--port', '0', '--threads', '1', '--quiet']);
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = once(child, 'exit');
  try {
    for (let i = 0; i < 1200 && !/on (http:\/\/\S+)/.test(err); i++) await new Promise((r) => setTimeout(r, 25));
    const url = /on (http:\/\/\S+)/.exec(err)?.[1];
    assert.ok(url, `no URL in: ${err}`);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['llada', 'llama'],
    );
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'abc', max_tokens: 64, decoder: 'fixed', steps: 64, blockLength: 8, earlyStop: false, stream: true }),
    });
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value); // decoding is under way
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.match(text, /data: \[DONE\]\n\n$/, 'the in-flight stream finished');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.match(err, /SIGTERM, draining 1 request/);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('dllm serve: an unknown flag or a bad value fails with one line', async () => {
  for (const [args, pattern] of [
    [['--bogus'], /bogus/],
    [['--batch-size', '0'], /batchSize/],
    [['--dtype', 'f8'], /--dtype/],
  ] as const) {
    const r = await run(process.execPath, [CLI, 'serve', '--model', LLADA, ...args]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.ok(r && r.code !== 0, `${args.join(' ')} must fail`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('dllm serve --help prints usage with every server flag', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'serve', '--help']);
  assert.match(stdout, /^usage: dllm serve/);
  for (const f of ['--port', '--cors', '--request-timeout-ms', '--queue-size']) assert.ok(stdout.includes(f), f);
});

test('dllm serve stops when the process that started it dies (npx, a shell, a service manager)', async () => {
  // a shell parent that is killed outright, as npm exec is on SIGTERM: the server must not serve on as an orphan
  const sh = spawn('sh', ['-c', `"${process.execPath}" "${CLI}" serve --model "${LLADA}" --port 0 --threads 1 --quiet & wait`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  sh.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  try {
    for (let i = 0; i < 1200 && !/on (http:\/\/\S+)/.test(err); i++) await new Promise((r) => setTimeout(r, 25));
    const url = /on (http:\/\/\S+)/.exec(err)?.[1];
    assert.ok(url, `no URL in: ${err}`);
    assert.equal((await fetch(`${url}/health`)).status, 200);
    sh.kill('SIGKILL');
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = await fetch(`${url}/health`).then(
        () => true,
        () => false,
      );
    }
    assert.equal(alive, false, 'the server still answers 4 s after its parent died');
  } finally {
    sh.kill('SIGKILL'); // the server, re-parented, stops by itself within PARENT_POLL_MS
    sh.stderr.destroy();
  }
});

// The decoding commands end to end on the tiny fixture checkpoint: generate --json fields, infill keeps the
// suffix out of the output, chat renders the template and answers, bad flags fail with one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const MODEL = new URL('../../../test/fixtures/llada', import.meta.url).pathname;

test('generate --json prints the result fields Fast-dLLM reports', async () => {
  const { stdout } = await run(process.execPath, [
    CLI,
    'generate',
    'hello',
    '--model',
    MODEL,
    '--gen-length',
    '16',
    '--block-length',
    '8',
    '--decoder',
    'fixed',
    '--steps',
    '16',
    '--json',
  ]);
  const r = JSON.parse(stdout) as Record<string, unknown>;
  for (const key of ['text', 'ids', 'finishReason', 'nfe', 'tokensPerForward', 'elapsedMs', 'tokensPerSecond']) assert.ok(key in r, key);
  assert.ok(Array.isArray(r['ids']) && (r['ids'] as number[]).length <= 16);
  assert.equal(r['nfe'], r['finishReason'] === 'length' ? 16 : r['nfe']);
});

test('every decoder runs from the CLI, with and without caches', async () => {
  for (const [decoder, cache] of [
    ['threshold', 'dual'],
    ['factor', 'prefix'],
    ['origin', 'none'],
    ['entropy', 'none'],
  ] as const) {
    const { stdout } = await run(process.execPath, [
      CLI,
      'generate',
      'x',
      '--model',
      MODEL,
      '--gen-length',
      '8',
      '--decoder',
      decoder,
      '--cache',
      cache,
      '--json',
    ]);
    assert.ok(JSON.parse(stdout).nfe >= 1, `${decoder} ${cache}`);
  }
});

test('infill and chat run on a checkpoint with a chat template', async () => {
  const inf = await run(process.execPath, [
    CLI,
    'infill',
    '--model',
    MODEL,
    '--prefix',
    'a',
    '--suffix',
    'b',
    '--gen-length',
    '8',
    '--json',
  ]);
  assert.ok(JSON.parse(inf.stdout).ids.length <= 8);
  const child = spawn(process.execPath, [CLI, 'chat', '--model', MODEL, '--gen-length', '8', '--steps', '8', '--block-length', '8']);
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stdin.end('hi\n\n');
  const code = await new Promise<number>((res) => child.on('close', res));
  assert.equal(code, 0);
  assert.ok(out.length > 0, 'an answer was printed');
});

test('bad flags: one line, exit 1', async () => {
  for (const args of [['--decoder', 'nope'], ['--gen-length', 'x'], ['--cache', 'all'], ['--bogus']]) {
    const r = await run(process.execPath, [CLI, 'generate', 'x', '--model', MODEL, ...args]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    assert.ok(r && r.code === 1, `${args.join(' ')} exits 1`);
    assert.equal(r!.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r!.stderr}`);
  }
});

test('generate --help and infill --help print usage (exit 0); infill without --suffix is an error', async () => {
  for (const cmd of ['generate', 'infill']) {
    const { stdout } = await run(process.execPath, [CLI, cmd, '--help']);
    assert.match(stdout, new RegExp(`^usage: dllm ${cmd}`), cmd);
    assert.match(stdout, /--gen-length X\s+default 128/, `${cmd}: the decoder flags with their defaults`);
  }
  const r = await run(process.execPath, [CLI, 'infill', '--model', MODEL, '--prefix', 'a']).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  assert.ok(r && r.code === 1, 'exit 1');
  assert.match(r!.stderr, /needs --suffix/);
});

test('special-token strings in a CLI prompt are plain text', async () => {
  const { stdout } = await run(process.execPath, [CLI, 'generate', 'x = "<|mdm_mask|>"', '--model', MODEL, '--gen-length', '8', '--json']);
  assert.ok(JSON.parse(stdout).nfe >= 1, 'the mask string in the prompt did not reach the decoder as a mask');
});

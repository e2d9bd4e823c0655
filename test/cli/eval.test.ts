// dllm eval end to end on the tiny fixture checkpoints: HumanEval with --limit writes one JSON line per
// sample and a summary; a rerun resumes (does not regenerate what is there); other settings in the same
// folder are refused; ppl gives nats/token and bits/byte for a diffusion and a causal model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const LLADA = new URL('../../../test/fixtures/llada', import.meta.url).pathname;
const LLAMA = new URL('../../../test/fixtures/llama', import.meta.url).pathname;
const DATA = new URL('../../../test/fixtures/eval-data', import.meta.url).pathname;

test('eval humaneval: JSONL per sample, summary, resume, settings guard', async () => {
  const out = mkdtempSync(join(tmpdir(), 'dllm-eval-'));
  const args = [
    CLI,
    'eval',
    'humaneval',
    '--model',
    LLADA,
    '--limit',
    '2',
    '--out',
    out,
    '--gen-length',
    '8',
    '--block-length',
    '8',
    '--quiet',
    '--data',
    DATA,
  ];
  const r = await run(process.execPath, args);
  assert.match(r.stdout, /humaneval llada: pass@1 0\.0 % \(0\/2\)/);
  const lines = readFileSync(join(out, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => l.id),
    ['HumanEval/0', 'HumanEval/1'],
  );
  for (const l of lines) for (const k of ['passed', 'status', 'completion', 'tokens', 'nfe', 'ms']) assert.ok(k in l, k);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.samples, 2);
  assert.equal(summary.metric, 'pass@1');
  // resume: a marked line survives the rerun, nothing is regenerated, one more sample is added
  writeFileSync(
    join(out, 'samples.jsonl'),
    readFileSync(join(out, 'samples.jsonl'), 'utf8').replace('"HumanEval/0","passed":false', '"HumanEval/0","passed":true'),
  );
  const again = await run(
    process.execPath,
    args.map((a) => (a === '2' ? '3' : a)),
  );
  assert.match(again.stdout, /\(1\/3\)/, 'the kept record counts, only HumanEval/2 was new');
  const other = await run(process.execPath, [...args, '--threshold', '0.5']).then(
    () => null,
    (e: { stderr: string }) => e,
  );
  assert.ok(other, 'other settings in the same folder must fail');
  assert.match(other.stderr, /other settings/);
});

test('eval ppl: diffusion (ELBO bound) and causal (exact) in nats/token and bits/byte', async () => {
  const data = join(mkdtempSync(join(tmpdir(), 'dllm-ppl-')), 'held-out.txt');
  writeFileSync(data, 'def add(a, b):\n    return a + b\n'.repeat(40));
  for (const [model, estimator] of [
    [LLADA, /ELBO/],
    [LLAMA, /exact/],
  ] as const) {
    const out = mkdtempSync(join(tmpdir(), 'dllm-ppl-out-'));
    const r = await run(process.execPath, [
      CLI,
      'eval',
      'ppl',
      '--model',
      model,
      '--data',
      data,
      '--windows',
      '2',
      '--window-length',
      '32',
      '--mc',
      '2',
      '--mc-batch',
      '2',
      '--out',
      out,
    ]);
    assert.match(r.stdout, estimator);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.windows, 2);
    assert.equal(s.tokens, 64);
    assert.ok(s.natsPerToken > 0 && Number.isFinite(s.bitsPerByte) && s.bitsPerByte > 0);
    assert.ok(Math.abs(s.bitsPerByte - (s.natsPerToken * s.tokens) / (s.bytes * Math.LN2)) < 1e-9);
  }
  const bad = await run(process.execPath, [CLI, 'eval', 'ppl', '--model', LLADA]).then(
    () => null,
    (e: { stderr: string }) => e,
  );
  assert.match(bad!.stderr, /needs --data/);
});

test('eval ppl --docs all: whole documents, so models with different tokenizers score the same bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-ppl-docs-'));
  const texts = ['def add(a, b):\n    return a + b\n'.repeat(9), 'x = "héllo"  # ünïcode\n'.repeat(5)];
  texts.forEach((t, i) => writeFileSync(join(dir, `doc${i}.py`), t));
  const bytes = texts.reduce((s, t) => s + Buffer.byteLength(t, 'utf8'), 0);
  for (const model of [LLADA, LLAMA]) {
    const out = mkdtempSync(join(tmpdir(), 'dllm-ppl-out-'));
    const args = ['--model', model, '--data', dir, '--docs', 'all', '--window-length', '16', '--mc', '1', '--mc-batch', '2', '--out', out];
    await run(process.execPath, [CLI, 'eval', 'ppl', ...args]);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(s.documents, 2, `${model}: documents`);
    assert.equal(s.bytes, bytes, `${model}: the documents' own bytes, whatever the tokenizer`);
    assert.ok(s.tokens >= 2 && s.windows >= Math.ceil(s.tokens / 16), `${model}: ${s.tokens} tokens in ${s.windows} windows`);
    assert.ok(Number.isFinite(s.bitsPerByte) && s.bitsPerByte > 0, `${model}: bits/byte ${s.bitsPerByte}`);
  }
  const bad = await run(process.execPath, [CLI, 'eval', 'ppl', '--model', LLAMA, '--data', dir, '--docs', '0']).then(
    () => null,
    (e: { stderr: string }) => e,
  );
  assert.match(bad!.stderr, /--docs must be an integer ≥ 1/);
});

test('dllm bench: one run writes bench.json, bench.md, bench.svg and the docs page from them', async () => {
  const out = mkdtempSync(join(tmpdir(), 'dllm-bench-'));
  await run(process.execPath, [
    CLI,
    'bench',
    '--model',
    LLADA,
    '--twin',
    LLAMA,
    '--limit',
    '1',
    '--gen-length',
    '8',
    '--block-length',
    '8',
    '--forward-tokens',
    '16',
    '--data',
    DATA,
    '--out',
    out,
    '--docs',
    join(out, 'benchmarks.md'),
  ]);
  const r = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
  assert.deepEqual(
    r.speed.map((s: { kind: string }) => s.kind),
    [...Array(7).fill('diffusion'), 'causal'], // fixed, threshold (none, prefix, dual), τ 0.7 dual, factor dual, threshold + block; the AR twin
  );
  assert.ok(
    r.speed.some((s: { cache: string }) => s.cache === 'block'),
    'the exact block-causal cache is one of the settings',
  );
  for (const s of r.speed)
    for (const k of ['tokensPerSecond', 'tpf', 'nfe', 'firstTokenMs', 'pass1']) assert.equal(typeof s[k], 'number', `${s.setting} ${k}`);
  assert.equal(r.forward.length, 2);
  assert.ok(r.forward.every((f: { dllmMs: number }) => f.dllmMs > 0));
  const md = readFileSync(join(out, 'bench.md'), 'utf8');
  assert.match(md, /\| llada \| (ort|wasm) \| threshold 0\.9 \+ dual cache \| dual \|/);
  assert.match(readFileSync(join(out, 'bench.svg'), 'utf8'), /^<svg [^>]*>[\s\S]*<rect /);
  const docs = readFileSync(join(out, 'benchmarks.md'), 'utf8');
  assert.match(docs, /Generated by `dllm bench --model /);
  assert.match(docs, /Machine: .*cores; Node\.js v\d+/);
  assert.ok(docs.includes(md.trim().split('\n')[2]!), 'the docs page carries the generated table');
});

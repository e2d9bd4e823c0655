// The eval harness's two new paths: an AR model whose tokenizer has FIM sentinels infills in PSM order
// (prefix and suffix both reach it), one without them continues the prefix; `dllm eval syntax` scores
// 64-token completions by whether they parse.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EvalModel } from '../../src/cli/eval-model.js';
import { FIM_TOKENS } from '../../src/data/fim.js';
import { parseDecodeOptions } from '../../src/sampler/index.js';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const LLAMA = new URL('../../../test/fixtures/llama', import.meta.url).pathname;
const DATA = new URL('../../../test/fixtures/eval-data', import.meta.url).pathname;

/** the llama fixture with the three FIM sentinels added to its tokenizer (ids 285–287 are spare rows of its 288) */
function llamaWithFim(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'dllm-fim-')), 'llama-fim');
  cpSync(LLAMA, dir, { recursive: true });
  const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  [FIM_TOKENS.prefix, FIM_TOKENS.middle, FIM_TOKENS.suffix].forEach((content, i) =>
    tj.added_tokens.push({ id: 285 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }),
  );
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tj));
  return dir;
}

test('AR infilling: with FIM tokens the prompt is <pre> prefix <suf> suffix <mid>; without them only the prefix', async () => {
  const o = parseDecodeOptions({ genLength: 4 });
  const prefix = 'def add(a, b):\n    ',
    suffix = '\n    return c\n';
  const plain = await EvalModel.load(LLAMA, 'llama', { backend: 'wasm' }, 'none');
  const fim = await EvalModel.load(llamaWithFim(), 'llama-fim', { backend: 'wasm' }, 'none');
  try {
    const n = (s: string) => plain.tok.encode(s).length;
    assert.equal(plain.infills, false);
    assert.equal(fim.infills, true);
    assert.equal((await plain.complete(prefix, suffix, o)).promptTokens, n(prefix), 'without sentinels the suffix is not seen');
    assert.equal((await fim.complete(prefix, suffix, o)).promptTokens, n(prefix) + n(suffix) + 3, 'prefix + suffix + 3 sentinels');
  } finally {
    plain.dispose();
    fim.dispose();
  }
});

test('eval syntax: HumanEval prompts, a parse check per completion, metric "parses"', async () => {
  const out = mkdtempSync(join(tmpdir(), 'dllm-syntax-'));
  const r = await run(process.execPath, [
    CLI,
    'eval',
    'syntax',
    '--model',
    LLAMA,
    '--limit',
    '2',
    '--out',
    out,
    '--gen-length',
    '8',
    '--quiet',
    '--data',
    DATA,
  ]);
  assert.match(r.stdout, /^syntax llama: parses \d+\.\d % \(\d\/2\)/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.metric, 'parses');
  assert.equal(summary.decode.genLength, 8);
  for (const l of readFileSync(join(out, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((x) => JSON.parse(x))) {
    assert.equal(l.passed, l.status === 'parses', `${l.id}: passed and status agree`);
    assert.equal(l.status === 'syntax-error', l.error !== '', `${l.id}: a failed parse carries Python's error`);
    // the prompt parses on its own, so writing nothing must not count as parsing
    assert.equal(l.status === 'empty', l.completion.trim() === '', `${l.id}: an empty completion is "empty"`);
  }
});

// llama-server's editor limits on a Job (serve/job.ts), step by step with a real tokenizer: `t_max_predict_ms`
// stops once a newline has been generated and the budget has passed (stop_type "limit", what has settled);
// `n_indent` ends the completion before a later line indented less than asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TextTokenizer } from '../../src/tokenizer/index.js';
import { parseDecodeOptions } from '../../src/sampler/index.js';
import { parseGenRequest } from '../../src/serve/protocol.js';
import { Job } from '../../src/serve/job.js';
import type { Outcome } from '../../src/serve/engine.js';

const DIR = fileURLToPath(new URL('../../../test/fixtures/llada/', import.meta.url));
const json = (f: string) => JSON.parse(readFileSync(DIR + f, 'utf8')) as Record<string, unknown>;
const tok = new TextTokenizer({
  tokenizerJson: json('tokenizer.json'),
  tokenizerConfig: json('tokenizer_config.json'),
  modelConfig: json('config.json'),
});

function jobFor(body: Record<string, unknown>, G: number): { job: Job; done: Promise<Outcome> } {
  const req = parseGenRequest('infill', { input_prefix: 'def f():\n', input_suffix: '\n', ...body });
  const p = {
    req,
    promptIds: tok.encode('def f():\n'),
    suffixIds: null,
    options: parseDecodeOptions({ genLength: G }),
    structure: null,
    constraint: null,
    healing: null,
  };
  let resolve!: (o: Outcome) => void;
  const done = new Promise<Outcome>((r) => {
    resolve = r;
  });
  const job = new Job(p, { signal: new AbortController().signal }, performance.now(), tok, true, resolve, () => {});
  job.start();
  return { job, done };
}

const step = (ids: Int32Array) => ({ row: 0, step: 0, block: 0, nfe: 1, forward: 1, committed: [], canvas: ids, finished: false });

test('t_max_predict_ms: past the budget, the job stops at a step whose settled text has a newline', async () => {
  const oneLine = tok.encode('    return 1'),
    twoLines = tok.encode('    return 1\n    pass');
  const { job } = jobFor({ t_max_predict_ms: 1 }, twoLines.length);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(job.onStep(step(oneLine)), false, 'no newline yet: it goes on');
  assert.equal(job.onStep(step(twoLines)), true, 'a newline and the budget spent: it stops');
  const o = job.outcome(null);
  assert.equal(o.stopType, 'limit');
  assert.equal(o.text, '    return 1\n    pass');
  const { job: patient } = jobFor({ t_max_predict_ms: 60_000 }, twoLines.length);
  assert.equal(patient.onStep(step(twoLines)), false, 'within the budget it goes on');
});

test('n_indent: a later line indented less ends the completion, cut before that line', () => {
  const ids = tok.encode('    a = 1\n    b = 2\nprint(a)\n');
  const { job } = jobFor({ n_indent: 4 }, ids.length);
  assert.equal(job.onStep(step(ids)), true);
  const o = job.outcome(null);
  assert.equal(o.text, '    a = 1\n    b = 2\n');
  assert.equal(o.stopType, 'limit');
  const { job: blank } = jobFor({ n_indent: 4 }, ids.length);
  assert.equal(blank.onStep(step(tok.encode('    a = 1\n\n    b = 2'))), false, 'blank lines do not count');
});

// npm run bench:train [-- --data DIR] [-- --steps N] — training throughput of both engines on the same
// config in one run: the TypeScript trainer (our wasm kernels) and the torch engine (PyTorch, bf16 autocast
// on the CPU), each as `dllm train` on the same data, the same model (the shipped models' shape, vocabulary
// 8192), the same batch. Reports tokens/s and GFLOP/s (6·N·tokens/s, N = parameters; the first step, which
// pays for warm-up, is left out) and the ratio torch / TypeScript. Writes bench/results/train.{json,md}.
// Not a test. Run it on a quiet machine (pause any training run: kill -STOP, then -CONT).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/model/config.js';
import { numel, parameterTable } from '../src/model/params.js';

const { values } = parseArgs({
  options: { data: { type: 'string' }, steps: { type: 'string', default: '6' }, out: { type: 'string', default: 'bench/results' } },
});
const CLI = new URL('../../bin/dllm.js', import.meta.url).pathname;
const SHAPE = { hiddenSize: 256, numLayers: 6, numHeads: 4, numKvHeads: 4, ffnSize: 704, seqLen: 256, batchSize: 16, vocabSize: 8192 };
const steps = Number(values.steps);
const tmp = mkdtempSync(join(os.tmpdir(), 'dllm-bench-train-'));

function dataDir(): string {
  if (values.data) return values.data;
  // no corpus given: the repo's own TypeScript sources as text (the speed does not depend on what the tokens are)
  const dir = join(tmp, 'data');
  execFileSync(
    process.execPath,
    [CLI, 'data', 'build', '--input', new URL('../../src', import.meta.url).pathname, '--ext', '.ts', '--out', dir, '--vocab-size', '1024'],
    { stdio: 'inherit' },
  );
  return dir;
}

function run(engine: 'ts' | 'torch', objective: 'ar' | 'mdm', data: string): { tps: number; steps: number } {
  const out = join(tmp, `${engine}-${objective}`);
  const flags = Object.entries(SHAPE).flatMap(([k, v]) => [`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`, String(v)]);
  execFileSync(
    process.execPath,
    [
      CLI,
      'train',
      '--engine',
      engine,
      '--objective',
      objective,
      '--arch',
      objective === 'ar' ? 'llama' : 'llada',
      '--data',
      data,
      '--out',
      out,
      '--steps',
      String(steps),
      '--eval-every',
      '100000',
      '--checkpoint-every',
      '100000',
      '--threads',
      '0',
      '--quiet',
      ...flags,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const ev = readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number | string>)
    .filter((e) => e['event'] === 'step');
  const a = ev[0]!,
    b = ev[ev.length - 1]!;
  return {
    tps: ((Number(b['tokens']) - Number(a['tokens'])) / (Number(b['elapsedMs']) - Number(a['elapsedMs']))) * 1000,
    steps: ev.length,
  };
}

const data = dataDir();
const params = parameterTable(
  validateConfig({
    arch: 'llada',
    vocabSize: SHAPE.vocabSize,
    hiddenSize: SHAPE.hiddenSize,
    numLayers: SHAPE.numLayers,
    numHeads: SHAPE.numHeads,
    numKvHeads: SHAPE.numKvHeads,
    headDim: SHAPE.hiddenSize / SHAPE.numHeads,
    ffnSize: SHAPE.ffnSize,
    ropeTheta: 10000,
    normEps: 1e-5,
    tieEmbeddings: false,
    qkvBias: false,
    attention: 'bidirectional',
    shiftLogits: false,
    maxPositions: 1024,
  }),
).reduce((s, p) => s + numel(p.shape), 0);
const rows: Record<string, unknown>[] = [];
for (const objective of ['ar', 'mdm'] as const) {
  const ts = run('ts', objective, data),
    torch = run('torch', objective, data);
  const gf = (tps: number) => +((6 * params * tps) / 1e9).toFixed(1);
  rows.push({
    objective,
    params,
    tsTokensPerSecond: Math.round(ts.tps),
    torchTokensPerSecond: Math.round(torch.tps),
    tsGflops: gf(ts.tps),
    torchGflops: gf(torch.tps),
    ratio: +(torch.tps / ts.tps).toFixed(2),
    steps,
  });
  console.log(JSON.stringify(rows[rows.length - 1]));
}
const result = { bench: 'train', date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, shape: SHAPE, rows };
writeFileSync(join(values.out!, 'train.json'), JSON.stringify(result, null, 2) + '\n');
const md = [
  '# bench:train — both training engines, same config, one run',
  '',
  `${os.cpus().length} × ${os.cpus()[0]?.model}; model ${params.toLocaleString('en')} parameters (d ${SHAPE.hiddenSize}, ${SHAPE.numLayers} layers, vocab ${SHAPE.vocabSize}), batch ${SHAPE.batchSize} × ${SHAPE.seqLen}, ${steps} steps each (the first left out).`,
  '',
  '| objective | TypeScript tok/s | torch tok/s | TypeScript GFLOP/s | torch GFLOP/s | torch / TypeScript |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r['objective']} | ${r['tsTokensPerSecond']} | ${r['torchTokensPerSecond']} | ${r['tsGflops']} | ${r['torchGflops']} | ${r['ratio']}× |`,
  ),
  '',
];
writeFileSync(join(values.out!, 'train.md'), md.join('\n'));
rmSync(tmp, { recursive: true, force: true });

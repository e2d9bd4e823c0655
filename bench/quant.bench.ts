// npm run bench:quant -- --data DIR — what weight storage costs the shipped models (issue 17's 4-bit point):
// for each model at f16 (as shipped), q8 and q4 on the wasm kernels: weight bytes, held-out loss on the same
// validation windows of the corpus (exact NLL for the AR twin; the diffusion model's ELBO bound with the same
// masks for every dtype, one seed), the share of window positions whose top-1 token equals f16's, and the
// share of greedy tokens equal to f16's (the first 64 of each code prompt, library defaults). Writes
// bench/results/quant.{json,md}. Not a test: it measures.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { causalNll, diffusionNll } from '../src/eval/likelihood.js';
import type { Transformer } from '../src/model/forward.js';
import { weightBytes, type WeightDtype } from '../src/model/weights.js';
import { loadModel } from '../src/platform/node-generator.js';
import { DecodeRng } from '../src/sampler/rng.js';

const { values } = parseArgs({
  options: { data: { type: 'string' }, windows: { type: 'string', default: '16' }, mc: { type: 'string', default: '8' } },
});
if (!values.data) throw new Error('bench:quant needs --data DIR: a corpus folder (manifest.json, val.bin) from `dllm data corpus`');
const L = 256,
  WINDOWS = Number(values.windows),
  MC = Number(values.mc);
const manifest = JSON.parse(readFileSync(join(values.data, 'manifest.json'), 'utf8')) as { valBytesPerToken: number };
const val = new Uint16Array(readFileSync(join(values.data, 'val.bin')).buffer.slice(0));
const windows = Array.from({ length: WINDOWS }, (_, w) => Int32Array.from(val.subarray(w * (L + 1), (w + 1) * (L + 1))));
const PROMPTS = ['def fibonacci(n):\n', 'class Stack:\n    def __init__(self):\n', 'def read_json(path):\n'];
const DTYPES: WeightDtype[] = ['f16', 'q8', 'q4'];

/** argmax of each row of logits (R, V) */
const top1 = (logits: Float32Array, V: number) =>
  Array.from({ length: logits.length / V }, (_, r) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[r * V + v]! > logits[r * V + best]!) best = v;
    return best;
  });

interface Row {
  model: string;
  dtype: WeightDtype;
  weightMb: number;
  nllPerToken: number;
  bitsPerByte: number;
  top1Agreement: number;
  greedyAgreement: number;
}
const rows: Row[] = [];
for (const model of ['dllm-code-mini-ar', 'dllm-code-mini']) {
  let base: { top: number[][]; greedy: number[][] } | null = null;
  for (const dtype of DTYPES) {
    const lm = await loadModel(model, { backend: 'wasm', dtype }),
      V = lm.config.vocabSize;
    let nats = 0;
    const top: number[][] = [];
    const rng = new DecodeRng(1); // the same masks for every dtype
    const dl = lm.kind === 'diffusion' ? lm.denoiser('none') : null;
    for (const w of windows) {
      const logits = await lm.model.forward({ tokens: w, B: 1, T: w.length });
      top.push(top1(logits, V));
      nats += dl ? await diffusionNll(dl, w.subarray(1), MC, 8, rng) : causalNll(logits, w, V);
    }
    const greedy: number[][] = [];
    for (const p of PROMPTS) greedy.push(Array.from((await lm.complete(p, { maxTokens: 64, temperature: 0 })).ids));
    base ??= { top, greedy };
    const agree = (a: number[][], b: number[][]) => {
      let same = 0,
        all = 0;
      a.forEach((row, i) => row.forEach((t, j) => ((all += 1), (same += t === b[i]![j] ? 1 : 0))));
      return all ? same / all : 1;
    };
    const nllPerToken = nats / (WINDOWS * L);
    const weights = (lm.model as Transformer).weights;
    const weightMb = [...weights.values()].reduce((a, w) => a + weightBytes(w), 0) / 2 ** 20;
    rows.push({
      model,
      dtype,
      weightMb,
      nllPerToken,
      bitsPerByte: nllPerToken / manifest.valBytesPerToken / Math.LN2,
      top1Agreement: agree(top, base.top),
      greedyAgreement: agree(greedy, base.greedy),
    });
    console.error(JSON.stringify(rows.at(-1)));
    lm.dispose();
  }
}
const md = [
  `# Weight storage and quality — ${new Date().toISOString()}`,
  '',
  `${WINDOWS} held-out windows of ${L} tokens from the corpus's validation split; the diffusion model's loss is its ELBO bound (${MC} masks per window, one seed for every dtype), the AR twin's is exact. Agreement: with the model's own f16 weights. Command: \`npm run bench:quant -- --data DIR\`.`,
  '',
  '| model | weights | MB | held-out bits/byte | nats/token | top-1 = f16 | greedy tokens = f16 |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.dtype} | ${r.weightMb.toFixed(1)} | ${r.bitsPerByte.toFixed(4)} | ${r.nllPerToken.toFixed(4)} | ${(100 * r.top1Agreement).toFixed(1)} % | ${(100 * r.greedyAgreement).toFixed(1)} % |`,
  ),
].join('\n');
console.log(md);
const dir = new URL('../../bench/results/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(
  new URL('quant.json', dir),
  JSON.stringify({ date: new Date().toISOString(), windows: WINDOWS, mc: MC, rows }, null, 2) + '\n',
);
writeFileSync(new URL('quant.md', dir), md + '\n');

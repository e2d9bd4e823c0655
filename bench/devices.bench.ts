// npm run bench:devices — the shipped models as a constrained device sees them (issue 16 item 5, Node side):
// for each model × backend × weight dtype (wasm f32/f16/q8/q4, ort f32/q8/q4), in a fresh process so that the peak
// memory is that configuration's alone: load time, peak resident memory (maxRSS), time to the first settled
// token and tokens/s over the same code prompts (library defaults: threshold 0.9 + early stop for the diffusion
// model, greedy for the AR twin). Writes bench/results/devices.{json,md}. Not a test: it measures.
// DLLM_THREADS sets the threads (default: all cores). Then the browser rows (bench/devices-browser.ts): the
// same library in Chromium on the WASM kernels, f32/f16/q8/q4. DLLM_SKIP_BROWSER=1 leaves them out.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { WeightDtype } from '../src/model/weights.js';
import { loadModel, resolveModel } from '../src/platform/node-generator.js';
import { measureInBrowser, type BrowserRow } from './devices-browser.js';

const PROMPTS = ['def fibonacci(n):\n', 'class Stack:\n    def __init__(self):\n', 'def read_json(path):\n'];
const GEN = 64;
const threads = Number(process.env['DLLM_THREADS'] ?? 0) || os.cpus().length;
const CONFIGS: Array<{ backend: 'wasm' | 'ort'; dtype: WeightDtype }> = [
  { backend: 'wasm', dtype: 'f32' },
  { backend: 'wasm', dtype: 'f16' },
  { backend: 'wasm', dtype: 'q8' },
  { backend: 'wasm', dtype: 'q4' },
  { backend: 'ort', dtype: 'f32' },
  { backend: 'ort', dtype: 'q8' },
  { backend: 'ort', dtype: 'q4' },
];
const MODELS = ['dllm-code-mini', 'dllm-code-mini-ar'];

interface Row {
  model: string;
  backend: string;
  dtype: string;
  loadMs: number;
  peakRssMb: number;
  firstTokenMs: number;
  tokensPerSecond: number;
  tokens: number;
}

/** one configuration, measured inside this (child) process */
async function measure(model: string, backend: 'wasm' | 'ort', dtype: WeightDtype): Promise<Row> {
  const t0 = performance.now();
  const lm = await loadModel(model, { backend, dtype, threads });
  const loadMs = performance.now() - t0;
  try {
    await lm.complete(PROMPTS[0]!, { maxTokens: 8 }); // warm-up: first-run graph planning is not the device's speed
    let tokens = 0,
      ms = 0,
      first = 0;
    for (const p of PROMPTS) {
      const c = await lm.complete(p, { maxTokens: GEN });
      tokens += c.ids.length;
      ms += c.timings.totalMs;
      first += Number.isNaN(c.timings.firstMs) ? c.timings.totalMs : c.timings.firstMs;
    }
    return {
      model,
      backend,
      dtype,
      loadMs,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      firstTokenMs: first / PROMPTS.length,
      tokensPerSecond: (1000 * tokens) / ms,
      tokens,
    };
  } finally {
    lm.dispose();
  }
}

function chromiumVersion(): string {
  try {
    return execFileSync(process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'Chromium';
  }
}

if (process.argv[2] === '--one') {
  const [model, backend, dtype] = process.argv.slice(3) as [string, 'wasm' | 'ort', WeightDtype];
  console.log(JSON.stringify(await measure(model, backend, dtype)));
} else {
  const rows: Row[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const model of MODELS)
    for (const c of CONFIGS) {
      const out = execFileSync(process.execPath, [self, '--one', model, c.backend, c.dtype], {
        encoding: 'utf8',
        env: process.env,
        maxBuffer: 1 << 20,
      });
      const row = JSON.parse(out.trim().split('\n').at(-1)!) as Row;
      rows.push(row);
      console.error(
        `${model} ${c.backend} ${c.dtype}: load ${row.loadMs.toFixed(0)} ms, peak RSS ${row.peakRssMb.toFixed(0)} MB, first token ${row.firstTokenMs.toFixed(0)} ms, ${row.tokensPerSecond.toFixed(1)} tok/s`,
      );
    }
  const browser: BrowserRow[] =
    process.env['DLLM_SKIP_BROWSER'] === '1'
      ? []
      : await measureInBrowser(
          MODELS.map((m) => resolveModel(m)),
          ['f32', 'f16', 'q8', 'q4'],
          PROMPTS,
          GEN,
        );
  for (const r of browser)
    console.error(
      `${r.model} browser ${r.dtype}: load ${r.loadMs.toFixed(0)} ms, peak ${r.peakRssMb.toFixed(0)} MB, ${r.tokensPerSecond.toFixed(1)} tok/s`,
    );
  const md = [
    `# Constrained devices (Node and the browser) — ${new Date().toISOString()}`,
    '',
    `Node ${process.version}, ${os.cpus()[0]?.model}, ${threads} threads, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB. Each row in a fresh process: load (weights + graph/kernels), peak RSS of the process, first settled token and tokens/s over ${PROMPTS.length} code prompts × ${GEN} new tokens (library defaults). Command: \`npm run bench:devices\`.`,
    '',
    '| model | backend | weights | load ms | peak RSS MB | first token ms | tok/s |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.backend} | ${r.dtype} | ${r.loadMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.firstTokenMs.toFixed(0)} | ${r.tokensPerSecond.toFixed(1)} |`,
    ),
    '',
    ...(browser.length
      ? [
          `In the browser: ${chromiumVersion()}, headless, the same library (\`/web/dllm.js\`) on the WASM kernels over Web Workers, each configuration in a fresh browser; peak memory is the renderer process's peak RSS (page + workers). Same prompts and defaults.`,
          '',
          '| model | weights | threads | load ms | peak renderer RSS MB | first token ms | tok/s |',
          '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
          ...browser.map(
            (r) =>
              `| ${r.model} | ${r.dtype} | ${r.threads} | ${r.loadMs.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.firstTokenMs.toFixed(0)} | ${r.tokensPerSecond.toFixed(1)} |`,
          ),
        ]
      : ['The browser rows were skipped (DLLM_SKIP_BROWSER=1).']),
  ].join('\n');
  console.log(md);
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('devices.json', dir), JSON.stringify({ date: new Date().toISOString(), threads, rows, browser }, null, 2) + '\n');
  writeFileSync(new URL('devices.md', dir), md + '\n');
}

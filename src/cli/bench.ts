// dllm bench [--model NAME|DIR] [--twin NAME|DIR] [--limit 10] [--gen-length 128] [--block-length 32]
//            [--threads N] [--out DIR] [--docs FILE]
// dllm bench --roofline …: the step-cost curve and the auto block length (roofline.ts)
// One run, one table: generation speed on a fixed set of code prompts (the first --limit HumanEval prompts)
// for each decoder and cache setting of the diffusion model and for its AR twin — generated tokens up to EOS /
// wall time, tokens per forward (TPF), NFE, time to the first settled token — with the quality of the very
// same completions next to it (HumanEval pass@1 by sandboxed execution); then the forward throughput of both
// models' weights in dllm and in llama.cpp (node-llama-cpp), same threads, same run. Writes OUT/bench.json,
// bench.md, bench.svg, and with --docs a benchmarks page generated from them (machine, versions, command).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { truncate, type CodeSample } from '../eval/tasks.js';
import { createKernels } from '../platform/node.js';
import { parseBackend } from '../platform/node-backend.js';
import { checkAll } from '../platform/node-eval-check.js';
import { DEFAULT_DATA_DIR, loadTask } from '../platform/node-eval-data.js';
import { writeFileAtomic } from '../platform/node-files.js';
import { requireIsolation } from '../platform/node-sandbox.js';
import type { CacheMode } from '../model/diffusion-lm.js';
import { parseDecodeOptions } from '../sampler/index.js';
import { forwardThroughput, type ForwardRow } from '../platform/node-forward-bench.js';
import { benchDocs, benchMarkdown, benchSvg, machineInfo, type BenchReport, type SpeedRow } from './bench-report.js';
import { EvalModel } from './eval-model.js';
import { roofline } from './roofline.js';
import { DEFAULT_MODEL, modelName, resolveModel } from '../platform/node-generator.js';

interface Setting {
  label: string;
  decode: Record<string, unknown>;
  cache: CacheMode;
}

/** the flags of the command (usage.ts lists them) */
export const BENCH_FLAGS = {
  model: { type: 'string', default: DEFAULT_MODEL },
  twin: { type: 'string' },
  limit: { type: 'string', default: '10' },
  'gen-length': { type: 'string', default: '128' },
  'block-length': { type: 'string', default: '32' },
  threads: { type: 'string' },
  out: { type: 'string' }, // default: bench/results/dllm-bench (--roofline: bench/results/roofline)
  docs: { type: 'string' },
  data: { type: 'string' },
  'forward-tokens': { type: 'string', default: '256' },
  backend: { type: 'string' },
  roofline: { type: 'boolean' },
  context: { type: 'string' },
} as const;

export async function bench(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: BENCH_FLAGS,
  });
  if (values.roofline) return roofline(values); // step ms against rows, the ridge, and the block length for --block-length auto
  const int = (k: string) => {
    const v = Number(values[k as keyof typeof values]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
    return v;
  };
  const limit = int('limit'),
    G = int('gen-length'),
    L = int('block-length'),
    FT = int('forward-tokens');
  const threads = values.threads === undefined ? 0 : int('threads');
  requireIsolation(); // pass@1 runs the completions: refuse now rather than after the generation
  const dir = resolveModel(values.model!),
    name = modelName(dir);
  const twinDir = resolveModel(values.twin ?? `${name}-ar`),
    twinName = modelName(twinDir);
  const samples = (loadTask('humaneval', resolve(values.data ?? DEFAULT_DATA_DIR)).samples as CodeSample[]).slice(0, limit);
  const settings: Setting[] = [
    { label: 'fixed (LLaDA, steps = gen)', decode: { decoder: 'fixed', steps: G }, cache: 'none' },
    { label: 'threshold 0.9', decode: { decoder: 'threshold', threshold: 0.9 }, cache: 'none' },
    { label: 'threshold 0.9 + prefix cache', decode: { decoder: 'threshold', threshold: 0.9 }, cache: 'prefix' },
    { label: 'threshold 0.9 + dual cache', decode: { decoder: 'threshold', threshold: 0.9 }, cache: 'dual' },
    { label: 'threshold 0.7 + dual cache', decode: { decoder: 'threshold', threshold: 0.7 }, cache: 'dual' },
    { label: 'factor 1 + dual cache', decode: { decoder: 'factor', factor: 1 }, cache: 'dual' },
    // exact for block-causally trained models (the -bd model); on a bidirectional one it changes the attention
    {
      label: 'threshold 0.9 + block cache (block-causal)',
      decode: { decoder: 'threshold', threshold: 0.9, blockCausal: true },
      cache: 'block',
    },
  ];
  // a block-diffusion model (bd_size): its own blocks, the exact block cache, one token per step against thresholds
  const blockSettings = (bd: number): Setting[] => [
    {
      label: `one token per step (blocks of ${bd}, block cache)`,
      decode: { decoder: 'fixed', steps: G, blockCausal: true },
      cache: 'block',
    },
    ...[0.9, 0.7, 0.5].map((t) => ({
      label: `threshold ${t} (blocks of ${bd}, block cache)`,
      decode: { decoder: 'threshold', threshold: t, blockCausal: true },
      cache: 'block' as const,
    })),
  ];
  const backend = parseBackend(values.backend);
  const k = await createKernels(threads ? { threads } : {}); // our wasm engine, for the forward comparison
  const t0 = performance.now();
  const speed: SpeedRow[] = [];
  try {
    const runSetting = async (model: EvalModel, label: string, decode: Record<string, unknown>, cache: Setting['cache'] | 'kv') => {
      const o = parseDecodeOptions({ earlyStop: true, genLength: G, blockLength: model.config.bdSize ?? L, ...decode });
      let tokens = 0,
        ms = 0,
        nfe = 0,
        first = 0;
      const pairs: Array<{ sample: CodeSample; completion: string }> = [];
      for (const s of samples) {
        // both models run to EOS or gen length (the same work); the stop cut is applied for pass@1
        const c = await model.complete(s.prompt, null, o, [], cache === 'kv' ? 'none' : cache);
        tokens += c.tokens;
        ms += c.ms;
        nfe += c.nfe;
        first += Number.isNaN(c.firstMs) ? c.ms : c.firstMs;
        pairs.push({ sample: s, completion: truncate(c.text, s.stop) });
      }
      const passed = (await checkAll(pairs)).filter((r) => r.status === 'passed').length;
      const row: SpeedRow = {
        model: model.name,
        kind: model.kind,
        backend: model.backend,
        setting: label,
        cache,
        prompts: samples.length,
        tokens,
        seconds: ms / 1000,
        tokensPerSecond: ms ? (tokens * 1000) / ms : 0,
        tpf: nfe ? tokens / nfe : 0,
        nfe: nfe / samples.length,
        firstTokenMs: first / samples.length,
        pass1: passed / samples.length,
      };
      speed.push(row);
      console.error(
        `${model.name} ${label}: ${row.tokensPerSecond.toFixed(1)} tok/s, TPF ${row.tpf.toFixed(2)}, NFE ${row.nfe.toFixed(1)}, pass@1 ${(100 * row.pass1).toFixed(1)} %`,
      );
    };
    const model = await EvalModel.load(dir, name, { backend, threads }, 'none'); // loaded once: the cache is per call
    const bd = model.config.bdSize;
    try {
      for (const st of bd !== undefined ? blockSettings(bd) : settings) await runSetting(model, st.label, st.decode, st.cache);
    } finally {
      model.dispose();
    }
    const twin = await EvalModel.load(twinDir, twinName, { backend, threads }, 'none');
    try {
      await runSetting(twin, 'AR greedy (KV cache)', { decoder: 'origin' }, 'kv');
    } finally {
      twin.dispose();
    }
    const forward: ForwardRow[] = [];
    for (const [d, n] of [
      [dir, name],
      [twinDir, twinName],
    ] as const) {
      const r = await forwardThroughput(d, n, k, 1, FT);
      forward.push(r);
      console.error(`forward ${n} 1×${FT}: dllm ${r.dllmMs.toFixed(1)} ms, llama.cpp ${r.llamaCppMs?.toFixed(1) ?? '—'} ms ${r.note}`);
    }
    const command = `dllm bench ${argv.join(' ')}`.trim();
    const report: BenchReport = {
      date: new Date().toISOString(),
      command,
      machine: await machineInfo(k),
      genLength: G,
      blockLength: bd ?? L, // a block-diffusion model decodes in its own blocks
      prompts: `first ${samples.length} HumanEval prompts`,
      speed,
      forward,
      wallSeconds: (performance.now() - t0) / 1000,
    };
    const out = resolve(values.out ?? 'bench/results/dllm-bench');
    mkdirSync(out, { recursive: true });
    await writeFileAtomic(join(out, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFileAtomic(join(out, 'bench.md'), benchMarkdown(report));
    await writeFileAtomic(join(out, 'bench.svg'), benchSvg(report));
    if (values.docs) await writeFileAtomic(resolve(values.docs), benchDocs(report, join(out, 'bench.svg'), resolve(values.docs)));
    console.log(benchMarkdown(report));
    return 0;
  } finally {
    k.dispose();
  }
}

// npm run bench:kernels — matmul GFLOP/s of the wasm engine at 1 and 2 threads beside OpenBLAS (numpy) measured
// in the same run, GEMV bandwidth beside a copy-bandwidth probe, the in-L1 ceiling of the 128-bit micro-kernel,
// and the thread pool's dispatch overhead. Writes bench/results/kernels.{json,md}. Not a test: it only measures.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createKernels, nodeWasmPlatform } from '../src/platform/node.js';
import type { WasmKernels } from '../src/kernels/wasm/engine.js';
import { Marshal } from '../src/kernels/wasm/marshal.js';

// M×K×N: out (M, N) = x (M, K) · w (N, K)ᵀ, the shape of a linear layer; the last is the GEMV of AR decoding
/** out (n) = x (n) through the thread pool (copyTask, src/kernels/wasm/assembly/rows.ts): the bandwidth probe */
function poolCopy(k: WasmKernels, out: Float32Array, x: Float32Array, n: number): void {
  const m = new Marshal(k.arena);
  k.pool.run('copyTask', Math.ceil(n / k.c.CHUNK), 16, [m.out(out), m.in(x), n]);
  m.end();
}

const SHAPES: [number, number, number][] = [
  [256, 256, 256],
  [512, 512, 512],
  [1024, 1024, 1024],
  [512, 512, 2048],
  [64, 512, 512],
  [32, 4096, 4096],
  [1, 4096, 4096],
];
const THREADS = [1, 2];

function timeIt(fn: () => void, minMs = 400, minRuns = 5): { median: number; best: number } {
  fn();
  fn();
  const times: number[] = [];
  const t0 = performance.now();
  while ((times.length < minRuns || performance.now() - t0 < minMs) && times.length < 200) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1]!, best: times[0]! };
}

function openblas(threads: number): { version: string; gflops: number[] } | { error: string } {
  try {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    const out = execFileSync('python3', [new URL('../../bench/openblas.py', import.meta.url).pathname, JSON.stringify(SHAPES)], {
      env,
      encoding: 'utf8',
    });
    const r = JSON.parse(out) as { numpy: string; results: { gflops_median: number }[] };
    return { version: `numpy ${r.numpy}`, gflops: r.results.map((x) => x.gflops_median) };
  } catch (e) {
    return { error: `python3 -c 'import numpy' failed here, so no OpenBLAS column: ${(e as Error).message.split('\n')[0]}` };
  }
}

async function microKernelPeak(): Promise<number> {
  // the 6×8 micro-kernel alone on L1-resident panels: the ceiling of 128-bit WASM SIMD on one core
  nodeWasmPlatform.enableRelaxedSimd!();
  const module = await WebAssembly.compile(await nodeWasmPlatform.loadWasm('relaxed'));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64 });
  const inst = await WebAssembly.instantiate(module, { env: { memory } });
  const kernel = inst.exports['kernel6x8'] as (pa: number, pb: number, kc: number, acc: number) => void;
  const kc = 256,
    reps = 20000;
  const t = timeIt(() => {
    for (let r = 0; r < reps; r++) kernel(65536, 65536 * 2, kc, 65536 * 3);
  });
  return (2 * 6 * 8 * kc * reps) / t.median / 1e6;
}

async function main(): Promise<void> {
  const rows: Record<string, number | string>[] = [];
  const blas = Object.fromEntries(THREADS.map((t) => [t, openblas(t)]));
  const extra: Record<string, unknown> = {};
  for (const threads of THREADS) {
    const k = (await createKernels({ backend: 'wasm', threads })) as WasmKernels;
    const b = blas[threads]!;
    SHAPES.forEach(([M, K, N], i) => {
      const x = k.allocF32(M * K),
        w = k.allocF32(N * K),
        out = k.allocF32(M * N);
      for (let j = 0; j < x.length; j++) x[j] = ((j * 7919) % 1000) / 1000 - 0.5;
      for (let j = 0; j < w.length; j++) w[j] = ((j * 104729) % 1000) / 1000 - 0.5;
      const t = timeIt(() => k.matmul(out, x, w, M, K, N, false, true, 1, 0));
      const gflops = (2 * M * K * N) / t.median / 1e6;
      const ref = 'gflops' in b ? b.gflops[i]! : NaN;
      rows.push({
        shape: `${M}×${K}×${N}`,
        threads,
        backend: k.name,
        gflops: +gflops.toFixed(1),
        openblas: +ref.toFixed(1),
        ratio: +(gflops / ref).toFixed(3),
        ms: +t.median.toFixed(3),
      });
      k.free(x);
      k.free(w);
      k.free(out);
    });
    // GEMV 1×4096×4096 against copy bandwidth: a copy moves 2 bytes (read + write) per byte copied
    const n = 4096 * 4096;
    const src = k.allocF32(n),
      dst = k.allocF32(n);
    src.fill(1);
    const tc = timeIt(() => poolCopy(k, dst, src, n));
    const copyGBs = (2 * 4 * n) / tc.median / 1e6;
    const gemvRow = rows.find((r) => r.shape === '1×4096×4096' && r.threads === threads)!;
    const gemvGBs = (4 * n) / (gemvRow.ms as number) / 1e6; // bytes per ms / 1e6 = GB/s; the 64 MiB of weights dominate
    extra[`threads${threads}`] = {
      copyGBs: +copyGBs.toFixed(1),
      gemvGBs: +gemvGBs.toFixed(1),
      gemvOfCopy: +(gemvGBs / copyGBs).toFixed(3),
    };
    k.free(src);
    k.free(dst);
    // dispatch overhead: an op of 2 chunks forced through the pool vs the same work done inline
    const a = k.allocF32(8192),
      c = k.allocF32(8192);
    const reps = 20000;
    const td = timeIt(() => {
      for (let r = 0; r < reps; r++) k.add(a, a, c, 8192);
    });
    const ti = timeIt(() => {
      for (let r = 0; r < reps; r++) k.add(a, a, c, 4096);
    });
    (extra[`threads${threads}`] as Record<string, number>).addUsPerOp8192 = +((td.median / reps) * 1000).toFixed(2);
    (extra[`threads${threads}`] as Record<string, number>).addUsPerOpInline4096 = +((ti.median / reps) * 1000).toFixed(2);
    k.dispose();
  }
  const peak = await microKernelPeak();
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? '?',
    cores: os.availableParallelism(),
    dllm: pkg.version,
    openblas: Object.fromEntries(THREADS.map((t) => [t, 'version' in blas[t]! ? blas[t]!.version : blas[t]!.error])),
    microKernelPeakGflops1T: +peak.toFixed(1),
    matmul: rows,
    bandwidth: extra,
  };
  const md = [
    `# Kernel benchmark — ${result.date}`,
    '',
    `Node ${result.node}, ${result.cpu}, ${result.cores} cores. OpenBLAS via ${result.openblas[1]}. Median of ≥5 runs.`,
    `Shapes M×K×N: out (M, N) = x (M, K) · w (N, K)ᵀ.`,
    '',
    '| shape | threads | dllm GFLOP/s | OpenBLAS GFLOP/s | ratio | ms |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.shape} | ${r.threads} | ${r.gflops} | ${r.openblas} | ${r.ratio} | ${r.ms} |`),
    '',
    `6×8 micro-kernel alone, L1-resident, 1 thread: ${result.microKernelPeakGflops1T} GFLOP/s (the 128-bit SIMD ceiling).`,
    '',
    '| threads | copy GB/s (read+write) | GEMV 1×4096×4096 GB/s | GEMV / copy | pool add 8192 µs/op | inline add 4096 µs/op |',
    '| --- | --- | --- | --- | --- | --- |',
    ...THREADS.map((t) => {
      const e = extra[`threads${t}`] as Record<string, number>;
      return `| ${t} | ${e.copyGBs} | ${e.gemvGBs} | ${e.gemvOfCopy} | ${e.addUsPerOp8192} | ${e.addUsPerOpInline4096} |`;
    }),
  ].join('\n');
  console.log(md);
  const dir = new URL('../../bench/results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  writeFileSync(new URL('kernels.json', dir), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(new URL('kernels.md', dir), md + '\n');
}

await main();

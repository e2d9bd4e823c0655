// Forward throughput of one model folder in dllm (our wasm kernels, and ONNX Runtime) and in llama.cpp
// (node-llama-cpp, a devDependency: absent → the row says so), same weights (an F32 GGUF written by `dllm export --format gguf`), same thread count,
// same process, interleaved runs: B sequences of T tokens, the whole graph once, logits for every token.
// The careful version with flash-attention and F16 variants and a 2-core probe is bench/forward.bench.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernels } from '../kernels/backend.js';
import type { ForwardModel } from '../model/forward.js';
import { openModel } from './node-backend.js';
import { loadModelDir } from './node-model.js';
import { exportGguf } from './node-gguf-export.js';
import { loadLlamaCpp, type NlcContext, type NlcLlama, type NlcModel } from './node-llama-cpp.js';

export interface ForwardRow {
  model: string;
  B: number;
  T: number;
  threads: number;
  /** dllm on our wasm kernels, dllm on ONNX Runtime (null when it does not load), llama.cpp */
  dllmMs: number;
  ortMs: number | null;
  llamaCppMs: number | null;
  ratio: number | null;
  note: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function forwardThroughput(dir: string, name: string, k: Kernels, B: number, T: number, runs = 5): Promise<ForwardRow> {
  const m = await loadModelDir(dir, k);
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % Math.min(256, m.config.vocabSize));
  const row: ForwardRow = { model: name, B, T, threads: k.threads, dllmMs: 0, ortMs: null, llamaCppMs: null, ratio: null, note: '' };
  const tmp = mkdtempSync(join(tmpdir(), 'dllm-bench-'));
  let llama: NlcLlama | null = null,
    model: NlcModel | null = null,
    ctx: NlcContext | null = null;
  let ortModel: ForwardModel | null = null;
  try {
    try {
      ortModel = (await openModel(dir, { backend: 'ort', threads: k.threads })).model;
    } catch (e) {
      row.note = `ORT not measured: ${(e as Error).message.slice(0, 120)}; `;
    }
    try {
      const started = await loadLlamaCpp<NlcLlama>(k.threads);
      if ('skip' in started) throw new Error(started.skip);
      llama = started.llama;
      const gguf = join(tmp, `${name}.gguf`);
      await exportGguf({ checkpoint: dir, out: gguf, dtype: 'f32' });
      model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
      // contextSize T + 1: a sequence holds at most contextSize − 1 tokens per decode call (one graph over all tokens)
      ctx = await model.createContext({ contextSize: T + 1, batchSize: B * T, sequences: B, threads: k.threads });
    } catch (e) {
      row.note += `llama.cpp not measured: ${(e as Error).message.split('\n')[0]!.slice(0, 160)}`;
    }
    const seqs = ctx ? Array.from({ length: B }, () => ctx!.getSequence()) : [];
    const rows = Array.from({ length: B }, (_, b) => Array.from(ids.subarray(b * T, (b + 1) * T)));
    const dllm: number[] = [],
      cpp: number[] = [],
      ortTimes: number[] = [];
    for (let r = -1; r < runs; r++) {
      // run −1 warms them up
      let t0 = performance.now();
      m.model.forward({ tokens: ids, B, T });
      if (r >= 0) dllm.push(performance.now() - t0);
      if (ortModel) {
        t0 = performance.now();
        await ortModel.forward({ tokens: ids, B, T });
        if (r >= 0) ortTimes.push(performance.now() - t0);
      }
      if (ctx) {
        t0 = performance.now();
        await Promise.all(seqs.map((s, b) => s.evaluateWithoutGeneratingNewTokens(rows[b]!)));
        if (r >= 0) cpp.push(performance.now() - t0);
        await Promise.all(seqs.map((s) => s.clearHistory()));
        if (ctx.currentThreads !== k.threads) throw new Error(`llama.cpp ran on ${ctx.currentThreads} threads, asked for ${k.threads}`);
      }
    }
    row.dllmMs = median(dllm);
    if (ortTimes.length) row.ortMs = median(ortTimes);
    if (cpp.length) {
      row.llamaCppMs = median(cpp);
      row.ratio = row.dllmMs / row.llamaCppMs;
    }
    return row;
  } finally {
    await ctx?.dispose();
    await model?.dispose();
    await llama?.dispose();
    ortModel?.dispose();
    m.model.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}

// Greedy AR generation of a model folder in llama.cpp (node-llama-cpp 3.x, prebuilt CPU binaries): the
// folder is written as an F32 GGUF (dllm export), prompts are tokenized by our tokenizer (the same
// vocabulary is in the GGUF) and each sequence is evaluated at temperature 0 until EOS or `gen` tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportGguf } from '../src/platform/node-gguf-export.js';
import { loadLlamaCpp } from '../src/platform/node-llama-cpp.js';
import { loadTokenizer, folderFiles } from '../src/platform/node-model.js';

interface Seq {
  evaluate(tokens: number[], o: Record<string, unknown>): AsyncGenerator<number>;
  clearHistory(): Promise<void>;
}
interface Ctx {
  getSequence(): Seq;
  dispose(): Promise<void>;
}
interface Model {
  createContext(o: Record<string, unknown>): Promise<Ctx>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: Record<string, unknown>): Promise<Model>;
  dispose(): Promise<void>;
}

export async function llamaCppGreedy(
  dir: string,
  prompts: readonly string[],
  gen: number,
  threads: number,
): Promise<{ tokens: number; ms: number; firstMs: number } | { skip: string }> {
  const started = await loadLlamaCpp<Llama>(threads);
  if ('skip' in started) return started;
  const llama = started.llama,
    tmp = mkdtempSync(join(tmpdir(), 'dllm-cpp-gen-'));
  try {
    const gguf = join(tmp, 'ar.gguf');
    await exportGguf({ checkpoint: dir, out: gguf, dtype: 'f32' });
    const model = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
    const ctx = await model.createContext({ contextSize: 512, threads });
    const tok = (await loadTokenizer(folderFiles(dir)))!;
    const eos = tok.specials.eos;
    let tokens = 0,
      ms = 0,
      first = 0;
    const seq = ctx.getSequence();
    for (const [i, p] of ['warm-up', ...prompts].entries()) {
      const t0 = performance.now();
      let n = 0,
        firstMs = 0;
      for await (const t of seq.evaluate(Array.from(tok.encode(p)), { temperature: 0 })) {
        if (!firstMs) firstMs = performance.now() - t0;
        if (t === eos) break;
        if (++n >= gen) break;
      }
      const dt = performance.now() - t0;
      await seq.clearHistory();
      if (i === 0) continue; // the warm-up prompt is not counted
      tokens += n;
      ms += dt;
      first += firstMs;
    }
    await ctx.dispose();
    await model.dispose();
    return { tokens, ms, firstMs: first / prompts.length };
  } catch (e) {
    return { skip: `llama.cpp failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    await llama.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
}

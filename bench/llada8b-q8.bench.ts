// npm run bench:8b — a random model of LLaDA-8B's shape (dllm-reference.md §1.1: d_model 4096, 32 layers,
// 32 heads, FFN 12288, vocab 126464), written on the fly as sharded BF16 safetensors in LLaDA's layout, then
// loaded with --dtype q8: load time, resident memory (RSS) and the time of one forward over a few tokens.
// The checkpoint (≈16 GB) goes to a temp folder and is deleted afterwards; nothing is committed.
import { mkdtemp, rm, writeFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from '../src/io/safetensors.js';
import { toHfConfig, type ModelConfig } from '../src/model/config.js';
import { numel, parameterTable } from '../src/model/params.js';
import { createKernels } from '../src/platform/node.js';
import { loadModelDir } from '../src/platform/node-model.js';
import { Rng } from '../src/train/rng.js';
import { LLADA_8B, LLADA_8B_IDS } from './llada8b-config.js';

async function writeCheckpoint(dir: string, c: ModelConfig): Promise<number> {
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify(toHfConfig(c, { mask_token_id: LLADA_8B_IDS.mask, eos_token_id: LLADA_8B_IDS.eos })),
  );
  const rng = new Rng(8);
  // one random BF16 row pattern reused across tensors keeps generation fast; values ~N(0, 0.02)
  const pattern = new Uint16Array(1 << 20);
  const f = new Float32Array(1),
    u = new Uint32Array(f.buffer);
  for (let i = 0; i < pattern.length; i++) {
    f[0] = rng.normal() * 0.02;
    pattern[i] = u[0]! >>> 16;
  }
  const weightMap: Record<string, string> = {};
  let shard = 0,
    bytes = 0;
  const specs = parameterTable(c);
  // one shard per layer keeps each file ≈ 0.4 GB
  const groups = new Map<string, typeof specs>();
  for (const s of specs) {
    const m = /^layers\.(\d+)\./.exec(s.name);
    const g = m ? `layer${m[1]}` : s.name;
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(s);
  }
  const names = [...groups.keys()];
  for (const g of names) {
    shard++;
    const file = `model-${String(shard).padStart(5, '0')}-of-${String(names.length).padStart(5, '0')}.safetensors`;
    const tensors = groups.get(g)!.map((s) => {
      const n = numel(s.shape),
        data = new Uint16Array(n);
      if (s.kind === 'norm')
        data.fill(0x3f80); // 1.0
      else for (let o = 0; o < n; o += pattern.length) data.set(pattern.subarray(0, Math.min(pattern.length, n - o)), o);
      weightMap[s.hfName] = file;
      return { name: s.hfName, dtype: 'BF16' as const, shape: [...s.shape], data };
    });
    const buf = writeSafetensors(tensors);
    const fh = await open(join(dir, file), 'w');
    await fh.write(buf);
    await fh.close();
    bytes += buf.length;
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }));
  return bytes;
}

const dir = await mkdtemp(join(tmpdir(), 'dllm-8b-'));
try {
  let t = performance.now();
  const bytes = await writeCheckpoint(dir, LLADA_8B);
  console.log(`wrote ${(bytes / 1e9).toFixed(2)} GB of BF16 safetensors in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const k = await createKernels();
  const rss0 = process.memoryUsage().rss;
  t = performance.now();
  const m = await loadModelDir(dir, k, { dtype: 'q8' });
  const loadS = (performance.now() - t) / 1000;
  const rss = process.memoryUsage().rss;
  console.log(
    `loaded at q8 in ${loadS.toFixed(1)} s; weights ${(m.weightBytes / 1e9).toFixed(2)} GB; RSS ${(rss / 1e9).toFixed(2)} GB (before: ${(rss0 / 1e9).toFixed(2)} GB)`,
  );
  const T = 8,
    ids = Int32Array.from({ length: T }, (_, i) => 100 + i);
  t = performance.now();
  m.model.forward({ tokens: ids, B: 1, T, logitRows: Int32Array.of(T - 1) });
  const fwdS = (performance.now() - t) / 1000;
  console.log(
    `forward over ${T} tokens (logits for the last): ${fwdS.toFixed(2)} s; peak RSS ${(process.memoryUsage().rss / 1e9).toFixed(2)} GB`,
  );
  console.log(
    JSON.stringify({
      shape: 'LLaDA-8B',
      dtype: 'q8',
      checkpointGB: bytes / 1e9,
      loadSeconds: loadS,
      weightGB: m.weightBytes / 1e9,
      rssGB: rss / 1e9,
      forward8TokensSeconds: fwdS,
      threads: k.threads,
    }),
  );
  m.model.dispose();
  k.dispose();
} finally {
  await rm(dir, { recursive: true, force: true });
}

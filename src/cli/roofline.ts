// dllm bench --roofline [--model NAME|DIR] [--backend auto|ort|wasm] [--threads N] [--context 256] [--limit 10]
//                       [--gen-length 128] [--out DIR]
// The physics of a diffusion step (DESIGN.md): one forward over b rows costs about max(1, b / ridge) AR steps,
// because below the ridge the step is bound by reading the weights and above it by arithmetic. This measures
// that curve on this machine — ms of one cached forward computing b = 1 … 64 rows against `context` cached
// keys — finds the ridge, measures the model's TPF at each block length (threshold 0.9 + dual cache on the
// first --limit HumanEval prompts), and picks the block length with the most expected tokens per second,
// TPF(L) / ms(L). The result is saved where `--block-length auto` finds it (rooflineFile) and in OUT.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CodeSample } from '../eval/tasks.js';
import { parseBackend } from '../platform/node-backend.js';
import { DEFAULT_DATA_DIR, loadTask } from '../platform/node-eval-data.js';
import { writeFileAtomic } from '../platform/node-files.js';
import { DEFAULT_MODEL, loadModel, modelName, resolveModel } from '../platform/node-generator.js';
import {
  BLOCK_CHOICES,
  bestBlock,
  fileSafe,
  measureRows,
  ridgeOf,
  ROOFLINE_ROWS,
  rooflineFile,
  stepMsAt,
  type BlockChoice,
  type Roofline,
} from '../platform/node-roofline.js';

export async function roofline(values: Record<string, string | boolean | undefined>): Promise<number> {
  const int = (k: string, d: number) => {
    const v = values[k] === undefined ? d : Number(values[k]);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} must be a non-negative integer`);
    return v;
  };
  const threads = int('threads', 0),
    context = int('context', 256),
    limit = int('limit', 10),
    G = int('gen-length', 128);
  const backend = parseBackend(values['backend'] as string | undefined);
  const dir = resolveModel(String(values['model'] ?? DEFAULT_MODEL)),
    name = modelName(dir);
  const lm = await loadModel(dir, { backend, threads });
  try {
    if (lm.kind !== 'diffusion') throw new Error(`roofline: ${name} is causal; the block length is a diffusion setting`);
    const points = await measureRows(lm.model, context, ROOFLINE_ROWS);
    for (const p of points) console.error(`rows ${String(p.rows).padStart(2)}: ${p.ms.toFixed(2)} ms (${p.msPerRow.toFixed(3)} ms/row)`);
    const samples = (loadTask('humaneval', resolve(String(values['data'] ?? DEFAULT_DATA_DIR))).samples as CodeSample[]).slice(0, limit);
    const blocks: BlockChoice[] = [];
    for (const L of BLOCK_CHOICES.filter((b) => G % b === 0)) {
      let tokens = 0,
        nfe = 0,
        ms = 0;
      for (const s of samples) {
        const c = await lm.complete(s.prompt, { maxTokens: G, blockLength: L, decoder: 'threshold', threshold: 0.9, cache: 'dual' });
        tokens += c.ids.length;
        nfe += c.nfe;
        ms += c.timings.totalMs;
      }
      const tpf = nfe ? tokens / nfe : 0,
        stepMs = stepMsAt(points, L);
      blocks.push({
        blockLength: L,
        tpf,
        stepMs,
        expectedTokensPerSecond: (1000 * tpf) / stepMs,
        measuredTokensPerSecond: ms ? (1000 * tokens) / ms : 0,
      });
      console.error(
        `block ${L}: TPF ${tpf.toFixed(2)}, step ${stepMs.toFixed(2)} ms → expected ${((1000 * tpf) / stepMs).toFixed(1)} tok/s (measured ${blocks.at(-1)!.measuredTokensPerSecond.toFixed(1)})`,
      );
    }
    const report: Roofline = {
      model: name,
      backend: lm.backend,
      threads,
      context,
      date: new Date().toISOString(),
      points,
      ridge: ridgeOf(points),
      blocks,
      best: bestBlock(blocks),
    };
    const md = rooflineMarkdown(report);
    const out = resolve(String(values['out'] ?? 'bench/results/roofline'));
    mkdirSync(out, { recursive: true });
    await writeFileAtomic(join(out, `${fileSafe(name)}-${lm.backend}.json`), JSON.stringify(report, null, 2) + '\n');
    await writeFileAtomic(join(out, `${fileSafe(name)}-${lm.backend}.md`), md);
    const saved = rooflineFile(name, lm.backend, threads);
    mkdirSync(join(saved, '..'), { recursive: true });
    await writeFileAtomic(saved, JSON.stringify(report, null, 2) + '\n');
    console.log(md);
    console.error(`saved for --block-length auto: ${saved}`);
    return 0;
  } finally {
    lm.dispose();
  }
}

export function rooflineMarkdown(r: Roofline): string {
  return [
    `# Roofline of ${r.model} on ${r.backend} (${r.threads || 'all'} threads) — ${r.date}`,
    '',
    `One cached forward computing b rows against ${r.context} cached keys (median of 7). Ridge: **${r.ridge.toFixed(1)} rows** ` +
      '(below it a step costs about one AR step; above it, b / ridge).',
    '',
    '| rows b | ms | ms per row | × one row |',
    '| --- | --- | --- | --- |',
    ...r.points.map((p) => `| ${p.rows} | ${p.ms.toFixed(2)} | ${p.msPerRow.toFixed(3)} | ${(p.ms / r.points[0]!.ms).toFixed(2)} |`),
    '',
    'Block length: TPF measured with threshold 0.9 + dual cache; expected tokens/s = TPF / step ms at b = L.',
    '',
    '| block L | TPF | step ms | expected tok/s | measured tok/s |',
    '| --- | --- | --- | --- | --- |',
    ...r.blocks.map(
      (b) =>
        `| ${b.blockLength}${b.blockLength === r.best ? ' (auto)' : ''} | ${b.tpf.toFixed(2)} | ${b.stepMs.toFixed(2)} | ${b.expectedTokensPerSecond.toFixed(1)} | ${b.measuredTokensPerSecond.toFixed(1)} |`,
    ),
    '',
  ].join('\n');
}

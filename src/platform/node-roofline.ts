// The step-cost curve of a diffusion step (DESIGN.md): one forward over b rows costs about max(1, b / ridge) AR
// steps, because below the ridge the step is bound by reading the weights and above it by arithmetic. Measured
// here (measureRows: ms of one cached forward computing b rows against `context` cached keys), the ridge, the
// block length with the most expected tokens/s, TPF(L) / ms(L), and where `--block-length auto` finds the
// saved result (rooflineFile, autoBlockLength). The command that makes it is `dllm bench --roofline` (cli/roofline.ts).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ForwardModel } from '../model/forward.js';

/** rows per forward measured: powers of two up to a 64-row block (Fast-dLLM and SDAR use 4 … 64) */
export const ROOFLINE_ROWS = [1, 2, 4, 8, 16, 32, 64] as const;
/** block lengths whose TPF is measured (the rows of a dual-cache step = the block length) */
export const BLOCK_CHOICES = [4, 8, 16, 32, 64] as const;

export interface RooflinePoint {
  rows: number;
  ms: number;
  msPerRow: number;
}
export interface BlockChoice {
  blockLength: number;
  tpf: number;
  stepMs: number;
  expectedTokensPerSecond: number;
  measuredTokensPerSecond: number;
}
export interface Roofline {
  model: string;
  backend: string;
  threads: number;
  context: number;
  date: string;
  points: RooflinePoint[];
  /** rows at which the step stops being weight-bound: ms(1) · b_max / ms(b_max) */
  ridge: number;
  blocks: BlockChoice[];
  /** the block length with the most expected tokens/s */
  best: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** ms of one forward computing `rows` rows at positions [context, context + rows) over a filled cache of `context` rows */
export async function measureRows(model: ForwardModel, context: number, rowsList: readonly number[], runs = 7): Promise<RooflinePoint[]> {
  const maxRows = Math.max(...rowsList),
    V = model.config.vocabSize;
  if (context + maxRows > model.config.maxPositions)
    throw new Error(`roofline: context ${context} + ${maxRows} rows exceed the model's ${model.config.maxPositions} positions`);
  const cache = model.createCache(1, context + maxRows);
  try {
    const ids = (n: number, salt: number) => Int32Array.from({ length: n }, (_, i) => (i * 7919 + salt) % Math.min(V, 4096));
    await model.forward({ tokens: ids(context, 1), B: 1, T: context, cache, rowStart: 0 }); // the cached past
    const points: RooflinePoint[] = [];
    for (const rows of rowsList) {
      const tokens = ids(rows, rows),
        times: number[] = [];
      for (let r = -2; r < runs; r++) {
        // two warm-ups: ORT plans a new shape on its first run
        const t0 = performance.now();
        await model.forward({ tokens, B: 1, T: rows, cache, rowStart: context, logitRows: Int32Array.from({ length: rows }, (_, i) => i) });
        if (r >= 0) times.push(performance.now() - t0);
      }
      const ms = median(times);
      points.push({ rows, ms, msPerRow: ms / rows });
    }
    return points;
  } finally {
    model.freeCache(cache);
  }
}

/** the ridge of t(b) ≈ max(t(1), b · t(b_max) / b_max): where the compute line crosses the one-row floor */
export function ridgeOf(points: readonly RooflinePoint[]): number {
  const one = points.find((p) => p.rows === 1),
    top = points.reduce((a, b) => (b.rows > a.rows ? b : a));
  if (!one || top.rows === 1) throw new Error('roofline: need the 1-row point and a larger one');
  return (one.ms * top.rows) / top.ms;
}

/** step ms at `rows`, linear between measured points (clamped at the ends) */
export function stepMsAt(points: readonly RooflinePoint[], rows: number): number {
  const p = [...points].sort((a, b) => a.rows - b.rows);
  if (rows <= p[0]!.rows) return p[0]!.ms;
  for (let i = 1; i < p.length; i++) {
    if (rows <= p[i]!.rows) {
      const a = p[i - 1]!,
        b = p[i]!;
      return a.ms + ((rows - a.rows) / (b.rows - a.rows)) * (b.ms - a.ms);
    }
  }
  return p[p.length - 1]!.ms * (rows / p[p.length - 1]!.rows);
}

/** the block length with the most expected tokens/s, TPF(L) / ms(L) */
export function bestBlock(blocks: readonly Pick<BlockChoice, 'blockLength' | 'expectedTokensPerSecond'>[]): number {
  if (blocks.length === 0) throw new Error('roofline: no block lengths measured');
  return blocks.reduce((a, b) => (b.expectedTokensPerSecond > a.expectedTokensPerSecond ? b : a)).blockLength;
}

/** a hub id ORG/NAME as one file name (the Hub cache's own spelling, models--ORG--NAME) */
export const fileSafe = (name: string) => name.replaceAll('/', '--');

/** where `--block-length auto` looks: one file per model, backend and thread count, in the user's cache */
export function rooflineFile(model: string, backend: string, threads: number): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'dllm', 'roofline', `${fileSafe(model)}-${backend}-t${threads}.json`);
}

/** `--block-length auto`: the measured best that divides genLength, or null (with the reason) when none is saved */
export function autoBlockLength(
  model: string,
  backend: string,
  threads: number,
  genLength: number,
): { blockLength: number | null; why: string } {
  const file = rooflineFile(model, backend, threads);
  let r: Roofline;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Roofline;
  } catch {
    return {
      blockLength: null,
      why: `no roofline measured for ${model} on ${backend} with ${threads} threads (run \`dllm bench --roofline --model ${model}\`)`,
    };
  }
  const fits = r.blocks.filter((b) => genLength % b.blockLength === 0);
  if (fits.length === 0) return { blockLength: null, why: `none of the measured block lengths divides ${genLength}` };
  const L = bestBlock(fits);
  return {
    blockLength: L,
    why: `${file}: TPF ${fits.find((b) => b.blockLength === L)!.tpf.toFixed(2)} at L ${L}, ridge ${r.ridge.toFixed(1)} rows`,
  };
}

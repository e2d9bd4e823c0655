// AR decoding behind DecodeBatch's interface (add / step / remove / size), so a server schedules causal and
// diffusion requests with one loop: each step gives every row one token (round robin over their arGenerate
// generators; a causal model has no batched decoder here, each row has its own KV cache).
import type { BatchStep } from './batch.js';
import type { DecodeResult, DecodeStep } from './types.js';
import type { DecodeOptions } from './options.js';
import type { CausalModel } from './types.js';
import { arGenerate } from './ar.js';

interface CausalRow {
  id: number;
  gen: AsyncGenerator<DecodeStep, DecodeResult>;
}

export class CausalBatch {
  private rows: CausalRow[] = [];
  private nextId = 0;

  /** @param model a causal model per request (its KV cache is sized to the request) */
  constructor(private readonly modelFor: (promptLength: number, o: DecodeOptions) => CausalModel) {}

  get size(): number {
    return this.rows.length;
  }
  /** a causal row joins between any two tokens */
  get atBlockBoundary(): boolean {
    return true;
  }

  /** add a request with its resolved AR options; the row's seed is options.seed (arGenerate's own generator) */
  add(req: { prompt: ArrayLike<number> }, o: DecodeOptions): number {
    const row = { id: this.nextId++, gen: arGenerate(this.modelFor(req.prompt.length, o), req, o) };
    this.rows.push(row);
    return row.id;
  }

  /** drop a row; its generator ends (and frees its KV cache) */
  remove(id: number): void {
    const r = this.rows.find((x) => x.id === id);
    this.rows = this.rows.filter((x) => x !== r);
    if (r) void r.gen.return(undefined as never);
  }

  /** one token for every row; rows that finished leave with their results */
  async step(): Promise<BatchStep> {
    const out: BatchStep = { steps: [], finished: [] };
    for (const r of [...this.rows]) {
      const it = await r.gen.next();
      if (it.done) {
        this.rows = this.rows.filter((x) => x !== r);
        out.finished.push({ row: r.id, result: it.value });
      } else out.steps.push({ ...it.value, row: r.id });
    }
    return out;
  }
}

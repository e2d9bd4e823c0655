// The attention ops of the wasm engine (engine.ts delegates): shape checks, the mask's code and
// parameters for assembly/attention.ts, and the work split (forward: a few (b, h, query) rows per claim;
// backward: one (b, kv-head) per item, so dk/dv are summed by one thread in a fixed order).
import type { AttentionShape } from '../backend.js';
import { checkAttentionBackward, checkAttentionForward } from '../ref/attention.js';
import type { Arena } from './arena.js';
import { Marshal } from './marshal.js';
import { ROW_WORK, type ThreadPool } from './pool.js';

const MASK_CODE = { none: 0, causal: 1, blockCausal: 2, blockDiffusion: 3 } as const; // assembly/attention.ts MASK_*

/** what an op needs of the engine: its memory, its threads and each thread's scratch (threads, stride) bytes */
export interface OpContext {
  arena: Arena;
  pool: ThreadPool;
  scratch: number;
  scratchStride: number;
}

function attnArgs(s: AttentionShape): number[] {
  return [s.Tq, s.Tk, s.H, s.Hkv, s.D, s.scale, MASK_CODE[s.mask], s.qStart, s.blockLength > 0 ? s.blockLength : 1];
}

export function wasmAttentionForward(
  c: OpContext,
  out: Float32Array,
  lse: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: AttentionShape,
): void {
  const { B, Tq, Tk, H, D } = s;
  checkAttentionForward(out, lse, q, k, v, s);
  const m = new Marshal(c.arena);
  const ptrs = [m.out(out), m.out(lse), m.in(q), m.in(k), m.in(v), m.in(s.keyValid)];
  const grain = Math.max(1, Math.floor(ROW_WORK / Math.max(1, Tk * D)) * 4);
  c.pool.run('attentionForwardTask', B * H * Tq, grain, [...ptrs, ...attnArgs(s), c.scratch, c.scratchStride]);
  m.end();
}

export function wasmAttentionBackward(
  c: OpContext,
  dq: Float32Array,
  dk: Float32Array,
  dv: Float32Array,
  dout: Float32Array,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  out: Float32Array,
  lse: Float32Array,
  s: AttentionShape,
): void {
  checkAttentionBackward(dq, dk, dv, dout, q, k, v, out, lse, s);
  const m = new Marshal(c.arena);
  const ptrs = [m.out(dq), m.out(dk), m.out(dv), m.in(dout), m.in(q), m.in(k), m.in(v), m.in(out), m.in(lse), m.in(s.keyValid)];
  c.pool.run('attentionBackwardTask', s.B * s.Hkv, 1, [...ptrs, ...attnArgs(s)]);
  m.end();
}

// Compatibility layer for the first decoding API (cli/generate.ts, cli/chat.ts, cli/canvas-view.ts,
// bench/decode.bench.ts, scripts/model-cards.ts): lladaDecode(model, input, options) runs the one loop of
// decode.ts (generateBatch) and regroups its per-row steps into one step per denoiser call, with `rows`
// and `canvases` for batches. New code calls generate / generateBatch and parseDecodeOptions directly.
import type { Denoiser } from './types.js';
import { generateBatch, type GenerateRequest, type DecodeStep as RowStep, type DecodeResult as RowResult } from './decode.js';
import { DECODE_DEFAULTS, type DecodeOptions } from './options.js';

export { transferCounts } from './schedule.js';

export type Selection = 'fixed' | 'threshold' | 'factor';

export type LladaDecodeOptions = Pick<DecodeOptions, 'genLength' | 'blockLength' | 'steps' | 'temperature' | 'remasking' |
  'threshold' | 'factor' | 'logitsEosInf' | 'confidenceEosEotInf' | 'earlyStop' | 'seed'> & { selection: Selection };

export const LLADA_DEFAULTS: Readonly<LladaDecodeOptions> = Object.freeze({
  genLength: DECODE_DEFAULTS.genLength, blockLength: DECODE_DEFAULTS.blockLength, steps: DECODE_DEFAULTS.steps,
  temperature: DECODE_DEFAULTS.temperature, remasking: DECODE_DEFAULTS.remasking, selection: 'fixed' as Selection,
  threshold: DECODE_DEFAULTS.threshold, factor: DECODE_DEFAULTS.factor, logitsEosInf: false, confidenceEosEotInf: false,
  earlyStop: false, seed: 0,
});

export interface Commit { row: number; position: number; token: number; confidence: number; } // position in the generated span

/** one denoiser call: the commits of every row in it */
export interface DecodeStep {
  step: number; // 0-based over the whole decode (= denoiser call index)
  block: number;
  nfe: number; // denoiser calls so far
  committed: Commit[];
  canvas: Int32Array; // (G) generated span of row 0, mask id where undecided — a copy
  canvases: Int32Array[]; // (B) × (G), every row
}

export interface DecodeResult {
  ids: Int32Array; // row 0's generated ids before the first EOS/EoT
  canvas: Int32Array; // row 0's whole generated span
  finishReason: 'stop' | 'length';
  rows: { ids: Int32Array; canvas: Int32Array; finishReason: 'stop' | 'length' }[]; // every row
  nfe: number; // denoiser calls of the batch
  tokensPerForward: number; // generated tokens to EOS over all rows / NFE
  elapsedMs: number;
}

/** What to decode: prompt (prefix), optionally a suffix after the masked span (infilling), pinned tokens. */
export interface DecodeInput {
  prefix: Int32Array;
  suffix?: Int32Array;
  /** ids fixed in advance at positions of the generated span (LLaDA demo's `pos:word`) */
  pinned?: Map<number, number>;
}

function toRequest(d: DecodeInput): GenerateRequest {
  return {
    prompt: d.prefix,
    ...(d.suffix ? { suffix: d.suffix } : {}),
    ...(d.pinned ? { pinned: [...d.pinned].map(([offset, id]) => ({ offset, ids: [id] })) } : {}),
  };
}

export async function* lladaDecode(model: Denoiser, input: Int32Array | DecodeInput | DecodeInput[], options: Partial<LladaDecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const inputs = input instanceof Int32Array ? [{ prefix: input }] : Array.isArray(input) ? input : [input];
  const { selection, ...rest } = options;
  const gen = generateBatch(model, inputs.map(toRequest), { ...rest, decoder: selection ?? 'fixed' });
  const canvases: Int32Array[] = inputs.map(() => new Int32Array(options.genLength ?? DECODE_DEFAULTS.genLength).fill(model.specials.mask));
  let pending: RowStep[] = [];
  const flush = (): DecodeStep => {
    for (const s of pending) canvases[s.row] = s.canvas;
    const first = pending[0]!;
    const out: DecodeStep = {
      step: first.forward - 1, block: first.block, nfe: first.forward,
      committed: pending.flatMap((s) => s.committed.map((c) => ({ row: s.row, ...c }))),
      canvas: canvases[0]!.slice(), canvases: canvases.map((c) => c.slice()),
    };
    pending = [];
    return out;
  };
  let r: IteratorResult<RowStep, RowResult[]>;
  while (!(r = await gen.next()).done) {
    if (pending.length > 0 && pending[0]!.forward !== r.value.forward) yield flush();
    pending.push(r.value);
  }
  if (pending.length > 0) yield flush();
  const res = r.value, nfe = Math.max(0, ...res.map((x) => x.nfe));
  const tokens = res.reduce((a, x) => a + x.ids.length, 0);
  return {
    ids: res[0]!.ids, canvas: res[0]!.canvas, finishReason: res[0]!.finishReason,
    rows: res.map((x) => ({ ids: x.ids, canvas: x.canvas, finishReason: x.finishReason })),
    nfe, tokensPerForward: nfe ? tokens / nfe : 0, elapsedMs: res[0]!.elapsedMs,
  };
}

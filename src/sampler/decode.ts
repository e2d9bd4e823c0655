// THE decoding loop (style.md §3.7 habit 6: one loop, many observers). Every diffusion decoder of
// options.ts runs here; the CLI, the server, the playground and the tests all consume its DecodeSteps, and
// caching is a Denoiser wrapper (model/diffusion-lm.ts), never a copy of this loop.
// Shape of the loop — LLaDA generate.py `generate`, generalised:
//   canvas (B, T) = [left pad | prompt | G masked positions | suffix | right pad] per row; blocks of
//   blockLength over the G positions, left to right (semi-AR); per step: one denoiser call over the rows that
//   still work on the block → propose a token and a confidence per masked position of the block
//   (propose.ts) → choose which to commit (schedule.ts, select.ts) → commit. Committed tokens never change;
//   nothing outside the current block is committed.
// Batching: rows of different lengths are left-padded so their generated spans share columns; keyValid
// hides the padding and positions start at 0 at each row's first real token (Dream's tok_idx), so a row
// decodes as it would alone. Each row stops on its own (early stop, or its block done); the batch shrinks,
// and whenever its rows change the call is flagged blockStart so a cache wrapper refreshes.
// Infilling: a suffix after the masked middle, and pinned ids inside it (LLaDA app.py `pos:word`
// constraints), are decided from the start: never masked, never changed, masked out for the CFG input.
// Letters: B requests, A rows active in one call, T canvas columns, G generated span, L block, V vocabulary.
import type { Denoiser, DenoiseInput } from './types.js';
import { resolveOptions, isDreamDecoder, type DecodeOptions } from './options.js';
import { DecodeRng } from './rng.js';
import { transferCounts, dreamTimesteps, dreamFraction, dreamTransferCount } from './schedule.js';
import { rowLogits, proposeLlada, proposeDream, DreamScratch, guide, type DreamConfidence } from './propose.js';
import { byConfidence, fixedCount, thresholdCount, factorCount, sampleWithoutReplacement, type Candidate } from './select.js';

/** one prompt; ids only (the tokenizer is the caller's) */
export interface GenerateRequest {
  prompt: ArrayLike<number>;
  /** infilling: ids after the masked middle (the middle is genLength positions) */
  suffix?: ArrayLike<number>;
  /** ids pinned inside the generated span: `offset` 0 = first generated position (LLaDA app.py `pos:word`) */
  pinned?: ReadonlyArray<{ offset: number; ids: ArrayLike<number> }>;
  /** this row's own seed: it then draws exactly what it would draw decoded alone with options.seed = seed */
  seed?: number;
}

export interface Commit { position: number; token: number; confidence: number; } // position in the generated span

export interface DecodeStep {
  row: number; // request index in the batch (0 for generate)
  step: number; // this row's steps so far, 0-based across blocks
  block: number;
  nfe: number; // denoiser calls this row took part in, so far
  forward: number; // denoiser calls of the whole batch so far (the steps of one call share it)
  committed: Commit[]; // by position
  canvas: Int32Array; // (G) the generated span, mask id where undecided — a copy, safe to keep
  finished: boolean; // this row's last step
}

export interface DecodeResult {
  ids: Int32Array; // generated ids before the first EOS/EoT (the middle, when infilling)
  canvas: Int32Array; // (G) the whole generated span
  finishReason: 'stop' | 'length'; // stop: an EOS/EoT was generated
  nfe: number;
  tokensPerForward: number; // ids.length / nfe (Fast-dLLM counts tokens up to EOS)
  elapsedMs: number; // wall time of the whole call
  modelMs: number; // time inside denoiser calls (shared by the rows of a batch)
}

interface Row {
  index: number;
  x: Int32Array; // (T) this row's canvas
  left: number; // left padding
  validEnd: number; // right padding starts here (rows with a shorter suffix)
  conditioning: Uint8Array; // (T) 1 where decided from the start (prompt, suffix, pins): masked in the CFG input
  banned: number[]; // ids never proposed
  endEarly: boolean; // early stop applies to this row
  rng: DecodeRng;
  counts: Int32Array | null; // this block's linear schedule
  blockSteps: number;
  step: number;
  nfe: number;
  done: boolean;
}

/** decode one request; yields a DecodeStep per step and returns the DecodeResult */
export async function* generate(model: Denoiser, request: GenerateRequest, options: Partial<DecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const results = yield* generateBatch(model, [request], options);
  return results[0]!;
}

/**
 * decode several requests together (left padding, keyValid masks). Row r draws from DecodeRng(options.seed, r),
 * or from DecodeRng(request.seed, 0) when the request has its own seed (a server batching independent requests).
 */
export async function* generateBatch(model: Denoiser, requests: readonly GenerateRequest[], options: Partial<DecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult[]> {
  const o = resolveOptions(options);
  const t0 = performance.now();
  const { mask, eos, eot } = model.specials;
  const V = model.vocabSize, G = o.genLength, L = o.blockLength, numBlocks = G / L;
  if (requests.length === 0) throw new Error('generate: no requests');
  if ((o.logitsEosInf || o.confidenceEosEotInf || o.earlyStop) && eos === null) throw new Error('generate: this model has no EOS token (logitsEosInf, confidenceEosEotInf and earlyStop need one)');
  const dream = isDreamDecoder(o.decoder);
  const ends = [eos, eot].filter((t): t is number => t !== null);
  const P = Math.max(...requests.map((r) => r.prompt.length)), S = Math.max(...requests.map((r) => r.suffix?.length ?? 0));
  const T = P + G + S, g0 = P; // generated span: columns [g0, g0 + G)
  const pad = model.specials.pad ?? eos ?? 0; // never attended to (keyValid 0)
  const padded = requests.some((r) => r.prompt.length !== P || (r.suffix?.length ?? 0) !== S);

  const rows: Row[] = requests.map((req, index) => {
    const x = new Int32Array(T).fill(pad), conditioning = new Uint8Array(T);
    const left = P - req.prompt.length, sl = req.suffix?.length ?? 0;
    x.set(req.prompt, left);
    x.fill(mask, g0, g0 + G);
    if (req.suffix) x.set(req.suffix, g0 + G);
    conditioning.fill(1, left, g0);
    conditioning.fill(1, g0 + G, g0 + G + sl);
    for (const pin of req.pinned ?? []) {
      if (!(Number.isInteger(pin.offset) && pin.offset >= 0 && pin.offset + pin.ids.length <= G)) throw new Error(`generate: pinned ids at offset ${pin.offset} (${pin.ids.length} ids) do not fit in genLength ${G}`);
      x.set(pin.ids, g0 + pin.offset);
      conditioning.fill(1, g0 + pin.offset, g0 + pin.offset + pin.ids.length);
    }
    for (let p = 0; p < T; p++) if (conditioning[p] && x[p] === mask) throw new Error(`generate: request ${index} contains the mask id ${mask} outside the generated span`);
    const infill = sl > 0;
    const banned = [mask]; // a committed token is never [MASK]
    if (o.logitsEosInf && eos !== null) banned.push(eos);
    if (infill && !o.infillMayEnd) banned.push(...ends); // a fixed-length middle has no end token
    return {
      index, x, left, validEnd: g0 + G + sl, conditioning, banned, endEarly: o.earlyStop || (infill && o.infillMayEnd),
      rng: req.seed !== undefined ? new DecodeRng(req.seed, 0) : new DecodeRng(o.seed, index), counts: null, blockSteps: 0, step: 0, nfe: 0, done: false,
    };
  });

  const stepsPerBlock = o.decoder === 'threshold' || o.decoder === 'factor' ? Infinity : o.steps / numBlocks;
  const ts = dream ? dreamTimesteps(o.eps, stepsPerBlock) : null;
  const dreamKind: DreamConfidence = o.decoder === 'topk_margin' ? 'margin' : o.decoder === 'entropy' ? 'negEntropy' : 'probability';
  const l64 = new Float64Array(V), scratch = new DreamScratch(V);
  let modelMs = 0, forwards = 0;

  const maskedIn = (r: Row, s: number, e: number): number[] => {
    const out: number[] = [];
    for (let p = s; p < e; p++) if (r.x[p] === mask) out.push(p);
    return out;
  };

  for (let b = 0; b < numBlocks; b++) {
    const s = g0 + b * L, e = s + L;
    for (const r of rows) {
      r.blockSteps = 0;
      r.counts = o.decoder === 'fixed' ? transferCounts(maskedIn(r, s, e).length, stepsPerBlock) : null;
    }
    let members = '';
    for (;;) {
      // a row works on this block while it has masks in it and steps left (a block of pins needs no call)
      const active = rows.filter((r) => !r.done && r.blockSteps < stepsPerBlock && maskedIn(r, s, e).length > 0);
      if (active.length === 0) break;
      const ids = active.map((r) => r.index).join(',');
      const blockStart = ids !== members;
      members = ids;
      const tm = performance.now();
      const logits = await forward(model, active, T, padded, o.cfgScale, mask, { start: s, end: e, blockStart }); // (A, L, V)
      modelMs += performance.now() - tm;
      forwards++;

      for (let a = 0; a < active.length; a++) {
        const r = active[a]!;
        r.nfe++;
        const cands = maskedIn(r, s, e);
        const at = (p: number): number => (a * L + (p - s)) * V; // offset of position p's logits row
        let chosen: Candidate[];
        if (o.decoder === 'origin') {
          // Dream origin: each masked position unmasks with probability 1 − s/t, then gets a sampled token
          const frac = dreamFraction(ts!, r.blockSteps, stepsPerBlock);
          const moving = cands.filter(() => r.rng.uniform() < frac);
          chosen = moving.map((p) => ({ position: p, ...proposeDream(rowLogits(logits, at(p), V, r.banned, l64), o.temperature, o.topP, o.topK, 'probability', r.rng, scratch) }));
        } else {
          const all: Candidate[] = cands.map((p) => {
            const l = rowLogits(logits, at(p), V, r.banned, l64);
            const pr = dream ? proposeDream(l, o.temperature, o.topP, o.topK, dreamKind, r.rng, scratch) : proposeLlada(l, o.temperature, r.rng);
            return { position: p, ...pr };
          });
          if (!dream && o.remasking === 'random') for (const c of all) c.confidence = r.rng.uniform(); // generate.py torch.rand
          // EOS/EoT suppression as LLaDA intended (issue #137: generate.py's EOS line writes a dead tensor)
          if (o.confidenceEosEotInf) for (const c of all) if (ends.includes(c.token)) c.confidence = -Infinity;
          chosen = choose(all, r);
        }
        for (const c of chosen) r.x[c.position] = c.token;
        r.blockSteps++;
        if (r.endEarly) r.done = fillAfterEnd(r.x, g0, G, mask, ends, eos ?? eot!);
        if (b === numBlocks - 1 && maskedIn(r, s, e).length === 0) r.done = true;
        yield {
          row: r.index, step: r.step++, block: b, nfe: r.nfe, forward: forwards, finished: r.done,
          committed: chosen.sort((x, y) => x.position - y.position).map((c) => ({ position: c.position - g0, token: c.token, confidence: c.confidence })),
          canvas: r.x.slice(g0, g0 + G),
        };
      }
    }
    for (const r of rows) if (!r.done && maskedIn(r, s, e).length > 0) throw new Error(`generate: block ${b} of row ${r.index} ended with masks left (a schedule bug)`);
  }

  const elapsedMs = performance.now() - t0;
  return rows.map((r) => {
    const canvas = r.x.slice(g0, g0 + G);
    let end = canvas.findIndex((t) => ends.includes(t));
    const finishReason = end >= 0 ? 'stop' as const : 'length' as const;
    if (end < 0) end = G;
    return { ids: canvas.slice(0, end), canvas, finishReason, nfe: r.nfe, tokensPerForward: r.nfe ? end / r.nfe : 0, elapsedMs, modelMs };
  });

  function choose(all: Candidate[], r: Row): Candidate[] {
    if (dream) {
      // Dream _sample: int(M·(1 − s/t)) of the M masks (all on the last step), top-k or sampled by alg_temp
      const k = dreamTransferCount(all.length, ts!, r.blockSteps, stepsPerBlock);
      if (k <= 0) return [];
      if (o.algTemp > 0) return sampleWithoutReplacement(all, k, o.algTemp, r.rng).map((i) => all[i]!);
      return byConfidence(all).slice(0, k);
    }
    const sorted = byConfidence(all);
    const k = o.decoder === 'fixed' ? fixedCount(sorted, r.counts![r.blockSteps]!)
      : o.decoder === 'threshold' ? thresholdCount(sorted, o.threshold)
      : factorCount(sorted, o.factor);
    return sorted.slice(0, k);
  }
}

/**
 * One denoiser call for the active rows → logits (A, R, V). With CFG the batch is [cond rows; uncond rows],
 * the unconditional input being the canvas with every conditioning position masked (generate.py un_x).
 */
async function forward(model: Denoiser, active: readonly Row[], T: number, padded: boolean, cfgScale: number, mask: number,
  region: NonNullable<DenoiseInput['region']>): Promise<Float32Array> {
  const A = active.length, cfg = cfgScale > 0, B = cfg ? 2 * A : A;
  const tokens = new Int32Array(B * T);
  active.forEach((r, a) => {
    tokens.set(r.x, a * T);
    if (cfg) {
      const un = r.x.slice();
      for (let p = 0; p < T; p++) if (r.conditioning[p]) un[p] = mask;
      tokens.set(un, (A + a) * T);
    }
  });
  const input: DenoiseInput = { tokens, B, T, region };
  if (padded) {
    const positions = new Int32Array(B * T), keyValid = new Uint8Array(B * T);
    for (let i = 0; i < B; i++) {
      const r = active[i % A]!;
      for (let p = 0; p < T; p++) {
        keyValid[i * T + p] = p >= r.left && p < r.validEnd ? 1 : 0;
        positions[i * T + p] = p >= r.left ? p - r.left : 0;
      }
    }
    input.positions = positions;
    input.keyValid = keyValid;
  }
  const logits = await model.denoise(input);
  const R = region.end - region.start, V = model.vocabSize;
  if (logits.length !== B * R * model.vocabSize) throw new Error(`generate: the denoiser returned ${logits.length} logits, expected (B ${B}, R ${R}, V ${V})`);
  return cfg ? guide(logits.subarray(0, A * R * V), logits.subarray(A * R * V), cfgScale) : logits;
}

/**
 * Early stop (dInfer `early_stop`; Fast-dLLM counts tokens up to EOS): once an end token (EOS/EoT) is
 * committed with every position before it decided, the masks after it become EOS. Decided tokens after it
 * are kept (committed tokens never change). True when the row is finished.
 */
function fillAfterEnd(x: Int32Array, g0: number, G: number, mask: number, ends: readonly number[], fill: number): boolean {
  for (let p = g0; p < g0 + G; p++) {
    if (x[p] === mask) return false;
    if (ends.includes(x[p]!)) {
      for (let q = p + 1; q < g0 + G; q++) if (x[q] === mask) x[q] = fill;
      return true;
    }
  }
  return false;
}

// One accepted request while it waits and decodes: it turns the decoder's steps into what clients see —
// settled text (append-only, held back by the longest stop string), the whole canvas with each cell's
// confidence (diffusing frames, the playground), progress — finds stop strings, and builds the Outcome with
// llama-server `timings`. The engine (engine.ts) owns scheduling; a Job only watches its own row.
import type { DecodeResult, DecodeStep } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { healedText } from '../text/heal.js';
import { findStop as earliestStop, SettledText } from '../text/settled.js';
import { canvasCells } from '../text/cells.js';
import type { Prepared } from './request.js';
import type { ToolCall } from './tools.js';

/** one position of the generated span: its text (null while masked) and the confidence it was committed with */
export interface Cell {
  text: string | null;
  confidence: number | null;
}

export interface Progress {
  /** settled text, append-only, held back by the longest stop string */
  text: string;
  /** the whole current canvas as text (masked positions left out), up to the first end token */
  canvas: string;
  /** committed fraction of the generated span, 0..1 */
  progress: number;
  step: number;
  nfe: number;
  /** the generated span cell by cell (text/cells.ts; the playground's view; diffusing requests only) */
  cells: Cell[];
}

/** llama-server `timings` (interfaces.md §2.1) plus the diffusion counters */
export interface Timings {
  prompt_n: number;
  prompt_ms: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_second: number;
  nfe: number;
  tokens_per_forward: number;
  queue_ms: number;
}

export interface Outcome {
  text: string;
  finishReason: 'stop' | 'length' | 'tool_calls';
  /** the tool calls read from the answer (then `text` is what remains of it, possibly empty) */
  toolCalls?: ToolCall[];
  /** llama-server stop_type */
  stopType: 'eos' | 'limit' | 'word';
  stoppingWord: string;
  promptTokens: number;
  completionTokens: number;
  timings: Timings;
}

export interface RunHooks {
  signal: AbortSignal;
  onStep?: (p: Progress) => void;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export class Job {
  /** when decoding started (performance.now()); 0 while queued */
  t0 = 0;
  /** ms from the start of decoding to the first step (llama-server prompt_ms: the first forward reads the prompt) */
  firstMs = 0;
  /** settled text, append-only (text/settled.ts) */
  private readonly settledText: SettledText;
  private get settled(): string {
    return healedText(this.settledText.text, this.p.healing);
  }
  private stopped: Stop | null = null;
  private last: DecodeStep | null = null;
  private readonly confidence: Float32Array; // (G) confidence each position was committed with
  private readonly hold: number;
  private readonly ends: number[];

  constructor(
    readonly p: Prepared,
    readonly hooks: RunHooks,
    readonly queuedAt: number,
    private readonly tok: TextTokenizer,
    private readonly diffusion: boolean,
    readonly resolve: (o: Outcome) => void,
    readonly reject: (e: unknown) => void,
  ) {
    this.confidence = new Float32Array(p.options.genLength).fill(NaN);
    this.hold = Math.max(0, ...p.req.stop.map((s) => s.length - 1));
    this.ends = [tok.specials.eos, tok.specials.eot].filter((t): t is number => t !== null);
    this.settledText = new SettledText(tok);
  }

  start(): void {
    this.t0 = performance.now();
  }

  /** follow one step; true when a stop string has appeared (the job is over) */
  onStep(s: DecodeStep): boolean {
    const tok = this.tok,
      c = s.canvas,
      mask = tok.specials.mask ?? -1,
      ends = this.ends;
    this.last = s;
    if (!this.firstMs) this.firstMs = performance.now() - this.t0;
    for (const x of s.committed) if (x.position < this.confidence.length) this.confidence[x.position] = x.confidence;
    this.settledText.update(c);
    this.stopped = this.p.structure || this.p.constraint ? null : (findStop(this.settled, this.p.req.stop) ?? this.editorLimit()); // a skeleton runs to its end
    if (this.stopped) return true;
    if (this.hooks.onStep) {
      let cut = c.findIndex((t) => ends.includes(t));
      if (cut < 0) cut = c.length;
      const o = this.p.options;
      const decided = this.diffusion
        ? c.reduce((n, t) => n + (t === mask ? 0 : 1), 0) / c.length
        : s.finished
          ? 1
          : (s.step + 1) / o.genLength;
      const cells: Cell[] = this.p.req.diffusing
        ? canvasCells(tok, c, this.confidence, mask, ends).map(([text, confidence]) => ({ text, confidence }))
        : [];
      this.hooks.onStep({
        text: s.finished ? this.settled : this.settled.slice(0, this.settled.length - this.hold),
        canvas: tok.decode(c.subarray(0, cut), { skipSpecialTokens: true }),
        progress: s.finished ? 1 : decided,
        step: s.step,
        nfe: s.nfe,
        cells,
      });
    }
    return false;
  }

  /** response_format: the answer is the value read from the filled skeleton, serialised */
  private structured(result: DecodeResult): Outcome {
    const text = JSON.stringify(this.p.structure!.read(result.canvas));
    const decodeMs = performance.now() - this.t0,
      promptN = this.p.promptIds.length,
      n = result.canvas.length;
    return {
      text,
      finishReason: 'stop',
      stopType: 'eos',
      stoppingWord: '',
      promptTokens: promptN,
      completionTokens: n,
      timings: timingsOf(promptN, this.firstMs, n, decodeMs, result.nfe, this.t0 - this.queuedAt),
    };
  }

  /**
   * llama-server's editor limits on the settled text: `n_indent` — a later line with text indented less ends
   * the completion, cut before that line; `t_max_predict_ms` — past the budget, once a newline has been
   * generated, stop with what has settled (both stop_type "limit")
   */
  private editorLimit(): Stop | null {
    const { nIndent, tMaxPredictMs } = this.p.req,
      t = this.settled;
    if (nIndent > 0) {
      const lines = t.split('\n');
      // the first line continues the cursor's line; each later one starts after `at` characters
      for (let i = 1, at = lines[0]!.length + 1; i < lines.length; at += lines[i]!.length + 1, i++) {
        const line = lines[i]!,
          indent = line.length - line.trimStart().length;
        if (line.trim() !== '' && indent < nIndent) return { text: t.slice(0, at), word: '', type: 'limit' };
      }
    }
    if (tMaxPredictMs > 0 && t.includes('\n') && performance.now() - this.t0 > tMaxPredictMs) return { text: t, word: '', type: 'limit' };
    return null;
  }

  /** the answer, from the decoder's result or (stopped by a stop string) from the settled text */
  outcome(result: DecodeResult | null): Outcome {
    const p = this.p,
      tok = this.tok,
      decodeMs = performance.now() - this.t0;
    if (p.structure && result) return this.structured(result);
    let stopped = this.stopped;
    let text = stopped?.text ?? healedText(tok.decode(result!.ids, { skipSpecialTokens: true }), p.healing);
    const late = stopped || p.constraint ? null : findStop(text, p.req.stop); // no stop string cuts structured JSON
    if (late) {
      stopped = late;
      text = late.text;
    }
    const completionTokens = stopped ? tok.encode(text).length : result!.ids.length;
    const nfe = result?.nfe ?? this.last?.nfe ?? 0,
      promptN = p.promptIds.length + (p.suffixIds?.length ?? 0);
    const stopType = stopped ? stopped.type : result!.finishReason === 'stop' ? 'eos' : 'limit';
    return {
      text,
      finishReason: stopType === 'word' || stopType === 'eos' ? 'stop' : 'length',
      stopType,
      stoppingWord: stopped?.word ?? '',
      promptTokens: promptN,
      completionTokens,
      timings: timingsOf(promptN, this.firstMs, completionTokens, decodeMs, nfe, this.t0 - this.queuedAt),
    };
  }
}

/** why a job ended before its decoder did: a stop string (word), or an editor limit (limit) */
interface Stop {
  text: string;
  word: string;
  type: 'word' | 'limit';
}

/** the earliest stop string in text, as a Stop */
function findStop(text: string, stops: readonly string[]): Stop | null {
  const hit = earliestStop(text, stops);
  return hit ? { ...hit, type: 'word' } : null;
}

/** n_predict 0 (an editor's warm-up): the request was read and checked; nothing is generated */
export function warmUpOutcome(p: Prepared): Outcome {
  const promptN = p.promptIds.length + (p.suffixIds?.length ?? 0);
  return {
    text: '',
    finishReason: 'length',
    stopType: 'limit',
    stoppingWord: '',
    promptTokens: promptN,
    completionTokens: 0,
    timings: timingsOf(promptN, 0, 0, 0, 0, 0),
  };
}

/** llama-server `timings` from the counts and times of one request (ms rounded to µs) */
export function timingsOf(
  promptN: number,
  promptMs: number,
  predictedN: number,
  predictedMs: number,
  nfe: number,
  queueMs: number,
): Timings {
  return {
    prompt_n: promptN,
    prompt_ms: round(promptMs),
    predicted_n: predictedN,
    predicted_ms: round(predictedMs),
    predicted_per_second: round(predictedMs > 0 ? (predictedN * 1000) / predictedMs : 0),
    nfe,
    tokens_per_forward: round(nfe ? predictedN / nfe : 0),
    queue_ms: round(queueMs),
  };
}

// A TextGenerator's decode as the frames the server streams to the playground with `diffusing: true`
// (serve/job.ts, serve/format.ts), so the page draws an in-page decode exactly as a served one: every step,
// each generated position's text (null while masked) and the confidence it was committed with, up to the
// first end token; at the end the text, the finish reason and llama-server style timings. No node:* here.
import type { TextGenerator, TextOptions } from '../text/generator.js';
import type { ChatMessage } from '../tokenizer/index.js';
import { canvasCells, type CanvasCell } from '../text/cells.js';

/** [text | null (masked), confidence | null] per generated position, as in diffusion_meta.cells */
export type FrameCell = CanvasCell;

export interface StepFrame {
  kind: 'step';
  step: number;
  nfe: number;
  cells: FrameCell[];
}

/** the subset of the server's timings the playground shows */
export interface FrameTimings {
  prompt_n: number;
  prompt_ms: number;
  predicted_n: number;
  predicted_ms: number;
  predicted_per_second: number;
  nfe: number;
  tokens_per_forward: number;
}
export interface FinalFrame {
  kind: 'final';
  text: string;
  finishReason: 'stop' | 'length';
  timings: FrameTimings;
}

/** what to decode: a prompt (and a suffix to infill before), or a conversation through the chat template */
export type FrameInput = { prompt: string; suffix?: string } | { messages: ChatMessage[] };

const round = (x: number) => Math.round(x * 1000) / 1000;

/** decode `input` in this page, yielding a frame per step, then the final one; stops (returns) when `signal` aborts */
export async function* decodeFrames(
  lm: TextGenerator,
  input: FrameInput,
  o: TextOptions = {},
  signal?: AbortSignal,
): AsyncGenerator<StepFrame | FinalFrame, void> {
  const tok = lm.tokenizer,
    sp = tok.specials,
    mask = sp.mask ?? -1;
  const ends = [sp.eos, sp.eot].filter((t): t is number => t !== null);
  let prompt: string | Int32Array,
    suffix: string | null = null;
  if ('messages' in input) {
    if (!tok.chatTemplate) throw new Error('this model has no chat template (tokenizer_config.json chat_template)');
    prompt = tok.encodeChat(input.messages, { addGenerationPrompt: true });
  } else {
    prompt = input.prompt;
    suffix = input.suffix ? input.suffix : null;
  }
  const promptN =
    (typeof prompt === 'string' ? tok.encode(prompt).length : prompt.length) + (suffix !== null ? tok.encode(suffix).length : 0);
  const t0 = performance.now();
  const gen = lm.stream(prompt, o, suffix);
  let confidence: Float32Array | null = null,
    firstMs = 0;
  for (;;) {
    if (signal?.aborted) {
      await gen.return(undefined as never);
      return;
    }
    const r = await gen.next();
    if (r.done) {
      const c = r.value,
        ms = performance.now() - t0,
        n = c.ids.length;
      yield {
        kind: 'final',
        text: c.text,
        finishReason: c.finishReason,
        timings: {
          prompt_n: promptN,
          prompt_ms: round(firstMs),
          predicted_n: n,
          predicted_ms: round(ms),
          predicted_per_second: round(ms > 0 ? (n * 1000) / ms : 0),
          nfe: c.nfe,
          tokens_per_forward: round(c.nfe ? n / c.nfe : 0),
        },
      };
      return;
    }
    const s = r.value,
      canvas = s.canvas;
    if (!firstMs) firstMs = performance.now() - t0;
    confidence ??= new Float32Array(canvas.length).fill(NaN);
    for (const x of s.committed) if (x.position < confidence.length) confidence[x.position] = x.confidence;
    yield { kind: 'step', step: s.step, nfe: s.nfe, cells: canvasCells(tok, canvas, confidence, mask, ends) };
  }
}

// Evaluation tasks as data: each record of a public benchmark file becomes a Sample — the text the model
// sees (prompt, and a suffix for infilling), where to cut its completion, and the program that checks it
// (or the answer it must reach). No model and no I/O here: the CLI reads the files (platform/), generates,
// runs the programs in the sandbox, and scores with these definitions.
//   humaneval            openai/human-eval: prompt → completion; program = prompt + completion + test + check(entry_point)
//   mbpp                 Austin et al. 2021 3-shot format (shots = task ids 2, 3, 4; test split = ids 11–510):
//                        "You are an expert Python programmer, and here is your task: … [BEGIN] code [DONE]";
//                        program = code + test_setup_code + test_list (setup after the code: tasks 367, 927)
//   humaneval-infilling  openai/human-eval-infilling: the middle between prompt and suffix; program = prompt +
//                        middle + suffix + test + check(entry_point); single-line middles are cut after their line
//   humaneval-ts         MultiPL-E: prompt → completion cut at the record's stop_tokens; program = prompt +
//                        completion + tests, TypeScript, run under Node after transpiling
//   gsm8k                gsm8k.ts (few-shot from train.jsonl, exact match of the final number)
// syntax: the HumanEval prompts, 64 generated tokens each, scored by whether prompt + completion parses (Python's ast)
export type TaskName = 'humaneval' | 'mbpp' | 'humaneval-infilling' | 'humaneval-ts' | 'gsm8k' | 'syntax';
export const TASKS: readonly TaskName[] = ['humaneval', 'mbpp', 'humaneval-infilling', 'humaneval-ts', 'gsm8k', 'syntax'];
export type InfillSplit = 'single-line' | 'multi-line' | 'random-span';
export const INFILL_FILES: Record<InfillSplit, string> = {
  'single-line': 'HumanEval-SingleLineInfilling.jsonl.gz',
  'multi-line': 'HumanEval-MultiLineInfilling.jsonl.gz',
  'random-span': 'HumanEval-RandomSpanInfilling.jsonl.gz',
};

export interface CodeSample {
  id: string;
  prompt: string;
  /** infilling: the text after the middle */
  suffix?: string;
  /** the completion is cut at the first of these */
  stop: string[];
  /** cut a middle after its first line (single-line infilling) */
  oneLine?: boolean;
  lang: 'python' | 'ts';
  /** the program that exits 0 iff the completion is right */
  program(completion: string): string;
  /** the reference completion from the data (checks the harness: it must pass) */
  reference: string | null;
}

type Rec = Record<string, unknown>;
const str = (r: Rec, k: string): string => {
  const v = r[k];
  if (typeof v !== 'string')
    throw new Error(`eval data: field "${k}" of record ${JSON.stringify(r['task_id'] ?? r['name'] ?? '?')} is not a string`);
  return v;
};

/** HumanEval's stop sequences (Codex paper, human-eval): a new top-level statement ends the function */
export const HUMANEVAL_STOP = ['\ndef ', '\nclass ', '\nif __name__', '\nprint(', '\n#'];

/** the completion up to the first stop sequence */
export function truncate(completion: string, stops: readonly string[]): string {
  let end = completion.length;
  for (const s of stops) {
    const i = completion.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return completion.slice(0, end);
}

/**
 * HumanEval's records as samples. `stripPrompt` (bigcode-evaluation-harness's default `humaneval` task; its
 * `humaneval-unstripped` keeps the tail) ends the prompt at its last non-space character: every prompt ends in
 * "\n" after the docstring, and a byte-level BPE splits "\n    return" as "\n   " + " return", so a prompt that
 * ends in a lone "\n" token shows the model a boundary it met in training almost only before top-level code — it
 * then writes a new `def` (cut by the stop strings: an empty completion). The model writes the newline and the
 * indent itself; the reference gets the cut tail back, so it still passes.
 */
export function humaneval(records: readonly Rec[], stripPrompt = false): CodeSample[] {
  return records.map((r) => {
    const full = str(r, 'prompt'),
      prompt = stripPrompt ? full.trimEnd() : full,
      tail = full.slice(prompt.length),
      test = str(r, 'test'),
      entry = str(r, 'entry_point');
    return {
      id: str(r, 'task_id'),
      prompt,
      stop: HUMANEVAL_STOP,
      lang: 'python',
      reference: tail + str(r, 'canonical_solution'),
      program: (c: string) => `${prompt}${c}\n\n${test}\n\ncheck(${entry})\n`,
    };
  });
}

const MBPP_SHOTS = [2, 3, 4];
const mbppQuestion = (r: Rec): string =>
  `You are an expert Python programmer, and here is your task: ${str(r, 'text')} Your code should pass these tests:\n\n${(r['test_list'] as string[]).join('\n')}\n`;

/** MBPP test split (task ids 11–510), 3-shot with tasks 2, 3, 4 */
export function mbpp(records: readonly Rec[]): CodeSample[] {
  const byId = new Map(records.map((r) => [r['task_id'] as number, r]));
  const shots = MBPP_SHOTS.map((id) => {
    const r = byId.get(id);
    if (!r) throw new Error(`eval data: mbpp.jsonl has no task ${id} (the few-shot examples)`);
    return `${mbppQuestion(r)}[BEGIN]\n${str(r, 'code').replaceAll('\r\n', '\n')}\n[DONE]\n`;
  }).join('\n');
  return records
    .filter((r) => (r['task_id'] as number) >= 11 && (r['task_id'] as number) <= 510)
    .map((r) => {
      const tests = (r['test_list'] as string[]).join('\n'),
        setup = typeof r['test_setup_code'] === 'string' ? r['test_setup_code'] : '';
      return {
        id: `mbpp/${r['task_id'] as number}`,
        prompt: `${shots}\n${mbppQuestion(r)}[BEGIN]\n`,
        stop: ['[DONE]', '\n[BEGIN]', '\nYou are an expert'],
        lang: 'python' as const,
        reference: str(r, 'code').replaceAll('\r\n', '\n'),
        program: (c: string) => `${c}\n\n${setup}\n\n${tests}\n`,
      };
    });
}

export function humanevalInfilling(records: readonly Rec[], split: InfillSplit): CodeSample[] {
  return records.map((r) => {
    const prompt = str(r, 'prompt'),
      suffix = str(r, 'suffix'),
      test = str(r, 'test'),
      entry = str(r, 'entry_point');
    return {
      id: str(r, 'task_id'),
      prompt,
      suffix,
      stop: [],
      oneLine: split === 'single-line',
      lang: 'python',
      reference: str(r, 'canonical_solution'),
      program: (c: string) => `${prompt}${c}${suffix}\n\n${test}\n\ncheck(${entry})\n`,
    };
  });
}

/** the middle as it goes into the program: a single-line middle keeps its first line only (and its newline) */
export function cutMiddle(s: CodeSample, middle: string): string {
  if (!s.oneLine) return middle;
  const i = middle.indexOf('\n');
  return i < 0 ? middle + '\n' : middle.slice(0, i + 1);
}

export function humanevalTs(records: readonly Rec[]): CodeSample[] {
  return records.map((r) => {
    const prompt = str(r, 'prompt'),
      tests = str(r, 'tests');
    const stop = Array.isArray(r['stop_tokens']) ? (r['stop_tokens'] as string[]) : ['\nfunction ', '\n/*', '\n//', '\nclass'];
    return { id: str(r, 'name'), prompt, stop, lang: 'ts', reference: null, program: (c: string) => `${prompt}${c}\n\n${tests}\n` };
  });
}

// GSM8K (openai/grade-school-math): few-shot "Question: … / Answer: …" prompts whose examples come from
// train.jsonl (never from the test split), a completion cut at the next question, and exact match of the
// final number. Reference answers end in "#### N". From a completion we take, in this order: the number after
// the last "####", after the last "The answer is", else the last number in the text; numbers are normalised
// (thousands commas, a leading $, a trailing period, trailing zeros of a decimal: "1,000.50" → "1000.5").

export interface MathSample {
  id: string;
  prompt: string;
  stop: string[];
  answer: string;
}

type Rec = Record<string, unknown>;
export const GSM8K_SHOTS = 4; // LLaDA's GSM8K setting in lm-eval is 4-shot (dllm-reference.md §1.7)
const STOP = ['\n\nQuestion:', '\nQuestion:', 'Question:'];

export function gsm8k(test: readonly Rec[], train: readonly Rec[], shots = GSM8K_SHOTS): MathSample[] {
  const head = train
    .slice(0, shots)
    .map((r) => `Question: ${r['question'] as string}\nAnswer: ${r['answer'] as string}\n\n`)
    .join('');
  return test.map((r, i) => {
    const answer = extractAnswer(r['answer'] as string);
    if (answer === null) throw new Error(`eval data: gsm8k test record ${i} has no "#### N" answer`);
    return { id: `gsm8k/${i}`, prompt: `${head}Question: ${r['question'] as string}\nAnswer:`, stop: STOP, answer };
  });
}

/** "1,234.50" → "1234.5", "$7" → "7", "-3." → "-3"; null when it is not a number */
export function normalizeNumber(s: string): string | null {
  const t = s.trim().replace(/^\$/, '').replace(/,/g, '').replace(/\.$/, '');
  if (!/^-?\d+(\.\d+)?$/.test(t)) return null;
  let [int, frac] = t.split('.') as [string, string | undefined];
  const neg = int.startsWith('-');
  int = int.replace(/^-/, '').replace(/^0+(?=\d)/, '');
  frac = frac?.replace(/0+$/, '');
  const out = frac ? `${int}.${frac}` : int;
  return neg && out !== '0' ? `-${out}` : out;
}

const NUMBER = /-?\$?\d[\d,]*(?:\.\d+)?/g;

/** the final answer of a solution text, normalised; null when it has no number */
export function extractAnswer(text: string): string | null {
  const marked = text.lastIndexOf('####');
  if (marked >= 0) {
    const m = text.slice(marked + 4).match(NUMBER);
    if (m) return normalizeNumber(m[0]);
  }
  const said = text.toLowerCase().lastIndexOf('the answer is');
  if (said >= 0) {
    const m = text.slice(said).match(NUMBER);
    if (m) return normalizeNumber(m[0]);
  }
  const all = text.match(NUMBER);
  return all ? normalizeNumber(all[all.length - 1]!) : null;
}

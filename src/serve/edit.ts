// Mercury Edit's chat-shaped endpoints (round2-reference.md §5, interfaces.md §1.5): one user message whose
// sections are marked by `<|…|>` tags.
//   apply  /v1/apply/completions — <|original_code|> … <|update_snippet|>: the snippet, with "… existing code …"
//          marker lines standing for unchanged code, is merged into the original: every chunk between markers
//          is anchored by its first or last line (the convention's own rule, in code); a chunk of new code that
//          anchors nowhere goes where the served model scores it best (placement.ts)
//   edit   /v1/edit/completions — <|recently_viewed_code_snippets|>, <|current_file_content|> with the editable
//          region in <|code_to_edit|> (and a <|cursor|>), <|edit_diff_history|>: the region is the masked span
//          of a diffusion infill between the code above and below it; the answer is the region in ``` fences
// The tags are parsed from the text; they are not special tokens of our tokenizer.
import { invalid } from './errors.js';
import type { ChatMessage } from '../tokenizer/index.js';

/** Mercury Edit's documented defaults per endpoint (dllm-reference.md §6) */
export const EDIT_DEFAULTS = {
  apply: { maxTokens: 8192, presencePenalty: 0, temperature: 0, topP: 1 },
  edit: { maxTokens: 8192, presencePenalty: 1.0, temperature: 0.3, topP: 0.8 },
} as const;

/** the text between `<|tag|>` and `<|/tag|>` (the newline after the opening tag and before the closing one dropped) */
function section(text: string, tag: string, field: string): string {
  const open = `<|${tag}|>`,
    close = `<|/${tag}|>`;
  const a = text.indexOf(open),
    b = text.indexOf(close, a + open.length);
  if (a < 0 || b < 0) throw invalid(field, `the message must hold a ${open} … ${close} section`, 'invalid_value');
  let s = text.slice(a + open.length, b);
  if (s.startsWith('\n')) s = s.slice(1);
  if (s.endsWith('\n')) s = s.slice(0, -1);
  return s;
}

/** the user message the edit endpoints read (Continue sends a system prompt before it; it is not needed here) */
export function editMessage(messages: readonly ChatMessage[]): { content: string; field: string } {
  const i = messages.map((m) => m.role).lastIndexOf('user');
  if (i < 0) throw invalid('messages', 'the edit endpoints read one user message; none was given', 'invalid_value');
  return { content: messages[i]!.content, field: `messages[${i}].content` };
}

/** a line standing for unchanged code: `// ... existing code ...`, `# ... existing code ...` and the like */
const MARKER = /^\s*(\/\/|#|--|\/\*|<!--)?\s*(\.\.\.|…)\s*existing code\s*(\.\.\.|…)?\s*(\*\/|-->)?\s*$/i;

/**
 * the model's log-likelihood of `span` placed between `before` and `after` (higher fits better): how apply-edit
 * places a chunk whose lines anchor nowhere in the original (placement.ts: for a diffusion model the chunk is
 * the masked span of an infill, scored in one forward)
 */
export type PlacementScore = (before: string, span: string, after: string) => Promise<number>;

/**
 * the most places an unanchored chunk is tried at (line boundaries, spread evenly over its range), and the most
 * chunks of one request the model places (the rest go right after the code placed so far): a request costs at
 * most 8 × 12 scoring forwards, each at most the model's window
 */
export const MAX_PLACEMENTS = 12;
export const MAX_PLACED_CHUNKS = 8;

/**
 * apply-edit: the original code with the update snippet merged in. A chunk between markers is anchored by its
 * first and last lines; one that anchors nowhere (new code after a marker) goes where `score` says it fits best
 * among the line boundaries between the code placed so far and the next anchored chunk — the model decides —
 * or, without a scorer, right after the code placed so far. `placed` counts the chunks the model was asked to place.
 */
export async function applyEdit(
  content: string,
  field: string,
  score: PlacementScore | null = null,
): Promise<{ text: string; placed: number }> {
  const original = section(content, 'original_code', field),
    snippet = section(content, 'update_snippet', field);
  const lines = snippet.split('\n');
  if (!lines.some((l) => MARKER.test(l))) return { text: snippet, placed: 0 }; // no markers: the snippet is the whole new code
  const orig = original.split('\n'),
    out: string[] = [];
  const chunks: string[][] = [[]],
    gaps: boolean[] = []; // gaps[i]: a marker before chunks[i]
  for (const l of lines) {
    if (MARKER.test(l)) {
      chunks.push([]);
      gaps[chunks.length - 1] = true;
    } else chunks[chunks.length - 1]!.push(l);
  }
  let at = 0, // next original line not yet placed
    placed = 0;
  const find = (line: string, from: number) => {
    for (let i = from; i < orig.length; i++) if (orig[i]!.trim() === line.trim() && line.trim() !== '') return i;
    return -1;
  };
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    if (chunk.length === 0) continue;
    let start = find(chunk[0]!, at);
    const end = find(chunk[chunk.length - 1]!, start >= 0 ? start : at);
    if (gaps[i] && start < 0 && end < 0 && score && placed < MAX_PLACED_CHUNKS) {
      // new code after a marker: it may go anywhere up to where the next chunk anchors (by its first line or its last)
      const anchor = (c: string[]) => {
        if (c.length === 0) return -1;
        const first = find(c[0]!, at);
        return first >= 0 ? first : find(c[c.length - 1]!, at);
      };
      const next = chunks
        .slice(i + 1)
        .map(anchor)
        .find((j) => j >= 0);
      const limit = next ?? orig.length;
      const n = limit - at + 1,
        tries = n <= MAX_PLACEMENTS ? n : MAX_PLACEMENTS;
      const options = [...new Set(Array.from({ length: tries }, (_, t) => at + Math.round((t * (n - 1)) / Math.max(1, tries - 1))))];
      let best = at,
        bestScore = -Infinity;
      for (const p of options) {
        const s = await score([...out, ...orig.slice(at, p)].join('\n'), chunk.join('\n'), orig.slice(p).join('\n'));
        if (s > bestScore) [best, bestScore] = [p, s];
      }
      placed++;
      start = best; // the original up to there stays, then the chunk
      out.push(...orig.slice(at, start), ...chunk);
      at = start;
      continue;
    }
    // unchanged code stands in for the marker before this chunk: copy the original up to the chunk's anchor
    if (gaps[i] && start >= 0) out.push(...orig.slice(at, start));
    out.push(...chunk);
    if (end >= 0) at = end + 1;
    else if (start >= 0) at = start + 1;
  }
  if (gaps[chunks.length - 1] || chunks[chunks.length - 1]!.length === 0) out.push(...orig.slice(at)); // a trailing marker keeps the rest
  return { text: out.join('\n'), placed };
}

/** next-edit: the file split around its editable region, and the context before it */
export interface NextEdit {
  context: string;
  above: string;
  region: string;
  below: string;
  path: string;
}

export function parseNextEdit(content: string, field: string): NextEdit {
  const file = section(content, 'current_file_content', field);
  const nl = file.indexOf('\n'),
    head = nl < 0 ? file : file.slice(0, nl);
  const pathMatch = /^current_file_path:\s*(.*)$/.exec(head);
  const body = pathMatch ? (nl < 0 ? '' : file.slice(nl + 1)) : file;
  const open = '<|code_to_edit|>',
    close = '<|/code_to_edit|>';
  const a = body.indexOf(open),
    b = body.indexOf(close, a + open.length);
  if (a < 0 || b < 0)
    throw invalid(field, `<|current_file_content|> must mark the editable region with ${open} … ${close}`, 'invalid_value');
  let region = body.slice(a + open.length, b);
  if (region.startsWith('\n')) region = region.slice(1);
  if (region.endsWith('\n')) region = region.slice(0, -1);
  region = region.replaceAll('<|cursor|>', '');
  const below = body.slice(b + close.length).replace(/^\n/, '');
  // recently viewed snippets: context before the file, as llama-server puts input_extra before the prefix
  const snippets = content.includes('<|recently_viewed_code_snippets|>') ? section(content, 'recently_viewed_code_snippets', field) : '';
  const context = [...snippets.matchAll(/<\|recently_viewed_code_snippet\|>\n?([\s\S]*?)\n?<\|\/recently_viewed_code_snippet\|>/g)]
    .map((m) => m[1]!.replace(/^code_snippet_file_path:\s*(.*)\n?/, '# $1\n'))
    .map((s) => (s.endsWith('\n') ? s : s + '\n'))
    .join('');
  return { context, above: body.slice(0, a), region, below: below.length ? '\n' + below : '', path: pathMatch?.[1] ?? '' };
}

/** Mercury's next-edit answer: the rewritten region in triple backticks */
export const fenced = (region: string): string => '```\n' + region + '\n```';

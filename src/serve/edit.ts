// Mercury Edit's chat-shaped endpoints (round2-reference.md §5, interfaces.md §1.5): one user message whose
// sections are marked by `<|…|>` tags.
//   apply  /v1/apply/completions — <|original_code|> … <|update_snippet|>: the snippet, with "… existing code …"
//          marker lines standing for unchanged code, is merged into the original in code (deterministic, the
//          convention's own rule: every chunk between markers is anchored by its first and last lines)
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

/** apply-edit: the original code with the update snippet merged in */
export function applyEdit(content: string, field: string): string {
  const original = section(content, 'original_code', field),
    snippet = section(content, 'update_snippet', field);
  const lines = snippet.split('\n');
  if (!lines.some((l) => MARKER.test(l))) return snippet; // no markers: the snippet is the whole new code
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
  let at = 0; // next original line not yet placed
  const find = (line: string, from: number) => {
    for (let i = from; i < orig.length; i++) if (orig[i]!.trim() === line.trim() && line.trim() !== '') return i;
    return -1;
  };
  chunks.forEach((chunk, i) => {
    if (chunk.length === 0) return;
    const start = find(chunk[0]!, at);
    // unchanged code stands in for the marker before this chunk: copy the original up to the chunk's anchor
    if (gaps[i] && start >= 0) out.push(...orig.slice(at, start));
    out.push(...chunk);
    const end = find(chunk[chunk.length - 1]!, start >= 0 ? start : at);
    if (end >= 0) at = end + 1;
    else if (start >= 0) at = start + 1;
  });
  if (gaps[chunks.length - 1] || chunks[chunks.length - 1]!.length === 0) out.push(...orig.slice(at)); // a trailing marker keeps the rest
  return out.join('\n');
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

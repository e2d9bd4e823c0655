// Python's own parser, for the corpus: one python3 process (scripts/corpus/pyast.py, standard library
// only) reads every file as a JSON line and answers, in order, whether it parses and its docstring → body views.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../scripts/corpus/pyast.py', import.meta.url));
/** the interpreter: $DLLM_PYTHON, else python3 on PATH (any version ≥ 3.8: only `ast` and `json` are used) */
export const PYTHON = process.env['DLLM_PYTHON'] ?? 'python3';

export interface DocstringView {
  name: string;
  prompt: string;
  body: string;
}
export interface ParseResult {
  ok: boolean;
  error?: string;
  views: DocstringView[];
}

export async function parsePython(texts: string[]): Promise<ParseResult[]> {
  const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  const results: ParseResult[] = new Array(texts.length);
  let got = 0;
  const done = new Promise<void>((res, rej) => {
    child.on('error', (e) => rej(new Error(`data corpus needs ${PYTHON} (Python's ast parses every file): ${e.message}`)));
    child.on('close', (code) =>
      code === 0 && got === texts.length ? res() : rej(new Error(`${SCRIPT} exited with ${code} after ${got}/${texts.length} files`)),
    );
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    const r = JSON.parse(line) as { i: number; ok: boolean; error?: string; views?: DocstringView[] };
    results[r.i] = { ok: r.ok, ...(r.error ? { error: r.error } : {}), views: r.views ?? [] };
    got++;
  });
  (async () => {
    for (let i = 0; i < texts.length; i++) {
      if (!child.stdin.write(JSON.stringify({ i, text: texts[i] }) + '\n')) await new Promise((r) => child.stdin.once('drain', r));
    }
    child.stdin.end();
  })().catch(() => undefined);
  await done;
  return results;
}

// Checking completions by execution: sample + completion → its program (TypeScript transpiled to CommonJS
// with the typescript package, as MultiPL-E runs it under Node) → the sandbox → passed or not.
import ts from 'typescript';
import type { CodeSample } from '../eval/tasks.js';
import { runAll, type RunOutcome, type SandboxOptions, SANDBOX_DEFAULTS } from './node-sandbox.js';

/** the runnable program of a sample's completion, and its language for the sandbox */
export function runnable(s: CodeSample, completion: string): { lang: 'python' | 'node'; program: string } {
  const program = s.program(completion);
  if (s.lang === 'python') return { lang: 'python', program };
  const out = ts.transpileModule(program, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
    reportDiagnostics: true,
  });
  // transpiling repairs what it cannot parse; a syntax error must fail the sample, as tsc would
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length)
    return {
      lang: 'node',
      program: `console.error(${JSON.stringify(`TypeScript syntax error: ${ts.flattenDiagnosticMessageText(errors[0]!.messageText, ' ')}`)});\nprocess.exit(1);`,
    };
  return { lang: 'node', program: out.outputText };
}

/** run every (sample, completion) pair; outcomes in input order */
export function checkAll(
  pairs: ReadonlyArray<{ sample: CodeSample; completion: string }>,
  o: SandboxOptions = SANDBOX_DEFAULTS,
  concurrency = 2,
): Promise<RunOutcome[]> {
  return runAll(
    pairs.map((p) => runnable(p.sample, p.completion)),
    o,
    concurrency,
  );
}

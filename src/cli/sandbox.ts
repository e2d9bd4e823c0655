// dllm sandbox FILE --lang python|node [--timeout-ms N] [--memory-mb M] [--unsafe-no-sandbox]
// Runs one program exactly as `dllm eval` runs a sample (same sandbox, limits and pass marker) and prints
// one JSON line: status passed|failed|timeout|error, exitCode, ms, stdout, stderr. For reproducing a
// sample by hand, and for testing the sandbox from outside. Exit code 0 when the program passed, else 1.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { requireIsolation, runSandboxed, SANDBOX_DEFAULTS, UNSAFE_WARNING, type Lang } from '../platform/node-sandbox.js';

const USAGE = 'usage: dllm sandbox FILE --lang python|node [--timeout-ms 10000] [--memory-mb 1024] [--unsafe-no-sandbox]';
const BY_EXTENSION: Record<string, Lang> = { '.py': 'python', '.js': 'node', '.cjs': 'node' };

/** the flags of the command (usage.ts lists them) */
export const SANDBOX_FLAGS = {
  lang: { type: 'string' },
  'timeout-ms': { type: 'string', default: String(SANDBOX_DEFAULTS.timeoutMs) },
  'memory-mb': { type: 'string', default: String(SANDBOX_DEFAULTS.memoryMb) },
  'unsafe-no-sandbox': { type: 'boolean' },
} as const;

export async function sandboxCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: SANDBOX_FLAGS,
  });
  if (positionals.length !== 1) throw new Error(USAGE);
  const file = positionals[0]!;
  const lang = (values.lang ?? BY_EXTENSION[extname(file)]) as Lang | undefined;
  if (lang !== 'python' && lang !== 'node') throw new Error(`--lang must be python or node, got "${values.lang ?? ''}"\n${USAGE}`);
  // the same bounds as dllm eval's flags
  const int = (name: 'timeout-ms' | 'memory-mb', min: number) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got "${values[name]}"`);
    return n;
  };
  const unsafe = values['unsafe-no-sandbox'] === true;
  const o = { timeoutMs: int('timeout-ms', 100), memoryMb: int('memory-mb', 64), ...(unsafe ? { unsafeNoSandbox: true } : {}) };
  const source = readFileSync(file, 'utf8');
  requireIsolation(unsafe);
  if (unsafe) console.error(UNSAFE_WARNING);
  const r = await runSandboxed(lang, source, o);
  // the four statuses of a sample; a memory-limit failure says so in `memory`
  const status = r.status === 'memory' ? 'failed' : r.status;
  console.log(
    JSON.stringify({
      status,
      exitCode: r.exitCode,
      ms: r.ms,
      stdout: r.stdout,
      stderr: r.stderr,
      signal: r.signal,
      memory: r.status === 'memory',
      peakMemoryMb: r.peakMemoryMb,
      ...(unsafe ? { unsafeNoSandbox: true, warning: UNSAFE_WARNING } : {}),
    }),
  );
  return status === 'passed' ? 0 : 1;
}

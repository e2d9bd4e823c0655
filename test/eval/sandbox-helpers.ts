// Host-side views for the hostile-program tests: which processes are alive (by a token in their command
// line), a unique token per test, and the sample's JSON report parsed from its stdout.
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/** host pids whose command line contains `token` */
export function processesWith(token: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(token)) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

export const token = (what: string) => `dllm_${what}_${randomBytes(6).toString('hex')}`;

/** the last line of stdout that parses as JSON: each hostile program reports what it managed to do */
export function report(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      /* not the report */
    }
  }
  throw new Error(`no JSON report in stdout: ${JSON.stringify(stdout.slice(-300))}`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

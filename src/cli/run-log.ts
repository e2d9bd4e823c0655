// log.jsonl of a run folder: one JSON event per line, appended as training goes. A kill mid-append leaves a
// torn last line; that line is dropped with a warning naming the file (on resume it is cut off the file, so
// the next event starts on a line of its own). A bad line elsewhere (a torn line that an older dllm appended
// to) is skipped with a warning naming file and line: a log is a record, and a plot of it must not fail a run.
import { existsSync, readFileSync, truncateSync } from 'node:fs';

type Event = Record<string, unknown>;

function parseLine(line: string): Event | null {
  try {
    const v = JSON.parse(line) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Event) : null;
  } catch {
    return null;
  }
}

/** the events of a log; [] when there is no log */
export function readRunLog(path: string, warn: (msg: string) => void = console.error): Event[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: Event[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const e = parseLine(lines[i]!);
    if (e) {
      out.push(e);
      continue;
    }
    warn(
      i === lines.length - 1
        ? `warning: ${path}: ignoring a torn last line (line ${i + 1}), left by an interrupted run`
        : `warning: ${path}: ignoring line ${i + 1}, not a JSON event: ${lines[i]!.slice(0, 80)}`,
    );
  }
  return out;
}

/** cut a torn last line off the log (before appending to it on resume); returns the bytes removed */
export function repairRunLog(path: string, warn: (msg: string) => void = console.error): number {
  if (!existsSync(path)) return 0;
  const buf = readFileSync(path);
  if (buf.length === 0) return 0;
  const text = buf.toString('utf8');
  // the last line is whole when the file ends with a newline and that line parses
  const end = text.endsWith('\n') ? text.length - 1 : text.length;
  const start = text.lastIndexOf('\n', end - 1) + 1;
  const last = text.slice(start, end);
  if (text.endsWith('\n') && (last.trim() === '' || parseLine(last))) return 0;
  const keep = Buffer.byteLength(text.slice(0, start), 'utf8');
  truncateSync(path, keep);
  warn(`warning: ${path}: cut a torn last line (${buf.length - keep} bytes), left by an interrupted run`);
  return buf.length - keep;
}

// The README's library example, run as written: the ```js block after the `library-example` marker is saved
// as a module inside the package (so `dllm/node` resolves to this package by its own exports) and run with
// node; it must exit 0 and print the three results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

test('the README library example runs as written', async () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- library-example');
  assert.ok(at >= 0, 'README has no library-example marker');
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block, 'no ```js block after the marker');
  const file = join(ROOT, 'build', 'readme-example.mjs');
  writeFileSync(file, block[1]!);
  try {
    const { stdout } = await run(process.execPath, [file], { cwd: ROOT, timeout: 120_000 });
    const lines = stdout.trim().split('\n');
    assert.match(stdout, /nfe: \d+/, 'complete() printed its counters');
    assert.ok(
      lines.some((l) => /^\d+ /.test(l)),
      'stream() printed steps',
    );
    assert.match(lines.at(-1)!, /^".*"$/, 'infill() printed its middle');
  } finally {
    rmSync(file, { force: true });
  }
});

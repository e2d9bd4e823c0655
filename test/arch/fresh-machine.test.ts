// The README's two commands on a fresh machine of this kind (no GitHub, no Chromium yet): `npm ci` must not run
// onnxruntime-node's CUDA download (its install script reads npm's onnxruntime-node-install setting: the project
// .npmrc says skip), and `npm test` first installs or names the Debian tools the tests drive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test("npm ci skips onnxruntime-node's CUDA download: npm reads onnxruntime-node-install=skip from the project .npmrc", () => {
  const v = execFileSync('npm', ['config', 'get', 'onnxruntime-node-install'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  assert.equal(v.trim(), 'skip', 'the project .npmrc no longer tells the install script to skip');
});

test('npm test checks the system tools first (scripts/ensure-system-deps.mjs: chromium and bubblewrap, installed or named)', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.match(pkg.scripts['test']!, /^node scripts\/ensure-system-deps\.mjs && /);
  const script = readFileSync(join(root, 'scripts/ensure-system-deps.mjs'), 'utf8');
  for (const pkgName of ['chromium', 'bubblewrap']) assert.ok(script.includes(`pkg: '${pkgName}'`), `${pkgName} is not checked`);
});

// `npm test` runs this first: the tests drive Debian's chromium (the playground's browser test) and run
// generated code under Debian's bubblewrap (the eval sandbox). Missing ones are installed with apt-get when
// we may (root, or passwordless sudo); otherwise this stops with the command to run. DLLM_SKIP_SYSTEM_DEPS=1
// skips the check (the tests that need a missing tool then fail, naming it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian package → the paths that prove it is installed (any one) */
const NEEDED = [
  {
    pkg: 'chromium',
    paths: [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'],
    why: 'the playground browser test',
  },
  { pkg: 'bubblewrap', paths: ['/usr/bin/bwrap'], why: 'the evaluation sandbox tests' },
];

if (process.env.DLLM_SKIP_SYSTEM_DEPS === '1') process.exit(0);
const missing = NEEDED.filter((n) => !n.paths.some((p) => p && existsSync(p)));
if (missing.length === 0) process.exit(0);

const names = missing.map((m) => m.pkg);
const how = `apt-get install -y --no-install-recommends ${names.join(' ')}`;
console.error(`npm test: installing ${missing.map((m) => `${m.pkg} (${m.why})`).join(', ')}: ${how}`);
const root = process.getuid?.() === 0;
const sudo = !root && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
if (!root && !sudo) {
  console.error(`npm test: cannot install them without root. Run: sudo ${how}   (or set DLLM_SKIP_SYSTEM_DEPS=1 to run the tests anyway)`);
  process.exit(1);
}
const run = (args) =>
  execFileSync(root ? args[0] : 'sudo', root ? args.slice(1) : args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
try {
  try {
    run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...names]);
  } catch {
    run(['apt-get', 'update', '-qq']); // a fresh machine's package lists may be stale or empty
    run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...names]);
  }
} catch (e) {
  console.error(`npm test: ${how} failed (${e.message}). Install them by hand, or set DLLM_SKIP_SYSTEM_DEPS=1.`);
  process.exit(1);
}

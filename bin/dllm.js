#!/usr/bin/env node
// The `dllm` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { existsSync } from 'node:fs';

const main = new URL('../build/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('dllm: the build is missing (build/src/cli/main.js). Run `npm ci` or `npm run build` in the package folder.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));

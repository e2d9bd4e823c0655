// Builds the browser bundle of 'dllm/web' into build/web/ with esbuild, from the TypeScript sources:
//   dllm.js               src/web.ts and its dependencies (tokenizers, jinja), one ES module
//   dllm-pool-worker.js   src/platform/web-pool-worker.ts, the thread pool's module Web Worker
//   kernels-*.wasm        the four kernel variants (copied from build/wasm/, so run build:wasm first)
// platform/web.ts finds the worker and the .wasm files beside dllm.js (new URL('./…', import.meta.url)).
// Refuses to bundle anything that reaches node:* (esbuild's browser platform cannot resolve it).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wasmDir = join(root, 'build/wasm');
const outDir = join(root, 'build/web');
const VARIANTS = ['relaxed-shared', 'simd-shared', 'relaxed', 'simd'];

for (const v of VARIANTS) {
  if (!existsSync(join(wasmDir, `kernels-${v}.wasm`)))
    throw new Error(`build-web: ${wasmDir}/kernels-${v}.wasm is missing; run \`npm run build:wasm\` first`);
}
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const result = await build({
  entryPoints: { dllm: join(root, 'src/web.ts'), 'dllm-pool-worker': join(root, 'src/platform/web-pool-worker.ts') },
  outdir: outDir,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  legalComments: 'linked',
});
const inputs = Object.keys(result.metafile.inputs);
const nodeOnly = inputs.filter((p) => p.startsWith('node:') || /src\/platform\/node/.test(p));
if (nodeOnly.length) throw new Error(`build-web: the browser bundle reaches Node-only code: ${nodeOnly.join(', ')}`);
for (const v of VARIANTS) copyFileSync(join(wasmDir, `kernels-${v}.wasm`), join(outDir, `kernels-${v}.wasm`));
const files = readdirSync(outDir).filter((f) => !f.endsWith('.map'));
console.log(`build-web: ${files.join(', ')} in ${outDir} (${inputs.length} modules)`);

// Compiles src/kernels/wasm/assembly into the four WebAssembly variants the engine picks from at run time:
// {relaxed SIMD, plain SIMD128} × {shared memory (threads), unshared memory (single thread)}.
// Runs at install (npm "prepare"); the .wasm files are build outputs, never committed.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src/kernels/wasm/assembly/index.ts');
const outDir = join(root, 'build/wasm');
mkdirSync(outDir, { recursive: true });

// 65536 pages = 4 GiB, the wasm32 limit; shared memories must declare a maximum.
const MAX_PAGES = '65536';
const variants = [
  { name: 'relaxed-shared', features: ['simd', 'relaxed-simd', 'threads'], shared: true },
  { name: 'simd-shared', features: ['simd', 'threads'], shared: true },
  { name: 'relaxed', features: ['simd', 'relaxed-simd'], shared: false },
  { name: 'simd', features: ['simd'], shared: false },
];

for (const v of variants) {
  const args = [
    entry,
    '--outFile',
    join(outDir, `kernels-${v.name}.wasm`),
    '-O3',
    '--noAssert',
    '--runtime',
    'stub',
    '--importMemory',
    '--initialMemory',
    '1',
    '--maximumMemory',
    MAX_PAGES,
    '--enable',
    v.features.join(','),
  ];
  if (v.shared) args.push('--sharedMemory');
  const { error, stderr } = await asc.main(args);
  if (error) {
    process.stderr.write(stderr.toString());
    throw new Error(`build-wasm: ${v.name} failed: ${error.message}`);
  }
}
console.log(`build-wasm: ${variants.length} variants in ${outDir}`);

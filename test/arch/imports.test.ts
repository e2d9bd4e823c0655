// Architecture rules, checked on the sources: layers point one way, and library code stays browser-safe
// (node:* and Node built-ins only in platform/, cli/, serve/ and the 'dllm/node' entry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');
const NODE_ALLOWED = ['platform', 'cli', 'serve', 'node.ts'];
// layer → layers it may import (itself always allowed); top-level files (index.ts, version.ts) are free
const LAYERS: Record<string, string[]> = {
  kernels: [],
  io: [],
  tokenizer: ['io'],
  model: ['kernels', 'io', 'tokenizer'],
  sampler: [],
  data: [],
  train: ['kernels', 'model', 'io', 'tokenizer', 'sampler'],
  eval: ['sampler'],
  onnx: ['kernels', 'model'], // the graph emitter: pure TypeScript + the ONNX schema, usable in browsers
  webgpu: ['kernels', 'model'], // the forward as WGSL compute shaders: a ForwardModel beside the kernels' one
  text: ['kernels', 'io', 'model', 'tokenizer', 'sampler', 'data'], // the one text generator over the decoding loop
  platform: ['kernels', 'io', 'model', 'tokenizer', 'sampler', 'train', 'eval', 'onnx', 'text', 'webgpu'],
  serve: ['kernels', 'io', 'model', 'tokenizer', 'sampler', 'platform', 'text', 'eval'],
  cli: ['kernels', 'io', 'model', 'tokenizer', 'sampler', 'train', 'eval', 'onnx', 'serve', 'platform', 'data', 'text'],
};
const VERSION_FILE = 'version.ts';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'assembly' ? [] : walk(p); // AssemblyScript sources: wasm, not JS
    return p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const re = /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
  const out: string[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

const files = walk(src);
const builtins = new Set(builtinModules);

test('library code imports no Node.js built-ins outside platform/, cli/, serve/', () => {
  const bad: string[] = [];
  for (const f of files) {
    const rel = relative(src, f);
    const top = rel.split(sep)[0]!;
    if (NODE_ALLOWED.includes(top)) continue;
    for (const spec of imports(f)) if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) bad.push(`${rel} imports ${spec}`);
  }
  assert.deepEqual(bad, [], `browser-unsafe imports:\n${bad.join('\n')}`);
});

test('layers import only the layers below them', () => {
  const bad: string[] = [];
  for (const f of files) {
    const rel = relative(src, f);
    const parts = rel.split(sep);
    if (parts.length === 1) continue; // index.ts, node.ts, version.ts
    const from = parts[0]!;
    const allowed = LAYERS[from];
    assert.ok(allowed, `src/${from}/ is not in the layer table of test/arch/imports.test.ts; add it there`);
    for (const spec of imports(f)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(src, join(f, '..', spec)).split(sep);
      if (target.length === 1) {
        if (target[0] !== VERSION_FILE.replace('.ts', '.js')) bad.push(`${rel} imports src/${target[0]}`);
        continue;
      }
      const to = target[0]!;
      if (to !== from && !allowed.includes(to)) bad.push(`${rel} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.deepEqual(bad, [], `layer violations:\n${bad.join('\n')}`);
});

test('benchmarks reach the library through its layers, never through cli/ (bench/ imports no src/cli file)', () => {
  const bench = join(root, 'bench');
  const benchFiles = walk(bench);
  assert.ok(benchFiles.length > 5, `only ${benchFiles.length} benchmark files found under ${bench}`);
  const bad = benchFiles.flatMap((f) =>
    imports(f)
      .filter((s) => s.startsWith('.') && relative(src, join(f, '..', s)).split(sep)[0] === 'cli')
      .map((s) => `${relative(root, f)} imports ${s}`),
  );
  assert.deepEqual(bad, [], `benchmark code imports the CLI layer:\n${bad.join('\n')}`);
});

/** every source file reachable from `entry` through relative imports (static and dynamic) */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>(),
    todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const spec of imports(f)) if (spec.startsWith('.')) todo.push(join(f, '..', spec).replace(/\.js$/, '.ts'));
  }
  return seen;
}

test("the browser entry (src/web.ts, the bundle of 'dllm/web') reaches no Node.js built-in and no Node platform file", () => {
  const web = reachable(join(src, 'web.ts'));
  assert.ok(
    web.has(join(src, 'platform', 'web-generator.ts')) && web.has(join(src, 'text', 'generator.ts')),
    'the walk follows the imports',
  );
  const workers = reachable(join(src, 'platform', 'web-pool-worker.ts'));
  const bad: string[] = [];
  for (const f of [...web, ...workers]) {
    const rel = relative(src, f);
    if (/^platform[\\/](node|durable-fs)/.test(rel)) bad.push(`${rel} is Node-only`);
    for (const spec of imports(f)) if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) bad.push(`${rel} imports ${spec}`);
  }
  assert.deepEqual(bad, [], `the browser bundle would pull in Node-only code:\n${bad.join('\n')}`);
});

test('the architecture test sees real files and real imports (it cannot pass vacuously)', () => {
  assert.ok(files.length > 10, `only ${files.length} source files found under ${src}`);
  const nodeTs = files.find((f) => f.endsWith(join('platform', 'node.ts')));
  assert.ok(nodeTs && imports(nodeTs).some((s) => s.startsWith('node:')), 'platform/node.ts should import node:* and be seen doing so');
});

test('VERSION matches package.json', async () => {
  const { VERSION } = await import('../../src/version.js');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('no import circles among the sources (type-only imports count: a circle of types is still a tangle)', () => {
  const key = (f: string) => relative(src, f);
  const graph = new Map(
    files.map((f) => [
      key(f),
      imports(f)
        .filter((s) => s.startsWith('.'))
        .map((s) => key(join(f, '..', s.replace(/\.js$/, '.ts'))))
        .filter((t) => files.some((g) => key(g) === t)),
    ]),
  );
  const state = new Map<string, 'open' | 'done'>(),
    circles: string[] = [],
    path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') circles.push([...path.slice(path.indexOf(m)), m].join(' → '));
      else if (!state.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  assert.ok(
    [...graph.values()].some((e) => e.length > 0),
    'the import graph has no edges: the resolver is broken',
  );
  assert.deepEqual(circles, [], `import circles:\n${circles.join('\n')}`);
});

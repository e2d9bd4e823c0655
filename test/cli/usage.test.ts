// `dllm --help` is made from the commands' own flag tables: every flag a command parses is listed (or summed up
// by its config table), every flag listed under a command is one it accepts, and lines stay within 118 columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { kebab } from '../../src/cli/flags.js';
import { renderUsage, type UsageEntry } from '../../src/cli/usage.js';

const BIN = fileURLToPath(new URL('../../../bin/dllm.js', import.meta.url));

test('dllm --help: one block per command, flags from its table, 118 columns at most', () => {
  const text = execFileSync(process.execPath, [BIN, '--help'], { encoding: 'utf8' });
  for (const line of text.split('\n')) assert.ok(line.length <= 118, `${line.length} columns: ${line}`);
  // the blocks: a line starting "  dllm <command>", continued by indented lines
  const blocks = text.split(/\n(?=  dllm )/).slice(1);
  const commands = blocks.map((b) => /^ {2}dllm (\S+)/.exec(b)![1]!);
  for (const c of ['generate', 'infill', 'chat', 'serve', 'eval', 'bench', 'data', 'train', 'export', 'export-onnx', 'kernels'])
    assert.ok(commands.includes(c), `--help lists ${c}`);
  const generate = blocks.find((b) => b.startsWith('  dllm generate'))!;
  for (const f of ['--model', '--dtype f32|f16|q8|q4', '--backend auto|ort|wasm|ref', '--json-schema', '--<decoder key> value'])
    assert.ok(generate.includes(f), `generate's block names ${f}`);
  assert.ok(!/--gen-length/.test(generate.split('\n').slice(0, 3).join(' ')), 'decoder keys are summed up, not listed one by one');
});

test('renderUsage: booleans bare, hints and defaults as values, config keys summed up, head flags not repeated', () => {
  const entry: UsageEntry = {
    usage: 'demo --in FILE',
    flags: {
      in: { type: 'string' },
      n: { type: 'string', default: '3' },
      backend: { type: 'string' },
      fast: { type: 'boolean' },
      'lr-max': { type: 'string' },
      help: { type: 'boolean' },
    },
    configs: [{ label: 'training', defaults: { lrMax: 1 } }],
    summary: 'a demo',
  };
  const text = renderUsage('title', [entry], 'tail');
  assert.match(text, /dllm demo --in FILE \[--n 3\] \[--backend auto\|ort\|wasm\|ref\] \[--fast\] \[--<training key> value …\]/);
  assert.ok(!text.includes('[--in'), 'a flag the usage head names is not listed again');
  assert.ok(!text.includes('--help') && !text.includes(`--${kebab('lrMax')} `), 'help and config keys are not listed');
});

// Inputs that cannot exhaust the machine: a model folder's config.json is checked against its tensors and
// against memory before anything is allocated, and its tokenizer.json against size and nesting bounds — each
// refused in well under a second with an error naming the file and the field. Before: `n_layers: 1e9` ran
// 60–86 s into a V8 out-of-memory abort; `max_sequence_length: 1e9` gave "Invalid typed array length"
// naming no file; a nested tokenizer.json gave "Maximum call stack size exceeded" naming no file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { parseHfConfig, toHfConfig } from '../../src/model/config.js';
import { loadWeights } from '../../src/model/load.js';
import { parameterTable } from '../../src/model/params.js';
import { countWords, toTokenizerJson, trainBpe } from '../../src/tokenizer/bpe-train.js';
import { folderFiles, loadModelDir } from '../../src/platform/node-model.js';
import { createKernels } from '../../src/platform/node.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { modelConfigFor } from '../../src/train/loop.js';
import { ref } from '../helpers/kernels.js';
import { tinyConfig } from '../helpers/tiny-model.js';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;

/** a tiny llada folder: config.json (patched by `edit`), F32 weights, a real tokenizer */
function modelDir(root: string, name: string, edit: (c: Record<string, unknown>) => void = () => {}): string {
  const dir = join(root, name);
  const cfg = tinyConfig('llada');
  const hf = toHfConfig(cfg);
  edit(hf);
  const tensors = parameterTable(cfg).map((s) => ({
    name: s.hfName,
    dtype: 'F32' as const,
    shape: [...s.shape],
    data: new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.01),
  }));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hf));
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors));
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify(toTokenizerJson(trainBpe(countWords(['def f(x): return x + 1']), { vocabSize: 270, specialTokens: ['<|eos|>'] }))),
  );
  return dir;
}

/** rejected within 2 s, with a message matching `pattern` and containing `names` (the file) */
async function refusedFast(p: Promise<unknown>, pattern: RegExp, what: string, names = ''): Promise<void> {
  const t0 = performance.now();
  await assert.rejects(
    p,
    (e: Error) => {
      assert.match(e.message, pattern, what);
      assert.ok(e.message.includes(names), `${what}: the message names ${names}: ${e.message}`);
      return true;
    },
    what,
  );
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${what}: refused in ${ms.toFixed(0)} ms`);
}

test(
  'config.json dimensions are checked against the tensors and against memory before anything is allocated',
  { timeout: 30_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'dllm-limits-'));
    const k = await createKernels({ backend: 'wasm', threads: 1 });
    try {
      const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
        [
          'n_layers 1e9',
          (c) => {
            c['n_layers'] = 1e9;
          },
          /config\.json: "n_layers" is 1000000000, over dllm's limit of 1024/,
        ],
        [
          'n_layers over the weights',
          (c) => {
            c['n_layers'] = 5;
          },
          /config\.json: "n_layers" is 5, but the weights hold 2 layers/,
        ],
        [
          'max_sequence_length 1e9',
          (c) => {
            c['max_sequence_length'] = 1e9;
          },
          /config\.json: "max_sequence_length" is 1000000000, over dllm's limit of 2097152/,
        ],
        [
          'embedding_size 1e12',
          (c) => {
            c['embedding_size'] = 1e12;
          },
          /config\.json: "embedding_size" is 1000000000000, over dllm's limit/,
        ],
        [
          "embedding_size not the tensor's",
          (c) => {
            c['embedding_size'] = 60;
            c['vocab_size'] = 60;
          },
          /model\.safetensors: model\.transformer\.wte\.weight has shape \[53,24\], config\.json implies \[60,24\] \("embedding_size" 60, "d_model" 24\)/,
        ],
        [
          'd_model 2^20',
          (c) => {
            c['d_model'] = 2 ** 20;
          },
          /"d_model" is 1048576, over dllm's limit of 65536/,
        ],
        [
          'mlp_hidden_size 1e9',
          (c) => {
            c['mlp_hidden_size'] = 1e9;
          },
          /"mlp_hidden_size" is 1000000000, over dllm's limit/,
        ],
      ];
      for (const [name, edit, pattern] of cases) {
        const dir = modelDir(root, name.replace(/\W+/g, '-'), edit);
        await refusedFast(
          loadModelDir(dir, k),
          pattern,
          `library: ${name}`,
          join(dir, /safetensors/.test(pattern.source) ? 'model.safetensors' : 'config.json'),
        );
      }
      // within the limits, but not within this machine: refused before allocation, naming the field
      const long = modelDir(root, 'long', (c) => {
        c['max_sequence_length'] = 2 ** 21;
      }); // MODEL_LIMITS.maxPositions
      await refusedFast(
        loadWeights(folderFiles(long), ref, { memoryBytes: 32 * 2 ** 20 }),
        /config\.json: "max_sequence_length" is 2097152: with its RoPE tables \(48\.0 MiB\) the model needs 48\.\d MiB, this machine has 32\.0 MiB/,
        'RoPE over memory',
      );
      const ok = modelDir(root, 'ok');
      await refusedFast(
        loadWeights(folderFiles(ok), ref, { memoryBytes: 10_000 }),
        /config\.json: the model needs 0\.\d MiB at dtype f32, this machine has 0\.0 MiB \(try --dtype q8 or q4\)/,
        'weights over memory',
      );
      const fine = await loadModelDir(ok, k);
      assert.equal(fine.config.numLayers, 2, 'an undamaged folder still loads');
      fine.model.dispose();
      // and from the command line: one line, at once (it used to run for a minute into a V8 abort)
      for (const cmd of [
        ['inspect', '--model'],
        ['generate', 'x', '--backend', 'wasm', '--model'],
      ]) {
        const dir = modelDir(root, `cli-${cmd[0]}`, (c) => {
          c['n_layers'] = 1e9;
        });
        const t0 = performance.now();
        const r = await run(process.execPath, [CLI, ...cmd, dir], { timeout: 20_000 }).then(
          () => null,
          (e: { code: number; stderr: string }) => e,
        );
        assert.ok(r && r.code !== 0, `${cmd[0]}: exit status`);
        assert.match(r!.stderr, /config\.json: "n_layers" is 1000000000, over dllm's limit of 1024/, cmd[0]!);
        assert.ok(performance.now() - t0 < 15_000, `${cmd[0]}: fast`);
      }
    } finally {
      k.dispose();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

test('training configs are held to the same limits (before the trainer allocates)', () => {
  assert.throws(
    () => modelConfigFor(parseTrainConfig({ numLayers: 100_000 }), 256),
    /train config: numLayers 100000 is over dllm's limit of 1024/,
  );
  assert.throws(
    () =>
      parseHfConfig(
        { model_type: 'llama', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 64, vocab_size: 2 ** 23 },
        'x/config.json',
      ),
    /x\/config\.json: "vocab_size" is 8388608, over dllm's limit of 4194304/,
  );
});

test('tokenizer.json: size and nesting depth are bounded, the error names the file', { timeout: 30_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'dllm-tok-limits-'));
  const k = await createKernels({ backend: 'wasm', threads: 1 });
  try {
    // 100 000 nested normalizers (3.6 MB): the tokenizer library recursed until "Maximum call stack size exceeded"
    const nested = modelDir(root, 'nested');
    const tj = readFileSync(join(nested, 'tokenizer.json'), 'utf8');
    const depth = 100_000;
    writeFileSync(
      join(nested, 'tokenizer.json'),
      tj.replace(
        '"normalizer":null',
        `"normalizer":${'{"type":"Sequence","normalizers":['.repeat(depth)}{"type":"Lowercase"}${']}'.repeat(depth)}`,
      ),
    );
    await refusedFast(
      loadModelDir(nested, k),
      /tokenizer\.json: JSON nested deeper than 64 levels/,
      'nested tokenizer.json',
      join(nested, 'tokenizer.json'),
    );
    // 65 MB, valid JSON: refused from its size before it is read
    const big = modelDir(root, 'big');
    const t = JSON.parse(readFileSync(join(big, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    t['padding'] = null;
    writeFileSync(join(big, 'tokenizer.json'), JSON.stringify({ ...t, comment: 'x'.repeat(65 * 2 ** 20) }));
    await refusedFast(
      loadModelDir(big, k),
      /big\/tokenizer\.json: \d+ bytes, over the 67108864-byte limit for this file/,
      'huge tokenizer.json',
    );
    // a sparse 1 GB config.json is refused without reading it
    const sparse = modelDir(root, 'sparse');
    truncateSync(join(sparse, 'config.json'), 2 ** 30);
    await refusedFast(
      loadModelDir(sparse, k),
      /sparse\/config\.json: 1073741824 bytes, over the 268435456-byte limit/,
      'sparse config.json',
    );
    const fine = await loadModelDir(modelDir(root, 'fine'), k);
    assert.ok(fine.tokenizer, 'an ordinary tokenizer.json still loads');
    fine.model.dispose();
  } finally {
    k.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});

// No silent garbage on resume: each damage the issue found used to load and train on — a tensor relabelled
// F32 → I32/U32 (weights ~1e9), a tensor missing from the model or optimizer file (left at zero), and
// trainer_state.json with step -5, rng [0,0,0,0], optimizerStep null, tokens "many". Each must be refused
// with a message naming the file and the field; an undamaged checkpoint (of either engine) still loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../../src/cli/checkpoint.js';
import { parseSafetensorsHeader, readTensor, writeSafetensors } from '../../src/io/safetensors.js';
import { parseTrainerState } from '../../src/train/trainer-state.js';
import { SPECIALS, sameAs, snapshot, tinyTrainer, tokenizerFiles, trainSteps } from '../helpers/train-run.js';

type Damage = (ckpt: string) => void;

/** rewrite a safetensors file's tensors through `edit` (name → kept or dropped, dtype relabelled) */
function rewrite(path: string, edit: (name: string) => 'keep' | 'drop' | string): void {
  const bytes = new Uint8Array(readFileSync(path));
  const h = parseSafetensorsHeader(bytes);
  const out = [...h.tensors].flatMap(([name, info]) => {
    const e = edit(name);
    if (e === 'drop') return [];
    const data = readTensor(bytes, h, name) as Float32Array;
    return [
      {
        name,
        dtype: (e === 'keep' ? info.dtype : e) as 'F32',
        shape: info.shape,
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      },
    ];
  });
  writeFileSync(path, writeSafetensors(out, h.metadata));
}

function editState(ckpt: string, edit: (s: Record<string, unknown>) => void): void {
  const p = join(ckpt, 'trainer_state.json');
  const s = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  edit(s);
  writeFileSync(p, JSON.stringify(s));
}

test('damaged checkpoints are refused on resume, naming the file and the field', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dllm-strict-'));
  try {
    const tok = tokenizerFiles(root);
    const t = tinyTrainer();
    trainSteps(t, 2);
    const good = join(root, 'good');
    await saveCheckpoint(good, t, tok, SPECIALS);
    const want = snapshot(t);
    const first = t.model.specs[1]!,
      embed = t.model.specs[0]!;
    const model = 'checkpoint/model.safetensors',
      optim = 'checkpoint/optimizer.safetensors',
      state = 'checkpoint/trainer_state.json';
    const cases: [string, Damage, string, RegExp][] = [
      [
        'model tensor relabelled F32 → I32',
        (c) => rewrite(join(c, 'model.safetensors'), (n) => (n === first.hfName ? 'I32' : 'keep')),
        model,
        new RegExp(`tensor ${first.hfName.replace(/\./g, '\\.')} is I32; training checkpoints hold F32`),
      ],
      [
        'model tensor relabelled F32 → U32',
        (c) => rewrite(join(c, 'model.safetensors'), (n) => (n === embed.hfName ? 'U32' : 'keep')),
        model,
        /is U32; training checkpoints hold F32/,
      ],
      [
        'optimizer moment relabelled F32 → I32',
        (c) => rewrite(join(c, 'optimizer.safetensors'), (n) => (n === `v.${first.name}` ? 'I32' : 'keep')),
        optim,
        /tensor v\.\S+ is I32/,
      ],
      [
        'a model tensor missing',
        (c) => rewrite(join(c, 'model.safetensors'), (n) => (n === first.hfName ? 'drop' : 'keep')),
        model,
        /tensor \S+ is missing \(the parameter table has layers\.0\.attnNorm/,
      ],
      [
        'an optimizer moment missing',
        (c) => rewrite(join(c, 'optimizer.safetensors'), (n) => (n === `m.${embed.name}` ? 'drop' : 'keep')),
        optim,
        /tensor m\.tokEmbed is missing/,
      ],
      [
        'step -5',
        (c) =>
          editState(c, (s) => {
            s['step'] = -5;
          }),
        state,
        /"step" must be an integer ≥ 0, got -5/,
      ],
      [
        'step 2.5',
        (c) =>
          editState(c, (s) => {
            s['step'] = 2.5;
          }),
        state,
        /"step" must be an integer ≥ 0, got 2\.5/,
      ],
      [
        'rng all zero',
        (c) =>
          editState(c, (s) => {
            s['rng'] = [0, 0, 0, 0];
          }),
        state,
        /"rng" is all zero/,
      ],
      [
        'rng of 3 words',
        (c) =>
          editState(c, (s) => {
            s['rng'] = [1, 2, 3];
          }),
        state,
        /"rng" must be 4 uint32 words/,
      ],
      [
        'rng word over 32 bits',
        (c) =>
          editState(c, (s) => {
            s['rng'] = [1, 2, 3, 2 ** 32];
          }),
        state,
        /"rng" must be 4 uint32 words/,
      ],
      [
        'optimizerStep null',
        (c) =>
          editState(c, (s) => {
            s['optimizerStep'] = null;
          }),
        state,
        /"optimizerStep" must be an integer ≥ 0, got null/,
      ],
      [
        'optimizerStep ahead of step',
        (c) =>
          editState(c, (s) => {
            s['optimizerStep'] = 9;
          }),
        state,
        /"optimizerStep" 9 is past "step" 2/,
      ],
      [
        'tokens "many"',
        (c) =>
          editState(c, (s) => {
            s['tokens'] = 'many';
          }),
        state,
        /"tokens" must be an integer ≥ 0, got "many"/,
      ],
      [
        'elapsedMs infinite (1e400 in the file)',
        (c) =>
          writeFileSync(
            join(c, 'trainer_state.json'),
            readFileSync(join(c, 'trainer_state.json'), 'utf8').replace(/"elapsedMs": [^,]+/, '"elapsedMs": 1e400'),
          ),
        state,
        /"elapsedMs" must be a finite number ≥ 0, got Infinity/,
      ],
      [
        'an unknown key',
        (c) =>
          editState(c, (s) => {
            s['stepp'] = 3;
          }),
        state,
        /unknown key "stepp"/,
      ],
      [
        'a config with a wrong type',
        (c) =>
          editState(c, (s) => {
            (s['config'] as Record<string, unknown>)['lrMax'] = '1e-3';
          }),
        state,
        /"config": "lrMax" must be a number/,
      ],
      [
        'not a dllm checkpoint',
        (c) =>
          editState(c, (s) => {
            s['format'] = 'other';
          }),
        state,
        /"format" is "other", not a dllm checkpoint/,
      ],
    ];
    for (const [name, damage, file, pattern] of cases) {
      const run = join(root, name.replace(/\W+/g, '-'));
      cpSync(good, run, { recursive: true });
      damage(join(run, 'checkpoint'));
      const fresh = tinyTrainer();
      await assert.rejects(
        loadCheckpoint(run, fresh),
        (e: Error) => {
          assert.ok(e.message.includes(join(run, file)), `${name}: the message names ${file}: ${e.message}`);
          assert.match(e.message, pattern, name);
          return true;
        },
        name,
      );
      fresh.dispose();
    }
    const ok = tinyTrainer();
    await loadCheckpoint(good, ok);
    sameAs(ok, [want]);
    ok.dispose();
    t.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a torch-engine trainer_state.json (numpy RNG state, empty rng) parses; a damaged one does not', () => {
  const base = {
    format: 'dllm-checkpoint',
    version: 1,
    engine: 'torch',
    step: 2600,
    tokens: 10649600,
    elapsedMs: 5045084.29,
    rng: [],
    optimizerStep: 2600,
    config: {
      objective: 'ar',
      arch: 'llama',
      hiddenSize: 256,
      numLayers: 6,
      steps: 2600,
      engine: 'torch',
      out: '/runs/ar',
      data: '/runs/corpus',
    },
    numpyRng: {
      bit_generator: 'PCG64',
      state: { state: 2.6095576244640556e38, inc: 1.9429028947936471e38 },
      has_uint32: 0,
      uinteger: 2759182440,
    },
  };
  const s = parseTrainerState(base, 'x/trainer_state.json');
  assert.equal(s.step, 2600);
  assert.equal(s.config.hiddenSize, 256);
  assert.throws(
    () => parseTrainerState({ ...base, numpyRng: undefined }, 'x/trainer_state.json'),
    /x\/trainer_state\.json: "numpyRng" is missing/,
  );
  assert.throws(
    () => parseTrainerState({ ...base, numpyRng: { ...base.numpyRng, state: { state: 1, inc: 0 } } }, 'x/trainer_state.json'),
    /"numpyRng"\.state\.inc is 0/,
  );
  assert.throws(() => parseTrainerState({ ...base, engine: undefined }, 'x/trainer_state.json'), /"rng" must be 4 uint32 words, got \[\]/);
});

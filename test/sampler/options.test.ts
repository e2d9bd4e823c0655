// parseDecodeOptions: unknown keys and wrong types are refused with a message naming the key; defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDecodeOptions, resolveOptions, DECODE_DEFAULTS } from '../../src/sampler/options.js';

test("defaults are LLaDA main()'s (steps 128, gen 128, block 32, τ 0) and Fast-dLLM's threshold 0.9", () => {
  const o = parseDecodeOptions({});
  assert.equal(o.decoder, 'fixed');
  assert.deepEqual([o.steps, o.genLength, o.blockLength, o.temperature, o.threshold], [128, 128, 32, 0, 0.9]);
  assert.deepEqual([o.eps, o.topP, o.topK, o.algTemp, o.earlyStop], [1e-3, 1, 0, 0, false]);
  assert.ok(Object.isFrozen(o));
  assert.deepEqual(parseDecodeOptions(undefined), o);
});

test('Dream decoders default to one block and steps = genLength; a block of 32 only where it divides', () => {
  const d = parseDecodeOptions({ decoder: 'entropy', genLength: 64 });
  assert.deepEqual([d.blockLength, d.steps], [64, 64]);
  assert.equal(resolveOptions({ genLength: 48 }).blockLength, 48);
  assert.equal(resolveOptions({ genLength: 64 }).blockLength, DECODE_DEFAULTS.blockLength);
});

test('steps follow genLength unless given: genLength alone never clashes with a default it did not ask for', () => {
  for (const g of [96, 40, 7, 256]) {
    const o = resolveOptions({ decoder: 'fixed', genLength: g });
    assert.equal(o.steps, g, `genLength ${g}`);
    assert.equal(o.genLength % o.blockLength, 0);
  }
  assert.equal(resolveOptions({ genLength: 96, steps: 48 }).steps, 48, 'a given steps is kept');
  assert.throws(
    () => resolveOptions({ genLength: 96, steps: 50 }),
    (e: Error & { key?: string }) => e.key === 'steps',
    'the error names the field the user sent',
  );
});

test("presence and frequency penalties: OpenAI's range -2..2, default off", () => {
  const o = parseDecodeOptions({ presencePenalty: 1.5, frequencyPenalty: -0.5 });
  assert.deepEqual([o.presencePenalty, o.frequencyPenalty], [1.5, -0.5]);
  assert.deepEqual([DECODE_DEFAULTS.presencePenalty, DECODE_DEFAULTS.frequencyPenalty], [0, 0]);
  assert.throws(() => parseDecodeOptions({ presencePenalty: 3 }), /"presencePenalty" must be between -2 and 2/);
});

test('unknown keys and wrong types are refused, naming the key', () => {
  assert.throws(() => parseDecodeOptions({ stepz: 3 }), /"stepz" is not a decode option/);
  assert.throws(() => parseDecodeOptions({ steps: '8' }), /"steps" must be an integer, got "8"/);
  assert.throws(() => parseDecodeOptions({ steps: 2.5 }), /"steps" must be an integer/);
  assert.throws(() => parseDecodeOptions({ temperature: 'hot' }), /"temperature" must be a finite number/);
  assert.throws(() => parseDecodeOptions({ temperature: Infinity }), /"temperature"/);
  assert.throws(() => parseDecodeOptions({ earlyStop: 1 }), /"earlyStop" must be true or false/);
  assert.throws(() => parseDecodeOptions({ decoder: 'greedy' }), /"decoder" must be one of fixed \| threshold/);
  assert.throws(() => parseDecodeOptions({ remasking: 'lowest' }), /"remasking"/);
  assert.throws(() => parseDecodeOptions([1]), /expected an object, got an array/);
  assert.throws(() => parseDecodeOptions('fast'), /expected an object/);
});

test("ranges and cross-field rules name the key (generate.py's asserts, spelled out)", () => {
  assert.throws(() => parseDecodeOptions({ genLength: 10, blockLength: 4 }), /"genLength" \(10\) must be a multiple of blockLength \(4\)/);
  assert.throws(
    () => parseDecodeOptions({ genLength: 64, blockLength: 32, steps: 3 }),
    /"steps" \(3\) must be a multiple of the number of blocks \(2\)/,
  );
  assert.doesNotThrow(() => parseDecodeOptions({ decoder: 'threshold', genLength: 64, blockLength: 32, steps: 3 })); // threshold ignores steps
  assert.throws(() => parseDecodeOptions({ threshold: 1.5 }), /"threshold" must be in \(0, 1\]/);
  assert.throws(() => parseDecodeOptions({ temperature: -1 }), /"temperature" must be ≥ 0/);
  assert.throws(() => parseDecodeOptions({ topP: 0.9 }), /"topP" applies to the Dream decoders/);
  assert.throws(() => parseDecodeOptions({ decoder: 'origin', remasking: 'random' }), /"remasking" applies to the LLaDA decoders/);
  assert.throws(() => parseDecodeOptions({ genLength: 0 }), /"genLength" must be a positive integer/);
  assert.throws(() => parseDecodeOptions({ eps: 0 }), /"eps" must be in \(0, 1\)/);
  assert.deepEqual(parseDecodeOptions({ decoder: 'maskgit_plus', topP: 0.95, topK: 20, temperature: 0.2 }).topK, 20);
});

test('the decoder table drives the checks and the help: every decoder has a row, a source and a help line', async () => {
  const { DECODER_TABLE, DECODERS, decoderHelp, isDreamDecoder } = await import('../../src/sampler/decoders.js');
  assert.deepEqual([...DECODERS].sort(), Object.keys(DECODER_TABLE).sort());
  const help = decoderHelp().split('\n');
  for (const d of DECODERS) {
    const line = help.find((l) => l.trimStart().startsWith(`${d} `));
    assert.ok(line, `--decoder help has no line for ${d}`);
    assert.ok(line.includes(DECODER_TABLE[d].source), `the help line of ${d} cites its source`);
    // 'schedule' decoders split steps over blocks, so steps must divide by the block count (generate.py asserts)
    const o = { decoder: d, genLength: 64, blockLength: 32, steps: 3 };
    if (DECODER_TABLE[d].stepsPerBlock === 'schedule') assert.throws(() => resolveOptions(o), /steps/, d);
    else assert.equal(resolveOptions(o).steps, 3, `${d} runs until its block is done; steps is not checked`);
    assert.equal(isDreamDecoder(d), DECODER_TABLE[d].family === 'dream');
  }
});

// Token-level JSON Schema masking (text/json-mask.ts): random walks through the masks always end in JSON that
// Ajv validates — under tight budgets, on the shipped 8,192-token byte-level vocabulary and the fixtures' ~300 —
// the number bounds are exact (brute force: no prefix leads into a dead end), and the generator decodes with it
// on a diffusion fixture (left to right) and a causal one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import type { TextTokenizer } from '../../src/tokenizer/index.js';
import { folderFiles, loadTokenizer } from '../../src/platform/node-model.js';
import { jsonConstraint, isCompleteJson, restOf, jsonStart } from '../../src/text/json-mask.js';
import { compileGrammar, GrammarError, numberRest, type GrammarNode } from '../../src/text/json-grammar.js';
import { planStructure } from '../../src/text/structured-plan.js';
import { SchemaError } from '../../src/text/structured.js';
import { loadModel } from '../../src/node.js';
import { generate, drain } from '../../src/sampler/index.js';
import { DecodeRng } from '../../src/sampler/rng.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
/** the checkpoint's tokenizer, loaded as loadModel loads it */
async function tokenizer(dir: string): Promise<TextTokenizer> {
  return (await loadTokenizer(folderFiles(ROOT + dir)))!;
}

/** schemas a pinned canvas cannot hold (anyOf, variable arrays, optional keys, $ref) and some it can */
export const MASK_SCHEMAS: Record<string, unknown>[] = [
  { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string', maxLength: 5 } }, required: ['a', 'b'] },
  {
    anyOf: [
      { type: 'string', minLength: 2, maxLength: 4 },
      { type: 'integer', minimum: 5000, maximum: 5100 },
    ],
  },
  { type: 'array', items: { type: 'number', minimum: -2.5, maximum: 3.75 }, minItems: 1, maxItems: 4 },
  {
    type: 'object',
    properties: { id: { type: 'integer', minimum: -3, maximum: 3 }, tag: { enum: ['x', 2, true, null] }, opt: { type: 'boolean' } },
    required: ['id'],
    additionalProperties: false,
  },
  {
    $defs: { pt: { type: 'object', properties: { x: { type: 'integer' }, y: { type: ['integer', 'null'] } }, required: ['x', 'y'] } },
    type: 'array',
    items: { $ref: '#/$defs/pt' },
    maxItems: 3,
  },
  { type: 'object', properties: { s: { type: 'string', minLength: 3 } }, required: ['s'] },
  { type: 'number', minimum: 0.5, maximum: 0.75 },
];

/** decode by uniform random choice among the allowed ids; the text up to EOS */
function walk(tok: TextTokenizer, schema: unknown, budget: number, rng: DecodeRng): string {
  const c = jsonConstraint(schema, tok),
    eos = tok.specials.eos!,
    ids: number[] = [];
  for (let i = 0; i < budget; i++) {
    const m = c.allowed(ids, budget - i - 1),
      ok: number[] = [];
    m.forEach((x, v) => x === 1 && ok.push(v));
    // end as soon as allowed half the time, so short and long values both appear
    const v = m[eos] === 1 && rng.uniform() < 0.5 ? eos : ok[Math.floor(rng.uniform() * ok.length)]!;
    if (v === eos) break;
    ids.push(v);
  }
  return tok.decode(ids);
}

for (const [name, dir] of [
  ['the shipped vocabulary', 'models/dllm-code-mini-ar'],
  ['the fixture vocabulary', 'test/fixtures/llada'],
] as const) {
  test(`random walks through the masks validate (Ajv), tight and loose budgets, ${name}`, async () => {
    const tok = await tokenizer(dir),
      ajv = new Ajv({ strict: false });
    MASK_SCHEMAS.forEach((schema, k) => {
      const validate = ajv.compile(schema),
        shortest = restOf(jsonStart(schema));
      for (let seed = 0; seed < 12; seed++) {
        const budget = shortest + (seed % 3 === 0 ? 0 : seed * 3); // every third walk: no slack at all
        const text = walk(tok, schema, budget, new DecodeRng(seed, k));
        let value: unknown;
        assert.doesNotThrow(() => (value = JSON.parse(text)), `schema ${k} seed ${seed}: not JSON: ${text}`);
        assert.ok(validate(value), `schema ${k} seed ${seed} budget ${budget}: ${text} — ${JSON.stringify(validate.errors)}`);
        assert.ok(isCompleteJson(schema, text), `schema ${k}: ${text} is not a whole value of the grammar`);
      }
    });
  });
}

test('number bounds are exact: numberRest is the true shortest completion (brute force up to 3 characters)', () => {
  const nodes = [
    { type: 'integer', minimum: 5, maximum: 42 },
    { type: 'integer', minimum: -120, maximum: -7 },
    { type: 'number', minimum: -12.5, maximum: 3 },
    { type: 'number', minimum: 0.25, maximum: 0.5 },
  ].map((s) => compileGrammar(s) as Extract<GrammarNode, { k: 'num' }>);
  const A = '-0123456789.';
  const strings = (n: number): string[] => (n === 0 ? [''] : strings(n - 1).flatMap((s) => [...A].map((c) => s + c)));
  const inBounds = (n: (typeof nodes)[number], s: string) =>
    (n.integer ? /^-?(0|[1-9]\d*)$/ : /^-?(0|[1-9]\d*)(\.\d+)?$/).test(s) && +s >= n.min && +s <= n.max;
  for (const n of nodes)
    for (const p of [...strings(1), ...strings(2)]) {
      const r = numberRest(n, p);
      let truth = Infinity;
      for (let e = 0; e <= 3 && truth === Infinity; e++) if (strings(e).some((x) => inBounds(n, p + x))) truth = e;
      if (truth <= 3 || r <= 3) assert.equal(r, truth, `[${n.min}, ${n.max}] prefix "${p}": rest ${r}, brute force ${truth}`);
    }
});

test('unsupported keywords and recursive $ref are refused by name; planStructure says why', async () => {
  assert.throws(() => compileGrammar({ type: 'string', pattern: '^a$' }), /"pattern" is not supported/);
  assert.throws(
    () => compileGrammar({ $defs: { t: { type: 'array', items: { $ref: '#/$defs/t' } } }, $ref: '#/$defs/t' }),
    (e: unknown) => e instanceof GrammarError && /recursive/.test(e.message),
  );
  const tok = await tokenizer('test/fixtures/llada');
  assert.equal(planStructure({ anyOf: [{ type: 'integer' }, { type: 'null' }] }, tok, 'diffusion').mode, 'masked');
  assert.equal(planStructure({ type: 'object', properties: { a: { type: 'integer' } } }, tok, 'diffusion').mode, 'pinned');
  assert.throws(() => planStructure({ type: 'integer' }, tok, 'causal', 'pinned'), SchemaError);
  assert.throws(() => planStructure({ type: 'string', format: 'date' }, tok, 'causal'), /"format" is not supported/);
});

test('the diffusion loop refuses a token constraint on blocks longer than one', async () => {
  const lm = await loadModel(`${ROOT}test/fixtures/llada`);
  try {
    const c = jsonConstraint({ type: 'integer' }, lm.tokenizer);
    await assert.rejects(
      drain(generate(lm.denoiser(), { prompt: [1, 2], constraint: c }, { genLength: 8, steps: 8, blockLength: 4 })),
      /token constraint.*blockLength 1/,
    );
  } finally {
    lm.dispose();
  }
});

for (const [kind, dir] of [
  ['diffusion', 'test/fixtures/llada'],
  ['causal', 'test/fixtures/llama'],
] as const) {
  test(`generator: jsonSchema masked token by token on the ${kind} fixture validates, temperature 0 and 1`, async () => {
    const lm = await loadModel(`${ROOT}${dir}`),
      schema = MASK_SCHEMAS[3]!,
      validate = new Ajv({ strict: false }).compile(schema);
    try {
      assert.equal(lm.kind, kind);
      for (const [temperature, seed] of [
        [0, 0],
        [1, 1],
        [1, 2],
      ] as const) {
        const r = await lm.complete('x', { jsonSchema: schema, structured: 'masked', maxTokens: 40, temperature, seed });
        assert.ok(validate(JSON.parse(r.text)), `${kind} τ ${temperature} seed ${seed}: ${r.text}`);
        if (kind === 'diffusion') assert.equal(r.tokensPerForward, r.ids.length / r.nfe);
      }
    } finally {
      lm.dispose();
    }
  });
}

// config.json of the MoE families: dispatch on `architectures` before model_type (LLaDA-MoE says "llada"),
// every value from the file (the fixtures' configs parse to the numbers written in them), and a missing or
// unsupported key is an error naming that key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { detectArch, parseHfConfig } from '../../src/model/config.js';
import { activeParameterCount, parameterCount, parameterTable } from '../../src/model/params.js';
import { MOE_SHAPES } from '../../bench/moe-shapes.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
const cfg = (name: string) => JSON.parse(readFileSync(`${FIXTURES}${name}/config.json`, 'utf8')) as Record<string, unknown>;
const without = (c: Record<string, unknown>, key: string) => {
  const d = { ...c };
  delete d[key];
  return d;
};

test('architectures decide before model_type: LLaDAMoEModelLM with model_type "llada" is lladamoe', () => {
  assert.equal(detectArch({ architectures: ['LLaDAMoEModelLM'], model_type: 'llada' }), 'lladamoe');
  assert.equal(detectArch({ architectures: ['LLaDAModelLM'], model_type: 'llada' }), 'llada');
  assert.equal(detectArch({ architectures: ['LLaDA2MoeModelLM'], model_type: 'llada2_moe' }), 'llada2');
  assert.equal(detectArch({ model_type: 'llada2_moe' }), 'llada2');
  assert.equal(detectArch({ model_type: 'llada' }), 'llada');
  assert.throws(
    () => detectArch({ architectures: ['MixtralForCausalLM'], model_type: 'mixtral' }, 'x/config.json'),
    /x\/config\.json: unknown architecture.*lladamoe/,
  );
});

test('lladamoe fixture config.json → ModelConfig: every value from the file', () => {
  const c = parseHfConfig(cfg('lladamoe'));
  assert.equal(c.arch, 'lladamoe');
  assert.deepEqual(
    { C: c.hiddenSize, L: c.numLayers, H: c.numHeads, Hkv: c.numKvHeads, D: c.headDim, R: c.ropeDim, F: c.ffnSize },
    { C: 32, L: 3, H: 4, Hkv: 2, D: 8, R: 8, F: 48 },
  );
  assert.deepEqual(
    { ...c.moe, moeLayers: [...c.moe!.moeLayers] },
    {
      numExperts: 8,
      topK: 2,
      expertFfn: 16,
      sharedFfn: 16,
      router: 'softmax',
      expertBias: true,
      groups: 1,
      topGroups: 1,
      scaling: 1,
      moeLayers: [false, true, true],
    },
  );
  assert.equal(c.qkNorm, true);
  assert.equal(c.attention, 'bidirectional');
  assert.ok(activeParameterCount(c) < parameterCount(c));
});

test('llada2 fixture config.json → ModelConfig: partial RoPE, groups, scale, dense layers below first_k_dense_replace', () => {
  const c = parseHfConfig(cfg('llada2'));
  assert.equal(c.arch, 'llada2');
  assert.equal(c.ropeDim, 4, 'partial_rotary_factor 0.5 of head_dim 8');
  assert.deepEqual(
    { ...c.moe, moeLayers: [...c.moe!.moeLayers] },
    {
      numExperts: 12,
      topK: 3,
      expertFfn: 8,
      sharedFfn: 8,
      router: 'sigmoidGroup',
      expertBias: true,
      groups: 3,
      topGroups: 2,
      scaling: 2.5,
      moeLayers: [false, true, true],
    },
  );
  assert.equal(c.qkvBias, true);
  assert.equal(c.outBias, true);
  const names = parameterTable(c).map((s) => s.hfName);
  assert.ok(names.includes('model.layers.0.attention.query_key_value.weight'));
  assert.ok(names.includes('model.layers.1.mlp.gate.expert_bias'));
  assert.ok(names.includes('model.layers.2.mlp.shared_experts.down_proj.weight'));
  assert.ok(!names.some((n) => n.startsWith('model.layers.0.mlp.experts')), 'layer 0 is dense');
});

test('a missing value is an error naming the key (config class defaults are not trusted)', () => {
  const moe = cfg('lladamoe'),
    l2 = cfg('llada2');
  for (const [c, key] of [
    [moe, 'moe_router_enable_expert_bias'],
    [moe, 'partial_rotary_factor'],
    [moe, 'shared_expert_intermediate_size'],
    [moe, 'qk_layernorm'],
    [moe, 'moe_layer_freq'],
    [moe, 'rope_theta'],
    [moe, 'num_experts'],
    [l2, 'num_shared_experts'],
    [l2, 'use_bias'],
    [l2, 'use_qkv_bias'],
    [l2, 'first_k_dense_replace'],
    [l2, 'n_group'],
    [l2, 'routed_scaling_factor'],
    [l2, 'moe_intermediate_size'],
    [l2, 'partial_rotary_factor'],
    [l2, 'num_key_value_heads'],
    [l2, 'max_position_embeddings'],
  ] as const) {
    assert.throws(() => parseHfConfig(without(c, key), 'm/config.json'), new RegExp(`m/config\\.json: "${key}"`), key);
  }
});

test('an unsupported or inconsistent value is an error naming the key', () => {
  const moe = cfg('lladamoe'),
    l2 = cfg('llada2');
  const bad: [Record<string, unknown>, string, unknown][] = [
    [moe, 'clip_qkv', 8],
    [moe, 'hidden_act', 'gelu'],
    [moe, 'rope_scaling', { type: 'linear', factor: 2 }],
    [moe, 'moe_layer_freq', [0, 1]],
    [moe, 'num_experts_per_tok', 9],
    [l2, 'n_group', 5],
    [l2, 'topk_group', 4],
    [l2, 'partial_rotary_factor', 1.5],
    [l2, 'num_shared_experts', 'one'],
  ];
  for (const [c, key, value] of bad) {
    assert.throws(
      () => parseHfConfig({ ...c, [key]: value }, 'm/config.json'),
      new RegExp(`"${key}"`),
      `${key} = ${JSON.stringify(value)}`,
    );
  }
  // null is allowed where the official code tests for None
  assert.equal(parseHfConfig({ ...moe, shared_expert_intermediate_size: null }).moe!.sharedFfn, 0);
  assert.equal(parseHfConfig({ ...l2, num_shared_experts: null }).moe!.sharedFfn, 0);
});

test('a LLaDA2.0-mini-shaped config: 16 B parameters, 1.4 B read per token (the model card\'s "16B total, 1.4B active")', () => {
  // dimensions of Ling-mini-2.0 / BailingMoeV2, the base LLaDA2.0-mini is converted from (its published config.json,
  // as quoted by a third-party test fixture): not a file read here, so only the totals are checked. The shape is
  // bench:moe's (bench/moe-shapes.ts), so the benchmark builds the model these totals describe.
  const mini = JSON.parse(JSON.stringify(MOE_SHAPES['llada2-mini'])) as Record<string, unknown>;
  const c = parseHfConfig(mini);
  assert.ok(Math.abs(parameterCount(c) / 1e9 - 16.2) < 0.1, `${parameterCount(c)} parameters`);
  assert.ok(Math.abs(activeParameterCount(c) / 1e9 - 1.43) < 0.05, `${activeParameterCount(c)} active`);
});

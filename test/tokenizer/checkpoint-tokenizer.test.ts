// Tokenizers of the fixture checkpoints: special ids come from the files (config.json, generation_config.json,
// tokenizer_config.json), chat templates render through @huggingface/jinja, special-token text maps to ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { TextTokenizer } from '../../src/tokenizer/index.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
const json = async (p: string) => JSON.parse(await readFile(p, 'utf8')) as Record<string, unknown>;

async function load(name: string) {
  const d = `${FIXTURES}${name}/`;
  return {
    tok: new TextTokenizer({ tokenizerJson: await json(d + 'tokenizer.json'), tokenizerConfig: await json(d + 'tokenizer_config.json'), modelConfig: await json(d + 'config.json'), generationConfig: await json(d + 'generation_config.json') }),
    config: await json(d + 'config.json'),
  };
}

test('llada: mask, EOS, BOS, EoT come from the checkpoint files; the Llama-3-style template renders', async () => {
  const { tok, config } = await load('llada');
  assert.equal(tok.specials.mask, config['mask_token_id']);
  assert.equal(tok.specials.eos, 281);
  assert.equal(tok.specials.bos, 280);
  assert.equal(tok.specials.eot, tok.tokenId('<|eot_id|>'));
  const text = tok.renderChat([{ role: 'user', content: 'hi' }]);
  assert.ok(text.startsWith('<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>'), JSON.stringify(text));
  assert.ok(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n'), JSON.stringify(text));
  const ids = tok.encode(text);
  assert.equal(ids[0], tok.specials.bos, 'special-token text becomes its id');
});

test('dream: the mask is <|mask|> from config.json; the Qwen ChatML template renders with the default system prompt', async () => {
  const { tok, config } = await load('dream');
  assert.equal(tok.specials.mask, config['mask_token_id']);
  assert.equal(tok.decode([tok.specials.mask!]), '<|mask|>');
  const text = tok.renderChat([{ role: 'user', content: 'hi' }]);
  assert.match(text, /^<\|im_start\|>system\n.+<\|im_end\|>\n<\|im_start\|>user\nhi<\|im_end\|>\n<\|im_start\|>assistant\n$/s);
});

test('llama: a list of eos ids in generation_config gives EOS and EoT separately', async () => {
  const { tok } = await load('llama');
  assert.equal(tok.specials.eos, 281);
  assert.equal(tok.specials.eot, 284);
  assert.equal(tok.specials.mask, null, 'an AR model has no mask');
});

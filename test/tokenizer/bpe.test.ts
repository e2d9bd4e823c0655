// Byte-level BPE training: the tokenizer.json it writes loads in @huggingface/tokenizers, round-trips any
// text (bytes never get lost), and learns the most frequent pair first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToUnicode, countWords, toTokenizerJson, trainBpe } from '../../src/tokenizer/bpe-train.js';
import { TextTokenizer } from '../../src/tokenizer/index.js';

const corpus = ['def foo(x):\n    return x + 1\n', 'def bar(y):\n    return y * 2\n', 'for i in range(10):\n    print(i)\n'];

function build(vocabSize: number) {
  const bpe = trainBpe(countWords(corpus), { vocabSize, specialTokens: ['<|endoftext|>', '<|mdm_mask|>'] });
  const tokenizerJson = toTokenizerJson(bpe);
  const tok = new TextTokenizer({
    tokenizerJson,
    tokenizerConfig: { eos_token: '<|endoftext|>', mask_token: '<|mdm_mask|>', clean_up_tokenization_spaces: false },
  });
  return { bpe, tok };
}

test('bytes_to_unicode maps all 256 bytes to distinct characters', () => {
  assert.equal(new Set(bytesToUnicode()).size, 256);
});

test('trained tokenizer round-trips text, including bytes never seen in training', () => {
  const { tok } = build(300);
  for (const s of [...corpus, 'déjà vu ✓ 🙂\t\r\n', '', '    \n\n']) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
});

test('specials come from the files: ids after the merges, in order', () => {
  const { bpe, tok } = build(300);
  assert.equal(tok.specials.eos, bpe.vocab.length);
  assert.equal(tok.specials.mask, bpe.vocab.length + 1);
  assert.equal(tok.vocabSize, bpe.vocab.length + 2); // ≤ 300: a tiny corpus runs out of pairs first
  assert.ok(tok.vocabSize <= 300);
  assert.equal(tok.decode([tok.specials.mask!]), '<|mdm_mask|>');
});

test('merges compress: more merges, fewer tokens; the first merge is the most frequent pair', () => {
  const small = build(260).tok,
    big = build(300).tok;
  const text = corpus.join('');
  assert.ok(big.encode(text).length < small.encode(text).length);
  const { bpe } = build(257 + 2);
  // "Ġ" (space) + "Ġ" is the most common pair in 4-space indented code
  assert.deepEqual(bpe.merges[0], ['Ġ', 'Ġ']);
});

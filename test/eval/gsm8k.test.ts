// GSM8K answer extraction and normalisation on a table of strings a model (or the data) produces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractAnswer, gsm8k, normalizeNumber } from '../../src/eval/gsm8k.js';

const CASES: Array<[string, string | null]> = [
  ['Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18', '18'],
  ['#### 1,000', '1000'],
  ['so the total is 5.\n#### $72', '72'],
  ['#### -3', '-3'],
  ['#### 0.50', '0.5'],
  ['#### 12.0', '12'],
  ['The answer is 42.', '42'],
  ['3 apples and 4 pears. The answer is 7 fruits, not 8', '7'],
  ['First 3 + 4 = 7, then 7 * 2 = 14', '14'],
  ['She has $1,250.75 left', '1250.75'],
  ['no numbers here', null],
  ['#### 007', '7'],
  ['It costs 5 dollars.\n\nQuestion: another one with 9', '9'],
  ['#### 18\n#### 20', '20'],
  ['the answer is -0.0', '0'],
  ['1/2 of 10 is 5', '5'],
];

test(`answer extraction on ${CASES.length} GSM8K-style strings`, () => {
  for (const [text, want] of CASES) assert.equal(extractAnswer(text), want, JSON.stringify(text));
});

test('normalisation and prompts: few-shot from train only, the question last', () => {
  assert.equal(normalizeNumber('1,000.00'), '1000');
  assert.equal(normalizeNumber('abc'), null);
  const train = [
    { question: 'Q1?', answer: 'a\n#### 1' },
    { question: 'Q2?', answer: 'b\n#### 2' },
  ];
  const [s] = gsm8k([{ question: 'How many?', answer: 'x\n#### 3' }], train, 2);
  assert.equal(s!.answer, '3');
  assert.equal(s!.prompt, 'Question: Q1?\nAnswer: a\n#### 1\n\nQuestion: Q2?\nAnswer: b\n#### 2\n\nQuestion: How many?\nAnswer:');
});

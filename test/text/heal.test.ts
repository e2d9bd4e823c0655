// Token healing (src/text/heal.ts): a text prompt's trailing whitespace token is backed up, the first generated
// token is limited to those whose text starts with it, and the text shown starts after it — on the shipped BPE
// tokenizer (where "\n" before indented code is the case that matters) and through the generator on both
// tiny fixtures (diffusion and causal), at temperature 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TextTokenizer } from '../../src/tokenizer/index.js';
import { folderFiles, loadTokenizer } from '../../src/platform/node-model.js';
import { healPrompt, healedText } from '../../src/text/heal.js';
import { loadModel } from '../../src/node.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
/** the checkpoint's tokenizer, loaded as loadModel loads it */
async function tokenizer(dir: string): Promise<TextTokenizer> {
  return (await loadTokenizer(folderFiles(ROOT + dir)))!;
}

test('healPrompt on the shipped tokenizer: a trailing "\\n" is backed up; its mask holds the indents, not code', async () => {
  const tok = await tokenizer('models/dllm-code-mini'),
    V = tok.vocabSize;
  const ids = tok.encode('def f(x):\n    """Double x."""\n');
  const { ids: kept, healing } = healPrompt(ids, tok, V);
  assert.ok(healing, 'a prompt ending in "\\n" should be healed');
  assert.equal(healing.text, '\n');
  assert.deepEqual([...kept], [...ids.subarray(0, ids.length - 1)]);
  assert.equal(tok.decode(kept), 'def f(x):\n    """Double x."""');
  const indent = tok.encode('\n    return x').at(0)!; // "\n   " before " return": the split the model learnt
  assert.equal(tok.decode([indent]), '\n   ');
  assert.equal(healing.first[indent], 1, 'the indent token should be allowed');
  assert.equal(healing.first[ids.at(-1)!], 1, 'the backed-up token itself should stay allowed');
  for (const word of ['def', ' return', 'x']) {
    const id = tok.encode(word)[0]!;
    assert.equal(healing.first[id], 0, `"${word}" (id ${id}) does not start with "\\n" and must not be allowed`);
  }
  for (let v = 0; v < V; v++)
    if (healing.first[v]) assert.ok(tok.decode([v]).startsWith('\n'), `allowed id ${v} decodes to ${JSON.stringify(tok.decode([v]))}`);
  assert.equal(healPrompt(ids, tok, V).healing!.first, healing.first, 'the mask is cached per tokenizer and backed-up text');
  assert.notEqual(healPrompt(ids, tok, V + 8).healing!.first, healing.first, 'a padded vocabulary gets its own mask');
  // nothing to heal: no trailing whitespace, or a prompt of one token
  assert.equal(healPrompt(tok.encode('def f(x):'), tok, V).healing, null);
  assert.equal(healPrompt(tok.encode('\n'), tok, V).healing, null);
  assert.equal(healedText('\n    return x', healing), '    return x');
  assert.equal(healedText('', healing), '');
});

for (const [kind, dir] of [
  ['diffusion', 'test/fixtures/llada'],
  ['causal', 'test/fixtures/llama'],
] as const) {
  test(`generator heals a prompt's trailing whitespace on the ${kind} fixture; other prompts decode as before`, async () => {
    const lm = await loadModel(`${ROOT}${dir}`),
      tok = lm.tokenizer;
    try {
      const prompt = 'def f(x):\n',
        o = { maxTokens: 12, temperature: 0 };
      const plain = await lm.complete(prompt, { ...o, healPrompt: false });
      const healed = await lm.complete(prompt, o);
      assert.equal(healed.promptTokens, plain.promptTokens - 1, 'one prompt token backed up');
      const first = tok.decode(healed.ids.subarray(0, 1));
      assert.ok(first.startsWith('\n'), `the first generated token ${JSON.stringify(first)} must regrow the "\\n"`);
      assert.equal(healed.text, tok.decode(healed.ids, { skipSpecialTokens: true }).slice(1), 'the text starts after the "\\n"');
      // every streamed text is a prefix of the final one (nothing shown is taken back)
      for await (const s of lm.stream(prompt, o)) assert.ok(healed.text.startsWith(s.text), `step ${s.step}: ${JSON.stringify(s.text)}`);
      // no trailing whitespace, or ids: exactly the unhealed decode
      for (const p of ['def f(x):', tok.encode(prompt)]) {
        const a = await lm.complete(p, o),
          b = await lm.complete(p, { ...o, healPrompt: false });
        assert.deepEqual([...a.ids], [...b.ids], `${typeof p}: healing must not touch this prompt`);
        assert.equal(a.text, b.text);
      }
    } finally {
      lm.dispose();
    }
  });
}

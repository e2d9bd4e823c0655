// Prompt healing served as the library does it (text/heal.ts): /v1/completions with a prompt that ends in "\n"
// returns the library's healed text and prompt token count, streamed or not, on the diffusion and the causal
// fixture; with healing off in the library the texts differ from the served one only through the healing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/node.js';
import { startServer } from '../../src/serve/index.js';
import { post, readSse } from './helpers.js';

for (const fixture of ['llada', 'llama']) {
  test(`served completions heal a trailing newline exactly as the library does (${fixture} fixture)`, async () => {
    const dir = fileURLToPath(new URL(`../../../test/fixtures/${fixture}/`, import.meta.url));
    const server = await startServer({
      modelDir: dir,
      config: { port: 0, modelId: fixture, maxTokens: 64, defaultMaxTokens: 16, bodyLimit: 64 * 1024 },
      threads: 1,
    });
    const lm = await loadModel(dir);
    try {
      const prompt = 'def f(x):\n',
        want = await lm.complete(prompt, { maxTokens: 12, temperature: 0 }),
        plain = await lm.complete(prompt, { maxTokens: 12, temperature: 0, healPrompt: false });
      assert.equal(want.promptTokens, plain.promptTokens - 1, 'the library backs up one token');
      const res = await post(`${server.url}/v1/completions`, { prompt, max_tokens: 12, temperature: 0 });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as any;
      assert.equal(body.choices[0].text, want.text, 'served vs library (healed)');
      assert.equal(body.usage.prompt_tokens, want.promptTokens, 'served prompt tokens');
      const sse = await post(`${server.url}/v1/completions`, { prompt, max_tokens: 12, temperature: 0, stream: true });
      const streamed = (await readSse(sse))
        .filter((e): e is Record<string, any> => e !== '[DONE]')
        .map((e) => e.choices?.[0]?.text ?? '')
        .join('');
      assert.equal(streamed, want.text, 'streamed deltas vs library');
    } finally {
      lm.dispose();
      await server.close();
    }
  });
}

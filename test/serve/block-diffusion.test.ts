// The server with a block-diffusion model (config.json bd_size) and its default config (cache 'none'): it
// decodes with the exact block cache in the model's blocks, so a completion equals the library's defaults
// (TextGenerator, cache 'block', blocks of bd_size); a suffix goes through the FIM sentinels, as dllm infill.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';
import { startServer, type RunningServer } from '../../src/serve/index.js';
import { TextGenerator } from '../../src/text/generator.js';
import { bdFolder } from '../helpers/bd-model.js';
import { post } from './helpers.js';

const bd = bdFolder(8);
let server: RunningServer;

before(async () => {
  server = await startServer({
    modelDir: bd.dir,
    config: { port: 0, modelId: 'bd', maxTokens: 64, defaultMaxTokens: 16 },
    threads: 1,
    backend: 'wasm',
  });
});
after(async () => {
  await server.close();
  bd.remove();
});

const complete = async (body: Record<string, unknown>) => {
  const res = await post(`${server.url}/v1/completions`, { max_tokens: 16, temperature: 0, ...body });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as any).choices[0].text as string;
};

test('block diffusion served: the cache defaults to block and the text equals the library defaults, completion and infill', async () => {
  assert.equal(server.engines[0]!.cfg.cache, 'block', "a bd model's engine takes the block cache");
  const k = await createKernels({ threads: 1 });
  const m = await loadModelDir(bd.dir, k);
  const lm = new TextGenerator({ config: m.config, model: m.model, tokenizer: m.tokenizer!, dispose: () => m.model.dispose() });
  try {
    const prompt = 'def add(a, b):\n';
    const want = await lm.complete(prompt, { maxTokens: 16, temperature: 0 });
    assert.equal(await complete({ prompt }), want.text, 'served vs library');
    const suffix = '\n\nprint(add(1, 2))\n';
    const fill = await lm.infill(prompt, suffix, { maxTokens: 16, temperature: 0 });
    assert.equal(await complete({ prompt, suffix }), fill.text, 'served infill (FIM) vs library infill');
  } finally {
    lm.dispose();
    k.dispose();
  }
});

// Writes the model cards of the two default models (models/<name>/README.md) from their training runs:
// data (source, version, file-list hash), tokens seen, parameters, config, wall time, the held-out loss of
// both models on the same validation windows, and five samples each. Run after `dllm export` of both:
//   node build/scripts/model-cards.js [--windows 16] [--mc 8]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parameterCount } from '../src/model/params.js';
import { DiffusionLM } from '../src/model/diffusion-lm.js';
import { CausalLM } from '../src/model/causal-lm.js';
import { createKernels } from '../src/platform/node.js';
import { loadModelDir } from '../src/platform/node-model.js';
import { causalNll, diffusionNll } from '../src/eval/likelihood.js';
import { arGenerate, drain, generate, type DecodeResult } from '../src/sampler/index.js';
import { DecodeRng } from '../src/sampler/rng.js';

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({ options: { windows: { type: 'string', default: '16' }, mc: { type: 'string', default: '8' } } });
const WINDOWS = Number(values.windows), MC = Number(values.mc), L = 256;
const PROMPTS = ['def fibonacci(n):\n', 'import os\nimport sys\n\n', 'class Stack:\n    def __init__(self):\n', 'def read_json(path):\n    """Read a JSON file."""\n', 'for i in range(10):\n'];

const jsonl = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const k = await createKernels();
const manifest = JSON.parse(readFileSync(join(root, 'runs/data/py311/manifest.json'), 'utf8'));
const valIds = new Uint16Array(readFileSync(join(root, 'runs/data/py311/val.bin')).buffer.slice(0));
const windows = Array.from({ length: WINDOWS }, (_, w) => Int32Array.from(valIds.subarray(w * (L + 1), (w + 1) * (L + 1))));
const valBytes = manifest.valBytesPerToken as number;

interface Summary { name: string; nllPerToken: number; bitsPerByte: number; samples: { prompt: string; text: string; res: DecodeResult }[] }
const out: Summary[] = [];
for (const name of ['dllm-code-mini', 'dllm-code-mini-ar']) {
  const dir = join(root, 'models', name), run = join(root, 'runs', name);
  const m = await loadModelDir(dir, k);
  const tok = m.tokenizer!, sp = tok.specials;
  let nats = 0, count = 0;
  const samples: Summary['samples'] = [];
  if (m.config.attention === 'causal') {
    for (const w of windows) { nats += causalNll(m.model.forward({ tokens: w, B: 1, T: w.length }), w, m.config.vocabSize); count += L; }
    const lm = new CausalLM(m.model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, 512);
    for (const p of PROMPTS) {
      const { result } = await drain(arGenerate(lm, { prompt: tok.encode(p) }, { genLength: 64 }));
      samples.push({ prompt: p, text: tok.decode(result.ids), res: result });
    }
  } else {
    const lm = new DiffusionLM(m.model, { mask: sp.mask!, eos: sp.eos, eot: sp.eot, pad: sp.pad });
    const rng = new DecodeRng(1);
    for (const w of windows) { nats += await diffusionNll(lm, w.subarray(1), MC, 8, rng); count += L; }
    for (const p of PROMPTS) {
      const { result } = await drain(generate(lm, { prompt: tok.encode(p) }, { decoder: 'fixed', genLength: 64, blockLength: 32, steps: 64, earlyStop: true }));
      samples.push({ prompt: p, text: tok.decode(result.ids), res: result });
    }
  }
  const nllPerToken = nats / count;
  out.push({ name, nllPerToken, bitsPerByte: nllPerToken / valBytes / Math.LN2, samples });
  // card
  const state = JSON.parse(readFileSync(join(run, 'checkpoint/trainer_state.json'), 'utf8'));
  const log = jsonl(join(run, 'log.jsonl'));
  const evals = log.filter((e) => e['event'] === 'eval');
  const lastEval = evals[evals.length - 1] as { valLoss: number; step: number } | undefined;
  const cfg = state.config;
  const params = parameterCount(m.config);
  const twin = name.endsWith('-ar') ? 'dllm-code-mini' : 'dllm-code-mini-ar';
  const card = `# ${name}

${name.endsWith('-ar') ? 'The autoregressive twin of `dllm-code-mini`' : 'A small masked-diffusion (LLaDA-style) code model'}: same architecture, data and token budget as \`${twin}\`, ${name.endsWith('-ar') ? 'causal attention, next-token objective' : 'bidirectional attention, the `mdm` objective (LLaDA pre-training loss)'}. Trained with \`dllm train\` on this repository's CPU engine.

| | |
| --- | --- |
| architecture | \`${m.config.arch}\` (${m.config.attention}), ${m.config.numLayers} layers, width ${m.config.hiddenSize}, ${m.config.numHeads} heads, FFN ${m.config.ffnSize}, vocab ${m.config.vocabSize}, untied head |
| parameters | ${params.toLocaleString('en')} (${(params / 1e6).toFixed(2)} M) |
| weights | \`model.safetensors\`, F16 |
| data | \`${manifest.source}\` (Python ${'3.11.7'} standard library, \`.py\` files): ${manifest.files} files, ${manifest.duplicates} duplicates dropped, file-list SHA-256 \`${manifest.fileListSha256}\`; split by file: ${manifest.trainFiles} train / ${manifest.valFiles} validation files, ${manifest.trainTokens.toLocaleString('en')} / ${manifest.valTokens.toLocaleString('en')} tokens |
| tokenizer | byte-level BPE trained on the train split, ${manifest.vocabSize} tokens incl. \`<|endoftext|>\` (EOS) and \`<|mdm_mask|>\` (mask); ${manifest.valBytesPerToken} bytes/token on held-out code |
| training | ${state.step} steps × ${cfg.batchSize} × ${cfg.seqLen} tokens = ${state.tokens.toLocaleString('en')} tokens seen; AdamW (β ${cfg.beta1}/${cfg.beta2}, wd ${cfg.weightDecay}, clip ${cfg.gradClip}), lr ${cfg.lrMax} → ${cfg.lrMin} (warmup ${cfg.lrWarmupSteps}, cosine) |
| wall time | ${(state.elapsedMs / 60000).toFixed(1)} min of training steps on ${cfg.threads} thread (both models trained at the same time on the 2-core machine) |
| throughput | ${(state.tokens / (state.elapsedMs / 1000)).toFixed(0)} tokens/s = ${((6 * params * state.tokens) / (state.elapsedMs / 1000) / 1e9).toFixed(1)} GFLOP/s by 6·params·tokens on 1 thread |
| validation (trainer) | ${lastEval ? `${lastEval.valLoss.toFixed(4)} nats/token at step ${lastEval.step} (${name.endsWith('-ar') ? 'next-token NLL' : 'ELBO bound, one Monte-Carlo mask draw'})` : '—'} |
| held-out, same tokens as the twin | **${nllPerToken.toFixed(4)} nats/token, ${(nllPerToken / valBytes / Math.LN2).toFixed(4)} bits/byte** (${WINDOWS} windows × ${L} tokens of val.bin; ${name.endsWith('-ar') ? 'exact NLL' : `LLaDA's Monte-Carlo ELBO bound, ${MC}×8 stratified mask draws per window`}) |

Config: [\`configs/${name}.json\`](../../configs/${name}.json). Loss curve: [loss.svg](loss.svg).

Continue training in a later session: the run folder (\`runs/${name}\`, with the F32 weights and AdamW state)
is not committed, so continue from these weights with a fresh optimizer:
\`npx dllm data build --input ${manifest.source} --ext .py --out runs/data/py311\` (rebuilds the same data and
tokenizer: check the file-list hash), then
\`npx dllm train --config configs/${name}.json --init-from models/${name} --out runs/${name}-2 --steps N --lr-warmup-steps 0\`.
Where the run folder still exists, \`npx dllm train --resume --out runs/${name} --steps N\` continues exactly.

## Samples

${name.endsWith('-ar') ? 'Greedy, 64 new tokens.' : 'LLaDA decoding: 64 tokens, blocks of 32, one token per step by confidence (low_confidence), early stop at EOS.'} Command:
\`npx dllm generate "PROMPT" --model ${name}${name.endsWith('-ar') ? ' --gen-length 64' : ' --gen-length 64 --decoder fixed --steps 64'}\`

${samples.map((s, i) => `### ${i + 1}\n\n\`\`\`python\n${s.prompt}${s.text}\n\`\`\`\n(${s.res.ids.length} tokens, NFE ${s.res.nfe}, ${s.res.finishReason})\n`).join('\n')}`;
  writeFileSync(join(dir, 'README.md'), card);
  m.model.dispose();
}
writeFileSync(join(root, 'models/heldout.json'), JSON.stringify(out.map((o) => ({ name: o.name, nllPerToken: o.nllPerToken, bitsPerByte: o.bitsPerByte })), null, 2) + '\n');
console.log(out.map((o) => `${o.name}: ${o.nllPerToken.toFixed(4)} nats/token, ${o.bitsPerByte.toFixed(4)} bits/byte`).join('\n'));
k.dispose();

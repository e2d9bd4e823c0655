// Writes the model cards of the default models (models/<name>/README.md) from their training.json (written
// by `dllm export`), the corpus manifest, the committed evaluation summaries (bench/results/eval/<name>/), the
// held-out loss of every model on the same validation windows of the corpus (the same bytes for each), and
// five samples each. Run after `dllm export` of every model:
//   node build/scripts/model-cards.js --data runs/corpus [--windows 16] [--mc 8] [--only NAME …]
// (--only: just those cards; their rows of models/heldout.json are replaced, the others kept)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parameterCount } from '../src/model/params.js';
import { loadModel } from '../src/platform/node-generator.js';
import { blockDiffusionNll, causalNll, diffusionNll } from '../src/eval/likelihood.js';
import { blockDiffusionScorer } from '../src/cli/eval-ppl.js';
import { arGenerate, drain, generate, type DecodeResult } from '../src/sampler/index.js';
import { DecodeRng } from '../src/sampler/rng.js';

const root = new URL('../../', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    windows: { type: 'string', default: '16' },
    mc: { type: 'string', default: '8' },
    data: { type: 'string', default: 'runs/corpus' },
    only: { type: 'string', multiple: true },
  },
});
const MODELS = ['dllm-code-mini', 'dllm-code-mini-ar', 'dllm-code-mini-bd'];
/** what each card says the model is, and the config of its current stage */
const ABOUT: Record<string, { text: string; config: string; configs: string }> = {
  'dllm-code-mini-ar': {
    text: 'The autoregressive twin of `dllm-code-mini`: llama-style, causal, next-token objective on the fill-in-the-middle stream (StarCoder-style PSM/SPM on half the files), so it infills too',
    config: 'configs/dllm-code-mini-ar-v5.json',
    configs:
      '[`configs/dllm-code-mini-ar-v5.json`](../../configs/dllm-code-mini-ar-v5.json) (this stage, from the v4 weights of commit f9a3615, 2 processes), [`configs/dllm-code-mini-ar-v4.json`](../../configs/dllm-code-mini-ar-v4.json) (v4, from the v3 weights of commit e705b27), [`configs/dllm-code-mini-ar-v3.json`](../../configs/dllm-code-mini-ar-v3.json) (v3, from the v2 weights of commit 5747a59), [`configs/dllm-code-mini-ar.json`](../../configs/dllm-code-mini-ar.json) (v2)',
  },
  'dllm-code-mini': {
    text: "A masked-diffusion (LLaDA-style) code model **adapted from `dllm-code-mini-ar`**: the AR weights, attention switched to bidirectional (direct swap, unshifted: the model predicts each masked token at its own position), then LLaDA's MDM loss with 1/t weighting",
    config: 'configs/dllm-code-mini-v6.json',
    configs:
      '[`configs/dllm-code-mini-v6.json`](../../configs/dllm-code-mini-v6.json) (this stage, from the v5 weights of commit b01109d, 2 processes; paused and resumed with `--resume` across two sittings), [`configs/dllm-code-mini-v5.json`](../../configs/dllm-code-mini-v5.json) (v5, from the v4 weights of commit f9a3615), [`configs/dllm-code-mini-v4.json`](../../configs/dllm-code-mini-v4.json) (v4, from the v3 weights of commit e705b27; resumed with `--steps` as the sitting allowed), [`configs/dllm-code-mini-v3.json`](../../configs/dllm-code-mini-v3.json) (v3, from the v2 weights of commit 5747a59), [`configs/dllm-code-mini.json`](../../configs/dllm-code-mini.json) (v2)',
  },
  'dllm-code-mini-bd': {
    text: 'A **block-diffusion** code model adapted from `dllm-code-mini-ar` (BD3-LM / Fast-dLLM v2 recipe): the AR weights and layout, logits kept shifted (position i predicts token i+1, as the AR model was trained), trained with `--objective bd`: the window cut into blocks of `bd_size`, each block masked at its own level, the model reading [x_t ⊕ x_0] so every block is denoised given the clean blocks before it. It decodes block by block with an exact KV cache of the finished blocks (`--cache block`, its default), the active block in parallel by confidence threshold, and infills through the FIM sentinels',
    config: 'configs/dllm-code-mini-bd.json',
    configs: '[`configs/dllm-code-mini-bd.json`](../../configs/dllm-code-mini-bd.json) (from the AR v4 weights of commit f9a3615)',
  },
};
const WINDOWS = Number(values.windows),
  MC = Number(values.mc),
  L = 256;
/** items in each full evaluation set: a smaller count in a summary means the run used --limit */
const FULL_SET: Record<string, number> = { humaneval: 164, syntax: 164, 'humaneval-infilling-single-line': 1033, mbpp: 500 };
const PROMPTS = [
  'def fibonacci(n):\n',
  'import os\nimport sys\n\n',
  'class Stack:\n    def __init__(self):\n',
  'def read_json(path):\n    """Read a JSON file."""\n',
  'for i in range(10):\n',
];

const dataDir = values.data!;
const manifest = JSON.parse(readFileSync(join(dataDir, 'manifest.json'), 'utf8'));
const valIds = new Uint16Array(readFileSync(join(dataDir, 'val.bin')).buffer.slice(0));
const windows = Array.from({ length: WINDOWS }, (_, w) => Int32Array.from(valIds.subarray(w * (L + 1), (w + 1) * (L + 1))));
const valBytes = manifest.valBytesPerToken as number;

interface Summary {
  name: string;
  nllPerToken: number;
  bitsPerByte: number;
  samples: { prompt: string; text: string; res: DecodeResult }[];
}
const out: Summary[] = [];
for (const name of values.only?.length ? values.only : MODELS) {
  if (!ABOUT[name]) throw new Error(`--only ${name}: not one of ${MODELS.join(', ')}`);
  const dir = join(root, 'models', name);
  const lm = await loadModel(dir), // the one text generator: its own kernels, tokenizer and decoder adapters
    tok = lm.tokenizer;
  let nats = 0,
    count = 0;
  const samples: Summary['samples'] = [];
  if (lm.kind === 'causal') {
    for (const w of windows) {
      nats += causalNll(await lm.model.forward({ tokens: w, B: 1, T: w.length }), w, lm.config.vocabSize);
      count += L;
    }
    const ar = lm.causal(512);
    for (const p of PROMPTS) {
      const { result } = await drain(arGenerate(ar, { prompt: tok.encode(p) }, { genLength: 64 }));
      samples.push({ prompt: p, text: tok.decode(result.ids), res: result });
    }
  } else if (lm.config.bdSize !== undefined) {
    const scorer = blockDiffusionScorer(lm.model, lm.config, tok.specials.mask!);
    const rng = new DecodeRng(1);
    for (const w of windows) {
      nats += await blockDiffusionNll(scorer, w, MC, 8, rng);
      count += L;
    }
    for (const p of PROMPTS) {
      // the defaults a user gets: threshold 0.9 in blocks of bd_size with the block cache
      const c = await lm.complete(p, { maxTokens: 64 });
      samples.push({ prompt: p, text: c.text, res: { ids: c.ids, nfe: c.nfe, finishReason: c.finishReason } as DecodeResult });
    }
  } else {
    const dl = lm.denoiser('none');
    const rng = new DecodeRng(1);
    for (const w of windows) {
      nats += await diffusionNll(dl, w.subarray(1), MC, 8, rng);
      count += L;
    }
    for (const p of PROMPTS) {
      const { result } = await drain(
        generate(dl, { prompt: tok.encode(p) }, { decoder: 'fixed', genLength: 64, blockLength: 32, steps: 64, earlyStop: true }),
      );
      samples.push({ prompt: p, text: tok.decode(result.ids), res: result });
    }
  }
  const nllPerToken = nats / count;
  out.push({ name, nllPerToken, bitsPerByte: nllPerToken / valBytes / Math.LN2, samples });
  // card
  const t = JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8'));
  const cfg = t.config;
  const params = parameterCount(lm.config);
  const ar = name.endsWith('-ar'),
    bd = lm.config.bdSize !== undefined;
  const chain: Record<string, unknown>[] = [];
  for (let r = t; r; r = r.initFromTraining) chain.push(r);
  const totalFlops = chain.reduce((a, r) => a + Number(r['flops']), 0),
    totalHours = chain.reduce((a, r) => a + Number(r['wallSeconds']), 0) / 3600;
  const evalDir = join(root, 'bench/results/eval', name);
  const evals = existsSync(evalDir)
    ? readdirSync(evalDir)
        .filter((d) => existsSync(join(evalDir, d, 'summary.json')))
        .map((d) => ({ d, s: JSON.parse(readFileSync(join(evalDir, d, 'summary.json'), 'utf8')) }))
    : [];
  const licences = Object.entries(manifest.licences as Record<string, number>)
    .sort((x, y) => y[1] - x[1])
    .map(([l, n]) => `${l} (${n})`)
    .join(', ');
  const card = `# ${name}

${ABOUT[name]!.text}. Same tokenizer and corpus as its twin; trained with \`dllm train --engine ${t.engine}\`.

| | |
| --- | --- |
| architecture | \`${lm.config.arch}\` (${bd ? `block-causal, blocks of ${lm.config.bdSize}, shifted logits` : lm.config.attention}), ${lm.config.numLayers} layers, width ${lm.config.hiddenSize}, ${lm.config.numHeads} heads, FFN ${lm.config.ffnSize}, vocab ${lm.config.vocabSize}, untied head |
| parameters | ${params.toLocaleString('en')} (${(params / 1e6).toFixed(2)} M) |
| weights | \`model.safetensors\`, F16 (${(statSync(join(dir, 'model.safetensors')).size / 1e6).toFixed(1)} MB) |
| data | \`dllm data corpus\` from [configs/corpus/packages.txt](../../configs/corpus/packages.txt): ${manifest.packages.length} Debian packages, ${manifest.counts.train.toLocaleString('en')} train / ${manifest.counts.val.toLocaleString('en')} validation files (validation = whole packages held out), ${manifest.trainTokens.toLocaleString('en')} / ${manifest.valTokens.toLocaleString('en')} tokens; \`corpusSha256\` \`${manifest.corpusSha256}\`; decontaminated against HumanEval, HumanEval-infilling, MBPP, HumanEval-TS (13-grams, ${manifest.dropped.contaminated} files dropped) |
| licences of the kept files | ${licences} |
| tokenizer | byte-level BPE, ${manifest.vocabSize} tokens incl. \`<|endoftext|>\`, \`<|mdm_mask|>\`, \`<|fim_prefix|>\`, \`<|fim_middle|>\`, \`<|fim_suffix|>\`; ${manifest.valBytesPerToken} bytes/token on held-out code |
| training | ${t.steps} steps × ${cfg.batchSize} × ${cfg.seqLen} = ${t.tokensSeen.toLocaleString('en')} tokens of \`${t.trainFile}\`${t.initFrom ? `, from \`${basename(t.initFrom)}\`` : ''}; AdamW (β ${cfg.beta1}/${cfg.beta2}, wd ${cfg.weightDecay}, clip ${cfg.gradClip}), lr ${cfg.lrMax} → ${cfg.lrMin} (warmup ${cfg.lrWarmupSteps}, cosine) |
| compute | this stage ${(t.flops / 1e15).toFixed(2)} PFLOP (6·N·tokens${bd ? ' × 2: the [x_t ⊕ x_0] input' : ''}) in ${(t.wallSeconds / 3600).toFixed(2)} h on ${t.hardware}, ${t.procs ? `${t.procs} processes × ${t.threads}` : (t.threads ?? t.device)} threads, engine \`${t.engine}\`${chain.length > 1 ? `; with the AR stage it started from: ${(totalFlops / 1e15).toFixed(2)} PFLOP, ${totalHours.toFixed(2)} h` : ''} |
| validation (trainer) | ${t.heldout ? `${t.heldout.natsPerToken.toFixed(4)} nats/token (${t.heldout.kind}), ${t.heldout.bitsPerByte.toFixed(3)} bits/byte, ${t.heldout.windows} windows of the held-out packages` : '—'} |
| held-out, same bytes for every model | **${nllPerToken.toFixed(4)} nats/token, ${(nllPerToken / valBytes / Math.LN2).toFixed(4)} bits/byte** (${WINDOWS} windows × ${L} tokens of val.bin; ${ar ? 'exact NLL' : bd ? `block-diffusion NELBO bound (each block given the clean blocks before it), ${MC}×8 stratified mask draws per block` : `LLaDA's Monte-Carlo ELBO bound, ${MC}×8 stratified mask draws per window`}) |

Configs: ${ABOUT[name]!.configs}. Loss curve: [loss.svg](loss.svg). Record: [training.json](training.json).

## Evaluation

${evals.length ? `| task | metric | score | samples | tok/s | TPF | command |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n${evals.map(({ d, s: e }) => `| ${d} | ${e.metric ?? (e.estimator === 'exact' ? 'exact NLL' : 'ELBO bound')} | ${e.pass1 !== undefined ? `${(100 * e.pass1).toFixed(1)} %` : e.bitsPerByte !== undefined ? `${Number(e.bitsPerByte).toFixed(3)} bits/byte` : '—'} | ${e.samples ?? e.windows ?? '—'} | ${e.tokensPerSecond ? Number(e.tokensPerSecond).toFixed(0) : '—'} | ${e.tokensPerForward ? Number(e.tokensPerForward).toFixed(2) : '—'} | \`npx dllm eval ${e.task ?? d}${e.split ? ` --split ${e.split}` : ''} --model ${name}${e.task === 'ppl' ? ` --data runs/corpus --windows ${e.windows}` : e.samples && e.samples < (FULL_SET[d] ?? Infinity) ? ` --limit ${e.samples}` : ''}\` |`).join('\n')}` : 'Not evaluated yet.'}

## Chat

A code model, not an assistant. Its chat template (tokenizer_config.json) turns a conversation into one Python
prompt — system messages as \`#\` comment lines, user and assistant messages as they are — and the model
continues it, so \`/v1/chat/completions\`, the \`openai\` client and the AI SDK work: send code, or a comment
that describes the code.

## Continue training

The run folder (F32 weights, AdamW state) is not committed. Rebuild the corpus (\`npx dllm data corpus --out runs/corpus\`;
check \`corpusSha256\`), then continue from these weights with a fresh optimizer:
\`npx dllm train --config ${ABOUT[name]!.config} --init-from models/${name} --out runs/${name}-5 --steps N --lr-warmup-steps 50\`.
Where the run folder still exists, \`npx dllm train --resume --out RUN --steps N\` continues exactly.

## Samples

${ar ? 'Greedy, 64 new tokens.' : bd ? `The defaults: 64 tokens, blocks of ${lm.config.bdSize} with the block cache, each step commits every masked token above confidence 0.9 (at least one), early stop at EOS.` : 'LLaDA decoding: 64 tokens, blocks of 32, one token per step by confidence (low_confidence), early stop at EOS.'} Command:
\`npx dllm generate "PROMPT" --model ${name}${ar || bd ? ' --gen-length 64' : ' --gen-length 64 --decoder fixed --steps 64'}\`

${samples.map((x, i) => `### ${i + 1}\n\n\`\`\`python\n${x.prompt}${x.text}\n\`\`\`\n(${x.res.ids.length} tokens, NFE ${x.res.nfe}, ${x.res.finishReason})\n`).join('\n')}`;
  writeFileSync(join(dir, 'README.md'), card);
  lm.dispose();
}
const heldoutFile = join(root, 'models/heldout.json');
const kept = values.only?.length && existsSync(heldoutFile) ? (JSON.parse(readFileSync(heldoutFile, 'utf8')) as { name: string }[]) : [];
const rows = [
  ...kept.filter((k) => !out.some((o) => o.name === k.name)),
  ...out.map((o) => ({ name: o.name, nllPerToken: o.nllPerToken, bitsPerByte: o.bitsPerByte })),
].sort((a, b) => MODELS.indexOf(a.name) - MODELS.indexOf(b.name));
writeFileSync(heldoutFile, JSON.stringify(rows, null, 2) + '\n');
console.log(out.map((o) => `${o.name}: ${o.nllPerToken.toFixed(4)} nats/token, ${o.bitsPerByte.toFixed(4)} bits/byte`).join('\n'));

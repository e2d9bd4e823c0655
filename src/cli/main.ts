// The dllm command line: argv → typed options → library calls. Each command lives in its own module.
import { DECODE_DEFAULTS, DECODERS } from '../sampler/index.js';
import { SERVE_DEFAULTS } from '../serve/index.js';
import { TRAIN_DEFAULTS } from '../train/config.js';
import { renderUsage, type UsageEntry } from './usage.js';
import { parseArgs } from 'node:util';
import { createKernels } from '../platform/node.js';
import { VERSION } from '../version.js';
import { DATA_BUILD_FLAGS, dataBuild } from './data.js';
import { CORPUS_FLAGS, dataCorpus } from './corpus.js';
import { SFT_FLAGS, dataSft } from './data-sft.js';
import { DISTILL_FLAGS, dataDistill } from './data-distill.js';
import { TRAIN_FLAGS, train } from './train.js';
import { FORWARD_FLAGS, INSPECT_FLAGS, forward, inspect } from './model-commands.js';
import { EXPORT_FLAGS, exportModel } from './export.js';
import { generate, generateFlags, infill } from './generate.js';
import { CHAT_FLAGS, chat } from './chat.js';
import { SERVE_FLAGS, serve } from './serve.js';
import { EVAL_FLAGS, evalCommand } from './eval.js';
import { SANDBOX_FLAGS, sandboxCommand } from './sandbox.js';
import { BENCH_FLAGS, bench } from './bench.js';
import { EXPORT_ONNX_FLAGS, exportOnnx } from './export-onnx.js';
import { PULL_FLAGS, pull, pullNamedModels } from './pull.js';
import { PPL_FLAGS } from './eval-ppl.js';

/** the kernels command's flags */
const KERNELS_FLAGS = { backend: { type: 'string', default: 'auto' }, threads: { type: 'string' } } as const;

const decoder = { label: 'decoder', defaults: DECODE_DEFAULTS };
/** every command, in the order `dllm --help` lists them; the flags are the tables each command parses with */
const COMMANDS: UsageEntry[] = [
  {
    usage: 'generate [PROMPT]',
    flags: generateFlags(false),
    configs: [decoder],
    hints: { decoder: DECODERS.join('|') },
    summary: 'generate text (default model: dllm-code-mini, shipped in models/); decoder flags: dllm generate --help',
  },
  {
    usage: 'infill --prefix TEXT --suffix TEXT',
    flags: generateFlags(true),
    configs: [decoder],
    summary: 'fill a masked middle of --gen-length tokens (it may end early at EOS)',
  },
  { usage: 'chat --model DIR', flags: CHAT_FLAGS, summary: "multi-turn chat with the checkpoint's chat template" },
  {
    usage: 'serve',
    flags: SERVE_FLAGS,
    configs: [{ label: 'server', defaults: SERVE_DEFAULTS }],
    summary:
      'OpenAI-compatible server (+ Mercury FIM/diffusing/edit, llama-server /infill, /completion, /metrics) and the playground at / (default: dllm-code-mini and its AR twin); server flags: dllm serve --help',
  },
  {
    usage: 'eval humaneval|mbpp|humaneval-infilling|humaneval-ts|gsm8k|syntax',
    flags: EVAL_FLAGS,
    configs: [decoder],
    summary: 'pass@1 by sandboxed execution / GSM8K exact match / syntax; resumable JSONL',
  },
  {
    usage: 'eval ppl --data DIR|FILE',
    flags: PPL_FLAGS,
    hints: { data: 'DIR|FILE', docs: 'N|all' },
    summary: 'held-out NLL: ELBO bound (diffusion) or exact (AR), nats/token, bits/byte',
  },
  {
    usage: 'sandbox FILE --lang python|node',
    flags: SANDBOX_FLAGS,
    summary: 'run one program as dllm eval runs a sample (bubblewrap), one JSON line',
  },
  {
    usage: 'bench',
    flags: BENCH_FLAGS,
    summary: 'decoders × caches beside the AR twin (tok/s, TPF, NFE, pass@1) and the forward vs llama.cpp',
  },
  { usage: 'data build --input DIR --out DIR', flags: DATA_BUILD_FLAGS, summary: 'turn a folder of code into tokenizer + token streams' },
  {
    usage: 'data corpus --out DIR',
    flags: CORPUS_FLAGS,
    hints: { cache: 'DIR' },
    summary: 'the licensed, decontaminated Python corpus (Debian packages), reproducibly',
  },
  { usage: 'data sft --data DIR', flags: SFT_FLAGS, summary: "the corpus's docstring → body views as SFT rows (sft-{train,val}.bin)" },
  {
    usage: 'data distill --data DIR --model M',
    flags: DISTILL_FLAGS,
    summary: "the model's own one-token-per-step continuations of training prompts (distill-train.bin), for parallel-decoding distillation",
  },
  {
    usage: 'pull ORG/NAME',
    flags: PULL_FLAGS,
    summary: 'a model from the Hugging Face Hub into its cache (resumable, verified); any --model takes ORG/NAME',
  },
  { usage: 'inspect --model DIR', flags: INSPECT_FLAGS, summary: 'architecture, parameters, dtypes, special ids, template' },
  {
    usage: 'forward --model DIR --ids 1,2,3 --out FILE.safetensors',
    flags: FORWARD_FLAGS,
    hints: { out: 'FILE.safetensors' },
    summary: 'logits of one forward pass, to compare with a reference',
  },
  {
    usage: 'train --config FILE.json',
    flags: TRAIN_FLAGS,
    configs: [{ label: 'training', defaults: TRAIN_DEFAULTS }],
    summary: 'train a diffusion (mdm) or AR model (--engine ts|torch); every config key is a flag',
  },
  {
    usage: 'export --checkpoint DIR --out DIR|FILE.gguf',
    flags: EXPORT_FLAGS,
    hints: { dtype: 'f16|bf16|f32 (gguf: f32|f16|q4_k)', format: 'safetensors|gguf', out: 'DIR|FILE.gguf' },
    summary: 'a training checkpoint → a model folder to ship, or a GGUF file',
  },
  {
    usage: 'export-onnx --model NAME|DIR --out DIR',
    flags: EXPORT_ONNX_FLAGS,
    hints: { dtype: 'f32|q8|q4' },
    summary: 'the model as an ONNX graph + external weights (ONNX Runtime anywhere)',
  },
  { usage: 'kernels', flags: KERNELS_FLAGS, hints: { backend: 'auto|wasm|ref' }, summary: 'show which compute engine this machine gets' },
];
const USAGE = renderUsage(`dllm ${VERSION} — diffusion language models in TypeScript`, COMMANDS, '  dllm --version | --help');

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, Command> = {
  generate: (argv) => generate(argv),
  infill,
  chat,
  serve,
  eval: evalCommand,
  sandbox: sandboxCommand,
  bench,
  async data(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'corpus') return dataCorpus(rest);
    if (sub === 'sft') return dataSft(rest);
    if (sub === 'distill') return dataDistill(rest);
    if (sub !== 'build')
      throw new Error('usage: dllm data build --input DIR --ext .py --out DIR | dllm data corpus --out DIR | dllm data sft --data DIR');
    return dataBuild(rest);
  },
  train,
  inspect,
  forward,
  export: exportModel,
  'export-onnx': exportOnnx,
  pull,
  async kernels(argv) {
    const { values } = parseArgs({ args: argv, strict: true, options: KERNELS_FLAGS });
    const backend = values.backend;
    if (backend !== 'auto' && backend !== 'wasm' && backend !== 'ref')
      throw new Error(`--backend must be auto, wasm or ref, got "${backend}"`);
    const threads = values.threads === undefined ? undefined : Number(values.threads);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1))
      throw new Error(`--threads must be a positive integer, got "${values.threads}"`);
    const k = await createKernels(threads === undefined ? { backend } : { backend, threads });
    console.log(`backend: ${k.name}\nthreads: ${k.threads}`);
    k.dispose();
    return 0;
  },
};

/** commands whose --model (or bench's --twin) may be a hub id, pulled before they start */
const MODEL_COMMANDS = new Set(['generate', 'infill', 'chat', 'serve', 'eval', 'bench', 'inspect', 'forward', 'export-onnx']);

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(VERSION);
    return 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`dllm: unknown command "${name}"\n\n${USAGE}`);
    return 1;
  }
  try {
    if (MODEL_COMMANDS.has(name) && !rest.includes('--help')) await pullNamedModels(rest);
    return await cmd(rest);
  } catch (e) {
    console.error(`dllm ${name}: ${(e as Error).message}`);
    return 1;
  }
}

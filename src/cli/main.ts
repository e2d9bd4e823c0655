// The dllm command line: argv → typed options → library calls. Each command lives in its own module.
import { DECODERS } from '../sampler/index.js';
import { parseArgs } from 'node:util';
import { createKernels } from '../platform/node.js';
import { VERSION } from '../version.js';
import { dataBuild } from './data.js';
import { dataCorpus } from './corpus.js';
import { dataSft } from './data-sft.js';
import { train } from './train.js';
import { forward, inspect } from './model-commands.js';
import { exportModel } from './export.js';
import { generate, infill } from './generate.js';
import { chat } from './chat.js';
import { serve } from './serve.js';
import { evalCommand } from './eval.js';
import { sandboxCommand } from './sandbox.js';
import { bench } from './bench.js';
import { exportOnnx } from './export-onnx.js';
import { pull, pullNamedModels } from './pull.js';

const USAGE = `dllm ${VERSION} — diffusion language models in TypeScript

Usage:
  dllm generate [PROMPT] [--model NAME|DIR] [--backend auto|ort|wasm|ref] [--gen-length 128] [--block-length 32] [--steps N]
                [--decoder ${DECODERS.join('|')}] [--threshold 0.9]
                [--factor 1] [--cache none|prefix|dual|block] [--temperature 0] [--top-p 1] [--top-k 0]
                [--remasking low_confidence|random] [--cfg-scale 0] [--alg-temp 0] [--eps 0.001]
                [--logits-eos-inf true|false] [--confidence-eos-eot-inf true|false] [--early-stop true|false]
                [--seed 0] [--prompt-ids 1,2,3] [--dtype f32|f16|q8|q4] [--threads N] [--show-steps] [--json]
                                         generate text (default model: dllm-code-mini, shipped in models/)
  dllm infill --prefix TEXT --suffix TEXT [--gen-length 32 …]
                                         fill a masked middle of --gen-length tokens (it may end early at EOS)
  dllm chat --model DIR [--system TEXT]  multi-turn chat with the checkpoint's chat template
  dllm serve [--model NAME|DIR …] [--host 127.0.0.1] [--port 8080] [--max-tokens 1024] [--default-max-tokens 128]
             [--queue-size 64] [--batch-size 8] [--cache none|prefix|dual|block] [--dtype f32|f16|q8|q4] [--threads N]
                                         OpenAI-compatible server (+ Mercury FIM/diffusing, llama-server /infill,
                                         /completion, /metrics) and the playground at / (default: dllm-code-mini
                                         and its AR twin)
  dllm eval humaneval|mbpp|humaneval-infilling|humaneval-ts|gsm8k [--model NAME|DIR] [--limit N] [--out DIR]
            [--data DIR] [--split single-line|multi-line|random-span] [--cache none|prefix|dual|block] [decoder flags]
            [--timeout-ms 10000] [--memory-mb 1024] [--unsafe-no-sandbox]
                                         pass@1 by sandboxed execution / GSM8K exact match; resumable JSONL
  dllm eval ppl --model NAME|DIR --data DIR|FILE [--windows 16] [--window-length 256] [--mc 8] [--mc-batch 8]
                                         held-out NLL: ELBO bound (diffusion) or exact (AR), nats/token, bits/byte
  dllm sandbox FILE --lang python|node [--timeout-ms 10000] [--memory-mb 1024] [--unsafe-no-sandbox]
                                         run one program as dllm eval runs a sample (bubblewrap), one JSON line
  dllm bench [--model NAME|DIR] [--twin NAME|DIR] [--limit 10] [--gen-length 128] [--out DIR] [--docs FILE]
                                         decoders × caches beside the AR twin (tok/s, TPF, NFE, pass@1) and the
                                         forward vs llama.cpp, one run → bench.{json,md,svg} (+ the docs page)
  dllm data build --input DIR --ext .py --out DIR [--vocab-size 4096]
  dllm data corpus --out DIR [--packages FILE] [--cache DIR] [--vocab-size 8192] [--offline]
                                         turn a folder of code into tokenizer + token streams
  dllm data sft --data DIR [--seq-len 256]
                                         the corpus's docstring → body views as SFT rows (sft-{train,val}.bin)
  dllm pull ORG/NAME [--revision main] [--quiet]
                                         a model from the Hugging Face Hub into its cache (resumable, verified);
                                         any --model also takes a hub id ORG/NAME (see README, "Models from the Hub")
  dllm inspect --model DIR               architecture, parameters, dtypes, special ids, template
  dllm forward --model DIR --ids 1,2,3 --out FILE.safetensors [--attention causal|bidirectional|block-causal --block-length N] [--dtype f32|f16|q8|q4]
  dllm train --config FILE.json [--resume | --overwrite] [--<key> value …]
                                         train a diffusion (mdm) or AR model on the CPU
  dllm export --checkpoint DIR --out DIR [--dtype f16|bf16|f32] | --out FILE.gguf --format gguf [--dtype f32|f16|q4_k]
                                         a training checkpoint → a model folder to ship
  dllm export-onnx --model NAME|DIR --out DIR [--dtype f32|q8|q4]
                                         the model as an ONNX graph + external weights (ONNX Runtime anywhere)
  dllm kernels [--backend auto|wasm|ref] [--threads N]
                                         show which compute engine this machine gets
  dllm --version | --help`;

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
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { backend: { type: 'string', default: 'auto' }, threads: { type: 'string' } },
    });
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

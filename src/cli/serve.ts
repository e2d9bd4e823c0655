// dllm serve [--model NAME|DIR …] [--backend auto|ort|wasm|ref] [--dtype f32|f16|q8|q4] [--host 127.0.0.1] [--port 8080] [--max-tokens N] [--queue-size N] [--batch-size N] [--cache none|prefix|dual] [--cors ORIGIN|*] [--request-timeout-ms N]
// A thin adapter: argv → ServeConfig (serve/config.ts parses it) → startServer; SIGINT/SIGTERM drain and exit.
import { parseArgs } from 'node:util';
import { SERVE_DEFAULTS, startServer } from '../serve/index.js';
import { flagHelp, flagOptions, flagValues } from './flags.js';
import { DEFAULT_MODEL, resolveModel } from './generate.js';
import { parseDtype } from './model-commands.js';
import { parseBackend } from '../platform/node-backend.js';

function defaultModels(): string[] {
  const dirs = [resolveModel(DEFAULT_MODEL)];
  try {
    dirs.push(resolveModel(`${DEFAULT_MODEL}-ar`));
  } catch {
    /* no twin shipped: serve the one model */
  }
  return dirs;
}

/** the flags of the command (usage.ts lists them) */
export const SERVE_FLAGS = {
  model: { type: 'string', multiple: true },
  dtype: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean' },
  ...flagOptions(SERVE_DEFAULTS),
} as const;

export async function serve(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: SERVE_FLAGS,
  });
  void positionals;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = flagValues(values as Record<string, unknown>, SERVE_DEFAULTS);
  const threads = values.threads === undefined ? 0 : Number(values.threads);
  if (!Number.isInteger(threads) || threads < 0) throw new Error(`--threads must be a non-negative integer, got "${values.threads}"`);
  // no --model: the shipped code model and, when present, its AR twin (the playground races them)
  const dirs = values.model?.length ? values.model.map((m) => resolveModel(m)) : defaultModels();
  const server = await startServer({
    modelDir: dirs,
    config,
    ...(threads ? { threads } : {}),
    log: !values.quiet,
    dtype: parseDtype(values.dtype),
    backend: parseBackend(values.backend),
  });
  const names = server.engines.map((e) => `${e.served.id} (${e.kind})`).join(', ');
  console.error(`dllm serve: ${names} on ${server.url} — playground ${server.url}/, OpenAI base URL ${server.url}/v1`);
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      console.error(`dllm serve: ${sig}, draining ${server.engines.reduce((n, e) => n + e.depth, 0)} request(s)…`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      void server.close().then(done, (e: unknown) => {
        console.error(`dllm serve: ${(e as Error).message}`);
        done();
      });
    };
    const onInt = () => stop('SIGINT'),
      onTerm = () => stop('SIGTERM'),
      onHup = () => stop('SIGHUP');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.once('SIGHUP', onHup);
    // `npx dllm serve` runs us under npm, which exits on SIGTERM without passing it on: when our parent goes
    // away we are re-parented, and stop as if signalled rather than serve on as an orphan
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid !== parent) {
        clearInterval(watch);
        stop('parent process exited');
      }
    }, PARENT_POLL_MS);
    watch.unref();
  });
  return 0;
}

/** how often the server checks that the process that started it is still there */
const PARENT_POLL_MS = 500;

const HELP = flagHelp(
  'usage: dllm serve [--model NAME|DIR …] [flags]\n  an OpenAI / Mercury / llama-server compatible server with a playground at /',
  SERVE_DEFAULTS,
  [
    ['--model NAME|DIR', 'repeatable; default: dllm-code-mini and its AR twin'],
    ['--backend auto|ort|wasm|ref', 'compute backend (default auto)'],
    ['--dtype f32|f16|q8|q4', 'weight storage (default f32; q4: 4-bit blocks of 32, wasm/ref only)'],
    ['--threads N', '0 = all cores'],
    ['--quiet', 'no request log'],
  ],
);

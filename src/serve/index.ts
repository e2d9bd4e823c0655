// The server's public entry: load the model folders, build an engine per model and the HTTP app, listen.
// The CLI (cli/serve.ts) only turns argv into a ServeConfig and folders and calls startServer.
import { basename, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kernels } from '../kernels/backend.js';
import type { WeightDtype } from '../model/weights.js';
import { createKernels } from '../platform/node.js';
import { openModel, type Backend } from '../platform/node-backend.js';
import { isGgufFile } from '../platform/node-model.js';
import { hubIdOfDir } from '../platform/node-hub-cache.js';
import { parseServeConfig, type ServeConfig } from './config.js';
import { Engine, type ServedModel } from './engine.js';
import { createApp } from './server.js';

export { parseServeConfig, SERVE_DEFAULTS, type ServeConfig } from './config.js';
export { Engine, type ServedModel, type Outcome, type Progress, type Timings } from './engine.js';
export { Metrics } from './metrics.js';
export { createApp } from './server.js';
export { parseGenRequest, type GenRequest, type Endpoint } from './protocol.js';
export { ApiError } from './errors.js';

export interface RunningServer {
  app: FastifyInstance;
  /** the first (default) model's engine */
  engine: Engine;
  engines: Engine[];
  config: ServeConfig;
  /** http://host:port */
  url: string;
  /** stop accepting, let in-flight requests finish, free the model */
  close(): Promise<void>;
}

export interface StartOptions {
  /** model folders (config.json, weights, tokenizer.json); the first is the default; config.modelId renames it */
  modelDir?: string | readonly string[];
  /** models ready to serve (tests serve fakes), after the folders; the caller keeps and frees them */
  models?: readonly ServedModel[];
  config?: Partial<ServeConfig>;
  threads?: number;
  /** log a line per request to stderr */
  log?: boolean;
  /** weight storage (f32, f16, q8) */
  dtype?: WeightDtype;
  /** compute backend (default auto: ONNX Runtime when it loads, else our wasm kernels) */
  backend?: Backend;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const config = parseServeConfig(opts.config ?? {});
  const backend = opts.backend ?? 'auto';
  // wasm/ref models share one kernel pool; ONNX Runtime brings its own threads
  const kernels: Kernels | null =
    backend === 'wasm' || backend === 'ref' ? await createKernels({ backend, ...(opts.threads ? { threads: opts.threads } : {}) }) : null;
  const loaded: Array<{ dispose(): void }> = [];
  try {
    const dirs = opts.modelDir === undefined ? [] : typeof opts.modelDir === 'string' ? [opts.modelDir] : [...opts.modelDir];
    const engines: Engine[] = [];
    const modelDirs = new Map<string, string>(); // id → folder: its files go to the playground's in-page engine
    for (const [i, dir] of dirs.entries()) {
      const m = await openModel(dir, { backend, dtype: opts.dtype ?? 'f32', threads: opts.threads ?? 0, ...(kernels ? { kernels } : {}) });
      loaded.push(m);
      if (!m.tokenizer) throw new Error(`${dir} has no tokenizer.json; the server needs one`);
      const id = i === 0 && config.modelId ? config.modelId : (hubIdOfDir(resolve(dir)) ?? basename(resolve(dir))); // a hub snapshot by its id, not its commit
      if (engines.some((e) => e.served.id === id)) throw new Error(`two models would be served as "${id}"; give distinct folders`);
      engines.push(new Engine({ id, config: m.config, model: m.model, tokenizer: m.tokenizer }, config));
      if (!isGgufFile(dir)) modelDirs.set(id, resolve(dir)); // the page's loaders read folders, not GGUF files
    }
    for (const m of opts.models ?? []) {
      if (engines.some((e) => e.served.id === m.id)) throw new Error(`two models would be served as "${m.id}"`);
      engines.push(new Engine(m, config));
    }
    if (engines.length === 0) throw new Error('startServer: no model given (modelDir or models)');
    if (!config.modelId) config.modelId = engines[0]!.served.id;
    const app = createApp(engines, config, modelDirs);
    if (opts.log) {
      app.addHook('onResponse', async (req, reply) => {
        console.error(`${req.method} ${req.url} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`);
      });
    }
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      app,
      engine: engines[0]!,
      engines,
      config,
      url: `http://${host}:${port}`,
      async close() {
        await app.close();
        for (const e of engines) await e.idle();
        for (const m of loaded) m.dispose();
        kernels?.dispose();
      },
    };
  } catch (e) {
    for (const m of loaded) m.dispose();
    kernels?.dispose();
    throw e;
  }
}

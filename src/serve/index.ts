// The server's public entry: load a model folder, build the engine and the HTTP app, listen. The CLI
// (cli/serve.ts) only turns argv into a ServeConfig and a folder and calls startServer.
import { basename, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kernels } from '../kernels/backend.js';
import { createKernels } from '../platform/node.js';
import { loadModelDir } from '../platform/node-model.js';
import { parseServeConfig, type ServeConfig } from './config.js';
import { Engine } from './engine.js';
import { createApp } from './server.js';

export { parseServeConfig, SERVE_DEFAULTS, type ServeConfig } from './config.js';
export { Engine, type ServedModel, type Outcome, type Progress, type Timings } from './engine.js';
export { createApp } from './server.js';
export { parseGenRequest, type GenRequest, type Endpoint } from './protocol.js';
export { ApiError } from './errors.js';

export interface RunningServer {
  app: FastifyInstance;
  engine: Engine;
  config: ServeConfig;
  /** http://host:port */
  url: string;
  /** stop accepting, let in-flight requests finish, free the model */
  close(): Promise<void>;
}

export interface StartOptions {
  /** a model folder (config.json, weights, tokenizer.json) */
  modelDir: string;
  config?: Partial<ServeConfig>;
  threads?: number;
  /** log a line per request to stderr */
  log?: boolean;
}

export async function startServer(opts: StartOptions): Promise<RunningServer> {
  const config = parseServeConfig(opts.config ?? {});
  const kernels: Kernels = await createKernels(opts.threads ? { threads: opts.threads } : {});
  try {
    const m = await loadModelDir(opts.modelDir, kernels);
    if (!m.tokenizer) throw new Error(`${opts.modelDir} has no tokenizer.json; the server needs one`);
    if (!config.modelId) config.modelId = basename(resolve(opts.modelDir));
    const engine = new Engine({ id: config.modelId, config: m.config, model: m.model, tokenizer: m.tokenizer }, config);
    const app = createApp(engine, config);
    if (opts.log) {
      app.addHook('onResponse', async (req, reply) => { console.error(`${req.method} ${req.url} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`); });
    }
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      app, engine, config, url: `http://${host}:${port}`,
      async close() {
        await app.close();
        await engine.idle();
        m.model.dispose();
        kernels.dispose();
      },
    };
  } catch (e) {
    kernels.dispose();
    throw e;
  }
}

// The server's typed configuration (style.md §3.5): one object, its defaults, and parseServeConfig(unknown),
// which rejects unknown keys and wrong types, naming the key. The CLI maps --flags 1:1 onto these keys.
import { CACHE_MODES, type CacheMode } from '../model/diffusion-lm.js';

export interface ServeConfig {
  host: string;
  /** 0 = an ephemeral port (tests) */
  port: number;
  /** the model id clients send (default: the model folder's name) */
  modelId: string;
  /** largest max_tokens / n_predict a request may ask for */
  maxTokens: number;
  /** generated positions when a request gives no max_tokens (capped by the context left) */
  defaultMaxTokens: number;
  /** request body limit in bytes */
  bodyLimit: number;
  /** requests waiting or decoding; one more gets 503 */
  queueSize: number;
  /** requests decoding together (continuous batching); 1 = one at a time */
  batchSize: number;
  /** the diffusion model's block cache (diffusion-lm.ts CACHE_HELP); 'block' decodes block-causally */
  cache: CacheMode;
  /** CORS: '' = off (same-origin only), '*' = any origin, else the one origin allowed (e.g. http://localhost:3000) */
  cors: string;
  /** a client must send its whole request (headers and body) within this; a slow body gets 408 */
  requestTimeoutMs: number;
}

export const SERVE_DEFAULTS: Readonly<ServeConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  modelId: '',
  maxTokens: 1024,
  defaultMaxTokens: 128,
  bodyLimit: 1 << 20,
  queueSize: 64,
  batchSize: 8,
  cache: 'none' as CacheMode,
  cors: '',
  requestTimeoutMs: 30_000,
});

const INTS: ReadonlyArray<keyof ServeConfig> = [
  'port',
  'maxTokens',
  'defaultMaxTokens',
  'bodyLimit',
  'queueSize',
  'batchSize',
  'requestTimeoutMs',
];

export function parseServeConfig(input: unknown): ServeConfig {
  if (input === undefined || input === null) return { ...SERVE_DEFAULTS };
  if (typeof input !== 'object' || Array.isArray(input)) throw new Error('serve config: expected an object');
  const out: Record<string, unknown> = { ...SERVE_DEFAULTS };
  for (const [key, v] of Object.entries(input)) {
    if (!Object.hasOwn(SERVE_DEFAULTS, key))
      throw new Error(`serve config: unknown key "${key}" (known: ${Object.keys(SERVE_DEFAULTS).join(', ')})`);
    if (v === undefined) continue;
    if (INTS.includes(key as keyof ServeConfig)) {
      const min = key === 'port' ? 0 : 1;
      if (!(Number.isSafeInteger(v) && (v as number) >= min))
        throw new Error(`serve config: "${key}" must be an integer ≥ ${min}, got ${String(v)}`);
      if (key === 'port' && (v as number) > 65535) throw new Error(`serve config: "port" must be ≤ 65535, got ${String(v)}`);
    } else if (key === 'cache') {
      if (!(CACHE_MODES as readonly unknown[]).includes(v))
        throw new Error(`serve config: "cache" must be ${CACHE_MODES.join(' | ')}, got ${String(v)}`);
    } else if (typeof v !== 'string') throw new Error(`serve config: "${key}" must be a string`);
    else if (key === 'cors' && v !== '' && v !== '*' && !/^https?:\/\/[^/\s]+$/.test(v))
      throw new Error(
        `serve config: "cors" must be '*' or an origin such as http://localhost:3000 (scheme://host[:port], no path), got "${v}"`,
      );
    out[key] = v;
  }
  const c = out as unknown as ServeConfig;
  if (c.defaultMaxTokens > c.maxTokens)
    throw new Error(`serve config: "defaultMaxTokens" (${c.defaultMaxTokens}) must be ≤ "maxTokens" (${c.maxTokens})`);
  return c;
}

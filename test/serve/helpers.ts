// Start the server on an ephemeral port with the tiny random LLaDA fixture (it has a chat template), and read
// SSE streams from raw fetch responses.
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer, type ServeConfig } from '../../src/serve/index.js';

export const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/llada/', import.meta.url));

export function startFixture(config: Partial<ServeConfig> = {}): Promise<RunningServer> {
  return startServer({
    modelDir: FIXTURE,
    config: { port: 0, modelId: 'llada-tiny', maxTokens: 64, defaultMaxTokens: 16, bodyLimit: 64 * 1024, ...config },
    threads: 1,
  });
}

export const post = (url: string, body: unknown, init: RequestInit = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });

/** every `data:` payload of an SSE response, JSON-parsed except `[DONE]` */
export async function readSse(res: Response): Promise<Array<Record<string, any> | '[DONE]'>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => {
      const d = e.slice('data: '.length);
      return d === '[DONE]' ? '[DONE]' : JSON.parse(d);
    });
}

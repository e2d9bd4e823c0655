// Start llama.cpp through node-llama-cpp (pinned devDependency, prebuilt CPU binaries, no download), or skip the
// calling test with the reason: shared by the GGUF parity and GGUF export tests.
import type { TestContext } from 'node:test';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LLAMA_CPP_PACKAGE = 'node-llama-cpp';
export const LLAMA_CPP_PINNED = '3.21.1';

interface Nlc<L> { getLlama(o: Record<string, unknown>): Promise<L>; LlamaLogLevel: Record<string, string> }

/** the Llama instance (typed by the caller's view of it), or null after t.skip(reason) */
export async function startLlamaCpp<L>(t: TestContext): Promise<L | null> {
  let nlc: Nlc<L>;
  try {
    nlc = (await import(LLAMA_CPP_PACKAGE)) as Nlc<L>;
  } catch (e) {
    t.skip(`${LLAMA_CPP_PACKAGE} is not installed (npm install --no-save ${LLAMA_CPP_PACKAGE}@${LLAMA_CPP_PINNED}): ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
  let version = 'unknown';
  try { // dist/index.js → package.json (the package exports no ./package.json)
    const pkg = fileURLToPath(new URL('../package.json', import.meta.resolve(LLAMA_CPP_PACKAGE)));
    version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch { /* import.meta.resolve needs Node ≥ 20.6 */ }
  t.diagnostic(`${LLAMA_CPP_PACKAGE} ${version}${version === LLAMA_CPP_PINNED ? '' : ` (tested with ${LLAMA_CPP_PINNED})`}`);
  try {
    return await nlc.getLlama({ gpu: false, build: 'never', usePrebuiltBinaries: true, skipDownload: true, progressLogs: false,
      logLevel: nlc.LlamaLogLevel['error'] });
  } catch (e) {
    t.skip(`${LLAMA_CPP_PACKAGE} cannot start llama.cpp here: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

// Start llama.cpp through node-llama-cpp (src/platform/node-llama-cpp.ts), or skip the calling test with the reason:
// shared by the GGUF parity and GGUF export tests.
import type { TestContext } from 'node:test';
import { LLAMA_CPP_PACKAGE, LLAMA_CPP_PINNED, llamaCppVersions, loadLlamaCpp } from '../../src/platform/node-llama-cpp.js';

/** the Llama instance (typed by the caller's view of it), or null after t.skip(reason) */
export async function startLlamaCpp<L>(t: TestContext): Promise<L | null> {
  const r = await loadLlamaCpp<L>();
  if ('skip' in r) {
    t.skip(r.skip);
    return null;
  }
  const { nodeLlamaCpp: version } = llamaCppVersions();
  t.diagnostic(`${LLAMA_CPP_PACKAGE} ${version}${version === LLAMA_CPP_PINNED ? '' : ` (tested with ${LLAMA_CPP_PINNED})`}`);
  return r.llama;
}

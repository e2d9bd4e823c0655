// Starting llama.cpp through node-llama-cpp (a pinned devDependency: prebuilt CPU binaries, no download, no
// build), for the peer comparisons (dllm bench, bench/, the GGUF parity tests). Loaded by name, so dllm runs
// without it; when it is absent or cannot start, the caller gets the reason instead of an exception.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const LLAMA_CPP_PACKAGE = 'node-llama-cpp';
export const LLAMA_CPP_PINNED = '3.21.1';

// the slice of node-llama-cpp's API the benchmarks use (typed here: a dev dependency that may be absent)
export interface NlcSequence {
  evaluateWithoutGeneratingNewTokens(tokens: number[]): Promise<void>;
  clearHistory(): Promise<void>;
}
export interface NlcContext {
  getSequence(): NlcSequence;
  readonly currentThreads: number;
  readonly batchSize: number;
  dispose(): Promise<void>;
  _ctx?: { decodeBatch(): Promise<void> }; // internal: bench/forward.bench.ts wraps it to count and time llama_decode calls
}
export interface NlcModel {
  createContext(o: Record<string, unknown>): Promise<NlcContext>;
  dispose(): Promise<void>;
}
export interface NlcLlama {
  loadModel(o: { modelPath: string; gpuLayers: number }): Promise<NlcModel>;
  dispose(): Promise<void>;
  readonly systemInfo: string;
}

interface Nlc<L> {
  getLlama(o: Record<string, unknown>): Promise<L>;
  LlamaLogLevel: Record<string, string>;
}

/** node-llama-cpp's version and the llama.cpp tag it was built from ('not installed' / 'unknown' when unreadable) */
export function llamaCppVersions(): { nodeLlamaCpp: string; llamaCpp: string } {
  let root: URL;
  try {
    root = new URL('../', import.meta.resolve(LLAMA_CPP_PACKAGE));
  } catch {
    return { nodeLlamaCpp: 'not installed', llamaCpp: 'unknown' };
  }
  const read = <T>(path: string): T | null => {
    try {
      return JSON.parse(readFileSync(fileURLToPath(new URL(path, root)), 'utf8')) as T;
    } catch {
      return null;
    }
  };
  const info = read<{ tag: string; llamaCppGithubRepo: string }>('llama/llama.cpp.info.json'); // dist/index.js → the package root
  return {
    nodeLlamaCpp: read<{ version: string }>('package.json')?.version ?? 'unknown',
    llamaCpp: info ? `${info.llamaCppGithubRepo}@${info.tag}` : 'unknown',
  };
}

/** the Llama instance (typed by the caller's view of it), on the CPU, at most maxThreads threads; or why not */
export async function loadLlamaCpp<L>(maxThreads?: number): Promise<{ llama: L } | { skip: string }> {
  let nlc: Nlc<L>;
  try {
    nlc = (await import(LLAMA_CPP_PACKAGE)) as Nlc<L>;
  } catch (e) {
    return {
      skip: `${LLAMA_CPP_PACKAGE} is not installed (npm install --no-save ${LLAMA_CPP_PACKAGE}@${LLAMA_CPP_PINNED}): ${(e as Error).message.split('\n')[0]}`,
    };
  }
  try {
    return {
      llama: await nlc.getLlama({
        gpu: false,
        build: 'never',
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        ...(maxThreads ? { maxThreads } : {}),
        logLevel: nlc.LlamaLogLevel['error'],
      }),
    };
  } catch (e) {
    return { skip: `${LLAMA_CPP_PACKAGE} cannot start llama.cpp here: ${(e as Error).message.split('\n')[0]}` };
  }
}

// The browser column of `npm run bench:devices`: the same library in Debian's Chromium (playwright-core), on
// the WASM kernels threaded over Web Workers (the page is cross-origin isolated by `dllm serve`'s COOP/COEP
// headers), the models' files fetched from the server's /model/<id>/. Each configuration in a fresh browser,
// so the renderer's peak resident memory (VmHWM of the renderer process, where the page and its workers run)
// is that configuration's alone. Same measures as the Node rows: load, peak memory, first settled token,
// tokens/s over the same prompts with the library defaults.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { startServer } from '../src/serve/index.js';

export interface BrowserRow {
  model: string;
  dtype: string;
  threads: number;
  loadMs: number;
  peakRssMb: number;
  firstTokenMs: number;
  tokensPerSecond: number;
  tokens: number;
}

const CHROMIUM = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => p && existsSync(p));

/** pids whose parent chain reaches `root` */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const under = (p: number): boolean => (p === root ? true : p <= 1 || !parent.has(p) ? false : under(parent.get(p)!));
  return [...parent.keys()].filter((p) => p !== root && under(p));
}

/** the largest peak RSS (MB) among the browser's renderer processes */
function rendererPeakMb(browserPid: number): number {
  let peak = 0;
  for (const pid of descendants(browserPid)) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (hwm) peak = Math.max(peak, Number(hwm[1]) / 1024);
    } catch {
      /* gone */
    }
  }
  return peak;
}

export async function measureInBrowser(modelDirs: string[], dtypes: string[], prompts: string[], gen: number): Promise<BrowserRow[]> {
  if (!CHROMIUM) throw new Error('bench:devices: no chromium for the browser column (apt-get install chromium, or set CHROMIUM_PATH)');
  const server = await startServer({ modelDir: modelDirs, backend: 'wasm', threads: 1, config: { port: 0 } });
  const rows: BrowserRow[] = [];
  try {
    for (const model of server.engines.map((e) => e.served.id))
      for (const dtype of dtypes) {
        // a browser server: its process id leads to the renderer whose memory is measured
        const host = await chromium.launchServer({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
        const browser = await chromium.connect(host.wsEndpoint());
        try {
          const page = await browser.newPage();
          await page.goto(server.url + '/'); // the playground's page: cross-origin isolated, so the pool can run
          const r = await page.evaluate(
            async ({ model, dtype, prompts, gen }) => {
              const dllm = await import('/web/dllm.js' as string);
              const t0 = performance.now();
              const lm = await dllm.loadModel(`/model/${model}/`, { dtype });
              const loadMs = performance.now() - t0;
              await lm.complete(prompts[0], { maxTokens: 8 }); // warm-up, as in the Node rows
              let tokens = 0,
                ms = 0,
                first = 0;
              for (const p of prompts) {
                const c = await lm.complete(p, { maxTokens: gen });
                tokens += c.ids.length;
                ms += c.timings.totalMs;
                first += Number.isNaN(c.timings.firstMs) ? c.timings.totalMs : c.timings.firstMs;
              }
              const threads = lm.model.kernels?.threads ?? 1;
              lm.dispose();
              return { loadMs, tokens, ms, first, threads, isolated: crossOriginIsolated };
            },
            { model, dtype, prompts, gen },
          );
          if (!r.isolated)
            throw new Error('bench:devices: the page is not cross-origin isolated; the browser rows would be single-threaded');
          const pid = host.process().pid;
          rows.push({
            model,
            dtype,
            threads: r.threads,
            loadMs: r.loadMs,
            peakRssMb: pid ? rendererPeakMb(pid) : NaN,
            firstTokenMs: r.first / prompts.length,
            tokensPerSecond: (1000 * r.tokens) / r.ms,
            tokens: r.tokens,
          });
        } finally {
          await browser.close();
          await host.close();
        }
      }
  } finally {
    await server.close();
  }
  return rows;
}

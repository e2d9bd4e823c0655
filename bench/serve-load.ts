// A bounded loopback load generator for `dllm serve`: N concurrent streaming /v1/completions requests, each
// read to its end. It reports what a load test needs: errors, generated tokens (from the usage chunk),
// wall time, aggregate tokens/s, per-request latency and time to the first streamed byte. Used by the load
// test (test/serve/load.test.ts) and by `npm run bench:serve`.
export interface LoadResult {
  requests: number;
  errors: string[];
  tokens: number;
  wallMs: number;
  tokensPerSecond: number;
  latencyMs: { p50: number; p90: number; max: number };
  firstByteMs: { p50: number; max: number };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

export async function streamLoad(url: string, bodies: ReadonlyArray<Record<string, unknown>>): Promise<LoadResult> {
  const errors: string[] = [],
    latency: number[] = [],
    firstByte: number[] = [];
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    bodies.map(async (body, i) => {
      const start = performance.now();
      try {
        const res = await fetch(`${url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
        });
        if (res.status !== 200) {
          errors.push(`request ${i}: HTTP ${res.status} ${await res.text()}`);
          return;
        }
        const reader = res.body!.getReader();
        let text = '',
          first = 0;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          if (!first) first = performance.now() - start;
          text += Buffer.from(value).toString('utf8');
        }
        firstByte.push(first);
        latency.push(performance.now() - start);
        const events = text
          .split('\n\n')
          .filter((e) => e.startsWith('data: '))
          .map((e) => e.slice(6));
        if (events.at(-1) !== '[DONE]') {
          errors.push(`request ${i}: the stream did not end with [DONE]`);
          return;
        }
        for (const e of events.slice(0, -1)) {
          const c = JSON.parse(e) as { error?: { message: string }; usage?: { completion_tokens: number } | null };
          if (c.error) errors.push(`request ${i}: ${c.error.message}`);
          if (c.usage) tokens += c.usage.completion_tokens;
        }
      } catch (e) {
        errors.push(`request ${i}: ${(e as Error).message}`);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  return {
    requests: bodies.length,
    errors,
    tokens,
    wallMs: r1(wallMs),
    tokensPerSecond: r1((tokens * 1000) / wallMs),
    latencyMs: { p50: r1(pct(latency, 0.5)), p90: r1(pct(latency, 0.9)), max: r1(Math.max(0, ...latency)) },
    firstByteMs: { p50: r1(pct(firstByte, 0.5)), max: r1(Math.max(0, ...firstByte)) },
  };
}

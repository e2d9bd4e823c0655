// GET /metrics in the Prometheus text format (prom-client, one registry per server so that several servers in
// one process keep their own counts). Names follow Prometheus conventions (`_total` counters, `_seconds`
// histograms) under a `dllm_` prefix, with the diffusion counters llama-server does not have: NFE and
// tokens per forward (TPF), the speed figures Fast-dLLM reports.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine, EngineObserver } from './engine.js';
import type { Job, Outcome } from './job.js';

const LATENCY = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Metrics implements EngineObserver {
  readonly registry = new Registry();
  private readonly http = new Counter({
    name: 'dllm_http_requests_total',
    help: 'HTTP requests by route and status code',
    labelNames: ['route', 'code'],
    registers: [this.registry],
  });
  private readonly completions = new Counter({
    name: 'dllm_requests_total',
    help: 'generation requests finished, by model and finish reason',
    labelNames: ['model', 'finish_reason'],
    registers: [this.registry],
  });
  private readonly cancelled = new Counter({
    name: 'dllm_requests_cancelled_total',
    help: 'generation requests whose client went away',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly promptTokens = new Counter({
    name: 'dllm_prompt_tokens_total',
    help: 'prompt (and suffix) tokens of finished requests',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly generated = new Counter({
    name: 'dllm_generated_tokens_total',
    help: 'generated tokens up to EOS or a stop string',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly nfe = new Counter({
    name: 'dllm_nfe_total',
    help: 'model forward evaluations the finished requests took part in (summed per request)',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly calls = new Counter({
    name: 'dllm_forward_calls_total',
    help: 'batched model calls (one call serves every request in the batch)',
    labelNames: ['model'],
    registers: [this.registry],
  });
  private readonly rows = new Histogram({
    name: 'dllm_batch_rows',
    help: 'requests served by one batched model call',
    labelNames: ['model'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  private readonly tpf = new Histogram({
    name: 'dllm_tokens_per_forward',
    help: 'tokens per forward of finished requests (TPF)',
    labelNames: ['model'],
    buckets: [0.5, 1, 1.5, 2, 3, 4, 6, 8, 16],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'dllm_request_duration_seconds',
    help: 'request time from acceptance to the last token',
    labelNames: ['model'],
    buckets: LATENCY,
    registers: [this.registry],
  });
  private readonly ttft = new Histogram({
    name: 'dllm_time_to_first_step_seconds',
    help: 'time from acceptance to the first decoding step',
    labelNames: ['model'],
    buckets: LATENCY,
    registers: [this.registry],
  });
  private readonly queueWait = new Histogram({
    name: 'dllm_queue_wait_seconds',
    help: 'time a request waited for a place in the batch',
    labelNames: ['model'],
    buckets: LATENCY,
    registers: [this.registry],
  });
  private readonly speed = new Histogram({
    name: 'dllm_request_tokens_per_second',
    help: 'generated tokens / decoding time, per request',
    labelNames: ['model'],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
    registers: [this.registry],
  });

  constructor(engines: readonly Engine[]) {
    const registers = [this.registry];
    new Gauge({
      name: 'dllm_queue_depth',
      help: 'requests waiting for a place in the batch',
      labelNames: ['model'],
      registers,
      collect() {
        for (const e of engines) this.set({ model: e.served.id }, e.waiting);
      },
    });
    new Gauge({
      name: 'dllm_requests_decoding',
      help: 'requests decoding now',
      labelNames: ['model'],
      registers,
      collect() {
        for (const e of engines) this.set({ model: e.served.id }, e.decoding);
      },
    });
    for (const e of engines) e.observer = this;
  }

  onHttp(route: string, code: number): void {
    this.http.inc({ route, code: String(code) });
  }
  onCall(model: string, rows: number): void {
    this.calls.inc({ model });
    this.rows.observe({ model }, rows);
  }
  onCancel(model: string): void {
    this.cancelled.inc({ model });
  }
  onFinish(model: string, job: Job, o: Outcome): void {
    const t = o.timings,
      m = { model };
    this.completions.inc({ model, finish_reason: o.finishReason });
    this.promptTokens.inc(m, o.promptTokens);
    this.generated.inc(m, o.completionTokens);
    this.nfe.inc(m, t.nfe);
    if (t.nfe > 0) this.tpf.observe(m, t.tokens_per_forward);
    this.latency.observe(m, (performance.now() - job.queuedAt) / 1000);
    this.ttft.observe(m, (t.queue_ms + t.prompt_ms) / 1000);
    this.queueWait.observe(m, t.queue_ms / 1000);
    this.speed.observe(m, t.predicted_per_second);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }
}

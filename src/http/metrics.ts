import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Freshness and counts of one source, as `/metrics` exports them. */
export interface SourceGauge {
  name: string;
  lagSeconds: number | null;
  stale: boolean;
  documents: Record<string, number>;
}

/** Prometheus metrics of one server: request counts and latency by route and status, plus process metrics. */
export class HttpMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'tarmac_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'tarmac_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    // The event-loop lag is sampled every 100 ms: the default 10 ms timer alone woke an idle server 100 times a second.
    collectDefaultMetrics({ register: this.registry, prefix: 'tarmac_', eventLoopMonitoringPrecision: 100 });
  }

  /** Per-source lag, staleness and document counts, read from `read` at every scrape. */
  addSourceGauges(read: () => Promise<SourceGauge[]>): void {
    const registers = [this.registry];
    let snapshot: Promise<SourceGauge[]> | null = null;
    // One read per scrape, shared by the three gauges.
    const current = () => (snapshot ??= read().finally(() => setTimeout(() => (snapshot = null), 0)));
    new Gauge({
      name: 'tarmac_source_lag_seconds',
      help: 'Seconds since the last successful sync of each source (-1: never synced)',
      labelNames: ['source'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) this.set({ source: s.name }, s.lagSeconds ?? -1);
      },
    });
    new Gauge({
      name: 'tarmac_source_stale',
      help: '1 when the source is past its freshness SLA',
      labelNames: ['source'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) this.set({ source: s.name }, s.stale ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tarmac_source_documents',
      help: 'Documents of each source by status (indexed, failed, quarantined) and its chunks',
      labelNames: ['source', 'status'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) for (const [status, n] of Object.entries(s.documents)) this.set({ source: s.name, status }, n);
      },
    });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }
}

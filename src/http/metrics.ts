import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ServerMetrics, SourceGauge } from '../capability/index.js';

/** Prometheus metrics of one server: request counts and latency by route and status, plus process metrics. */
export class HttpMetrics implements ServerMetrics {
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
  private readonly fallbacks = new Counter({
    name: 'tarmac_retrieval_fallbacks_total',
    help: 'Searches that went lexical because the embeddings endpoint failed, by reason (timeout, unreachable, http_status, malformed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor() {
    // The event-loop lag is sampled every 100 ms: the default 10 ms timer alone woke an idle server 100 times a second.
    collectDefaultMetrics({ register: this.registry, prefix: 'tarmac_', eventLoopMonitoringPrecision: 100 });
  }

  /** Per-source lag, staleness, document and chunk counts, read from `read` at every scrape. */
  addSourceGauges(read: () => Promise<SourceGauge[]>): void {
    const registers = [this.registry];
    let snapshot: Promise<SourceGauge[]> | null = null;
    // One read per scrape, shared by the gauges.
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
      help: 'Documents of each source by status (indexed, failed, quarantined)',
      labelNames: ['source', 'status'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) for (const [status, n] of Object.entries(s.documents)) this.set({ source: s.name, status }, n);
      },
    });
    new Gauge({
      name: 'tarmac_source_chunks',
      help: 'Searchable chunks of each source',
      labelNames: ['source'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) this.set({ source: s.name }, s.chunks);
      },
    });
    new Gauge({
      name: 'tarmac_source_embeddings_pending',
      help: 'Chunks of each source waiting for their embedding (only with vector search)',
      labelNames: ['source'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of await current()) if (s.embeddingsPending !== null) this.set({ source: s.name }, s.embeddingsPending);
      },
    });
  }

  /** One search that went lexical because the embeddings endpoint failed. */
  retrievalFallback(reason: string): void {
    this.fallbacks.inc({ reason });
  }

  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }
}

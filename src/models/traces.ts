import type { Database } from '../db/index.js';

/** One attempt of a request at one target. */
export interface Attempt {
  provider: string;
  model: string;
  outcome: 'ok' | 'error' | 'skipped_egress' | 'skipped_circuit';
  error?: string;
  status?: number | null;
  ms?: number;
}

/** The endpoints a gateway trace records. */
export const TRACE_ENDPOINTS = ['chat', 'embeddings', 'models'] as const;
/** How a traced request ended; `refused`: turned away at authentication (a bad, revoked or under-scoped key), never spend. */
export const TRACE_STATUSES = ['ok', 'error', 'cancelled', 'refused'] as const;

/** What the gateway records for every request, successful or not. */
export interface GatewayTrace {
  id: string;
  at: string;
  request_id: string | null;
  key_id: string | null;
  team_id: string | null;
  use_case: string | null;
  endpoint: (typeof TRACE_ENDPOINTS)[number];
  route: string | null;
  requested_model: string | null;
  provider: string | null;
  model: string | null;
  attempts: Attempt[];
  fallbacks: number;
  stream: boolean;
  status: (typeof TRACE_STATUSES)[number];
  http_status: number;
  error_code: string | null;
  classification: string | null;
  pii_types: string[];
  cache_hit: boolean;
  first_token_ms: number | null;
  total_ms: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  cost_estimated: boolean;
}

export interface TraceWriterOptions {
  /** Longest a trace waits in memory before it is written. */
  flushMs: number;
  /** Traces per insert statement. */
  batchSize: number;
  /** Pending traces above which `record` waits for a flush (back-pressure instead of loss). */
  highWater: number;
  onError?: (err: unknown) => void;
}

/**
 * Writes traces in batches off the request path: at most `flushMs` later, at once when a batch is full, and
 * everything on {@link close}. A failed write keeps its traces for the next attempt; when too many wait,
 * `record` makes the caller wait instead of dropping any.
 *
 * @example
 * const writer = new TraceWriter(db, { flushMs: 500, batchSize: 500, highWater: 20_000 });
 * await writer.record(trace);
 * await writer.close();
 */
export class TraceWriter {
  private pending: GatewayTrace[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  written = 0;

  constructor(
    private readonly db: Database,
    private readonly options: TraceWriterOptions,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushMs);
    this.timer.unref();
  }

  /** Queues a trace; resolves at once unless too many are waiting, then after they are written. */
  async record(trace: GatewayTrace): Promise<void> {
    if (this.closed) throw new Error('the trace writer is closed');
    this.pending.push(trace);
    if (this.pending.length >= this.options.batchSize) void this.flush().catch(() => undefined);
    while (this.pending.length >= this.options.highWater) await this.flush();
  }

  /** Writes everything pending now (one flush at a time). */
  flush(): Promise<void> {
    this.flushing ??= this.writeAll().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.options.batchSize);
      try {
        await this.db.query('insert into gateway_traces select * from jsonb_populate_recordset(null::gateway_traces, $1::jsonb)', [JSON.stringify(batch)]);
        this.written += batch.length;
      } catch (err) {
        this.pending.unshift(...batch);
        this.options.onError?.(err);
        throw err;
      }
    }
  }

  /** Stops the timer and writes every pending trace, retrying a few times on failure. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.flush();
        if (this.pending.length === 0) return;
      } catch (err) {
        if (attempt >= 4) throw err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }
}

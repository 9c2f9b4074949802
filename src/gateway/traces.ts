import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
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
  /** The eval run whose trial made this call; null for production traffic. */
  eval_run: string | null;
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

/**
 * Queued changes written in the same statement as a batch of traces (the budget settlements of the same
 * requests): `take` hands them over as one JSON parameter (null when there are none), `giveBack` after a
 * failed statement.
 */
export interface Alongside {
  sql(param: string): string;
  take(): unknown[] | null;
  giveBack(taken: unknown[]): void;
}

/**
 * A local append-only file of the traces not yet committed, beside the embedded database: a trace is appended
 * (one JSON line, handed to the operating system) before its call is answered, and the file is emptied whenever
 * every trace appended is committed. Opening it writes what a killed process left in it.
 *
 * @example
 * const journal = await TraceJournal.open(db, path.join(dataDir, 'gateway-traces.journal'));
 */
export class TraceJournal {
  private constructor(private readonly fd: number) {}

  /** Inserts the traces left in `file` (those already stored are skipped), empties it and opens it for appending. */
  static async open(db: Database, file: string): Promise<{ journal: TraceJournal; replayed: number }> {
    let replayed = 0;
    if (existsSync(file)) {
      const traces: unknown[] = [];
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        try {
          if (line) traces.push(JSON.parse(line));
        } catch {
          // A line cut short by the kill: its call was never answered.
        }
      }
      for (let i = 0; i < traces.length; i += 500) {
        const { rowCount } = await db.query(`${INSERT} on conflict (id) do nothing`, [JSON.stringify(traces.slice(i, i + 500))]);
        replayed += rowCount ?? 0;
      }
    }
    const fd = openSync(file, 'a', 0o600);
    ftruncateSync(fd, 0);
    return { journal: new TraceJournal(fd), replayed };
  }

  append(trace: GatewayTrace): void {
    writeSync(this.fd, `${JSON.stringify(trace)}\n`);
  }

  clear(): void {
    ftruncateSync(this.fd, 0);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface TraceWriterOptions {
  /** Traces per insert statement at most. */
  batchSize: number;
  /** With a journal a trace is durable once appended to it, and {@link TraceWriter.record} resolves then. */
  journal?: TraceJournal | undefined;
  /** Written in the same statement as each batch, so a trace never commits without it. */
  alongside?: Alongside;
  onError?: (err: unknown) => void;
}

interface Waiting {
  trace: GatewayTrace;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const INSERT = 'insert into gateway_traces select * from jsonb_populate_recordset(null::gateway_traces, $1::jsonb)';

/**
 * Writes traces with group commit: a trace arriving while no insert is in flight is written at once; traces
 * arriving meanwhile wait for it and then go together in one multi-row insert. {@link record} resolves once
 * its trace is committed (or, with a journal, appended to it), so the gateway answers a call only after its
 * trace is stored. A batch that fails is retried trace by trace, so a bad trace fails alone.
 *
 * @example
 * const writer = new TraceWriter(db, { batchSize: 500 });
 * await writer.record(trace); // committed
 * await writer.close();
 */
export class TraceWriter {
  private queue: Waiting[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;
  /** A journaled trace the database refused: the journal keeps it for the next start. */
  private kept = false;
  written = 0;

  constructor(
    private readonly db: Database,
    private readonly options: TraceWriterOptions,
  ) {}

  /** Resolves once the trace is committed; rejects with the database's error for this trace alone. */
  record(trace: GatewayTrace): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the trace writer is closed'));
    const journal = this.options.journal;
    if (journal) {
      journal.append(trace);
      this.queue.push({ trace, resolve: () => undefined, reject: () => (this.kept = true) });
      this.kick();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ trace, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      // A trace may have been queued after the last batch was taken but before this ran.
      if (this.queue.length > 0) this.kick();
      else if (!this.kept) this.options.journal?.clear();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.batchSize);
      try {
        await this.write(batch.map((w) => w.trace), true);
        for (const w of batch) w.resolve();
      } catch (err) {
        this.options.onError?.(err);
        // Alone and without what goes alongside, so that neither a bad trace nor a bad settlement fails the others.
        for (const w of batch) await this.write([w.trace], false).then(w.resolve, w.reject);
      }
    }
  }

  private async write(traces: GatewayTrace[], withAlongside: boolean): Promise<void> {
    const alongside = withAlongside ? this.options.alongside : undefined;
    const taken = alongside?.take() ?? null;
    try {
      if (alongside && taken) {
        await this.db.query(`with alongside as (${alongside.sql('$2')}) ${INSERT}`, [JSON.stringify(traces), JSON.stringify(taken)]);
      } else await this.db.query(INSERT, [JSON.stringify(traces)]);
    } catch (err) {
      if (alongside && taken) alongside.giveBack(taken);
      throw err;
    }
    this.written += traces.length;
  }

  /** Resolves once every trace recorded so far has been written (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Refuses new traces and waits for the queued ones. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.options.journal?.close();
  }
}

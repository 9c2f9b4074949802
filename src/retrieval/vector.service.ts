import type * as OpenAISdk from 'openai';
import type OpenAI from 'openai';
import { z } from 'zod';
import type { Database } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import type { SearchFilter } from './retrieval.repository.js';

/** An OpenAI-compatible embeddings endpoint. */
export interface EmbeddingsConfig {
  /** Base URL, ending in `/v1`. */
  url: string;
  model: string;
  apiKey?: string | undefined;
  dimensions: number;
  /** How long embedding a search query may take before search goes on without vectors; default 3000. */
  queryTimeoutMs?: number | undefined;
  /** Wait before embedding failed chunks again: `first`, doubled after each failure up to `max`; default 5 s to 10 min. */
  retryMs?: { first: number; max: number } | undefined;
}

/** Why the embeddings endpoint gave no vectors. */
export const EMBEDDINGS_FAILURES = ['timeout', 'unreachable', 'http_status', 'malformed'] as const;
export type EmbeddingsFailureReason = (typeof EMBEDDINGS_FAILURES)[number];

/** The embeddings endpoint failed: `source_unavailable`, with the reason (a metric label). */
export class EmbeddingsFailure extends TarmacError {
  constructor(
    readonly reason: EmbeddingsFailureReason,
    message: string,
  ) {
    super('source_unavailable', message, { reason });
  }
}

// Vectors come as base64 float32 when asked for, or as float arrays from servers that ignore the encoding.
const EmbeddingsResponse = z.object({
  data: z.array(z.object({ index: z.number().int(), embedding: z.union([z.string(), z.array(z.number())]) })),
});

function decodeVector(embedding: string | number[]): number[] {
  if (typeof embedding !== 'string') return embedding;
  const bytes = Buffer.from(embedding, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.length / Float32Array.BYTES_PER_ELEMENT)));
}

const BATCH = 128;
const BATCH_TIMEOUT_MS = 60_000;
const QUERY_TIMEOUT_MS = 3000;
const RETRY_MS = { first: 5000, max: 600_000 };

/**
 * Vector search over chunk embeddings with pgvector, when an embedding provider is configured and the
 * extension exists (always on the embedded database; on PostgreSQL when installed). The access filter is in
 * the query, before the cut, as for lexical search. Chunks whose embedding failed are embedded again after a
 * wait that doubles with each failure; no timer runs while nothing is pending.
 *
 * @example
 * const vectors = new VectorIndex(db, { url: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text', dimensions: 768 });
 * sources.writer.onIndexed(() => vectors.schedule());
 */
export class VectorIndex {
  private client: OpenAI | null = null;
  private sdk: typeof OpenAISdk | null = null;
  private enabled: boolean | null = null;
  private reason = '';
  private pass: Promise<void> | null = null;
  private again = false;
  private retry: NodeJS.Timeout | null = null;
  private delay: number;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly config: EmbeddingsConfig,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.delay = this.retryMs.first;
  }

  private get retryMs(): { first: number; max: number } {
    return this.config.retryMs ?? RETRY_MS;
  }

  /** Creates the extension and the embeddings table; false (with a reason) when pgvector is not available. */
  async enable(): Promise<boolean> {
    if (this.enabled !== null) return this.enabled;
    try {
      await this.db.transaction(async (tx) => {
        await tx.query('create extension if not exists vector');
        await tx.query(
          `create table if not exists chunk_embeddings (
             chunk_id bigint primary key references chunks (id) on delete cascade,
             model text not null,
             embedding vector(${this.config.dimensions}) not null
           )`,
        );
      });
      this.enabled = true;
    } catch (err) {
      this.enabled = false;
      this.reason = `pgvector is not available: ${(err as Error).message}`;
    }
    return this.enabled;
  }

  /** Why vector search is off (empty when it is on). */
  get unavailableReason(): string {
    return this.reason;
  }

  /** The cosine similarity of two texts' embeddings (semantic similarity of an answer to the expected one). */
  async similarity(a: string, b: string): Promise<number> {
    const [x, y] = await this.embed([a, b], this.config.queryTimeoutMs ?? QUERY_TIMEOUT_MS, 1);
    let dot = 0;
    let nx = 0;
    let ny = 0;
    for (let i = 0; i < x!.length; i++) {
      dot += x![i]! * y![i]!;
      nx += x![i]! ** 2;
      ny += y![i]! ** 2;
    }
    return nx === 0 || ny === 0 ? 0 : Math.round((dot / Math.sqrt(nx * ny)) * 1e6) / 1e6;
  }

  /** Embeds texts; the whole call, retries included, is cut off after `timeoutMs` per attempt. */
  private async embed(texts: string[], timeoutMs: number, maxRetries: number): Promise<number[][]> {
    // The client loads on first use: processes without vector search never pay for it.
    this.sdk ??= await import('openai');
    this.client ??= new this.sdk.default({ baseURL: this.config.url, apiKey: this.config.apiKey ?? 'none' });
    const budget = timeoutMs * (maxRetries + 1);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), budget);
    let body: unknown;
    try {
      // Asked for explicitly, the encoding comes back undecoded, so both answers can be read.
      body = await this.client.embeddings.create({ model: this.config.model, input: texts, encoding_format: 'base64' }, { signal: abort.signal, timeout: timeoutMs, maxRetries });
    } catch (err) {
      const sdk = this.sdk;
      if (abort.signal.aborted || err instanceof sdk.APIConnectionTimeoutError) throw new EmbeddingsFailure('timeout', `the embeddings endpoint did not answer within ${budget} ms`);
      if (err instanceof sdk.APIConnectionError) throw new EmbeddingsFailure('unreachable', `the embeddings endpoint could not be reached: ${err.message}`);
      if (err instanceof sdk.APIError && err.status !== undefined) throw new EmbeddingsFailure('http_status', `the embeddings endpoint answered HTTP ${err.status}`);
      throw new EmbeddingsFailure('malformed', `the embeddings endpoint sent a malformed answer: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const parsed = EmbeddingsResponse.safeParse(body);
    if (!parsed.success) throw new EmbeddingsFailure('malformed', 'the embeddings endpoint sent a malformed answer: no list of embeddings in data');
    const vectors = parsed.data.data.sort((a, b) => a.index - b.index).map((d) => decodeVector(d.embedding));
    if (vectors.length !== texts.length || vectors.some((v) => v.length !== this.config.dimensions)) {
      throw new EmbeddingsFailure('malformed', `the embeddings endpoint sent a malformed answer: ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions; expected ${texts.length} of ${this.config.dimensions}`);
    }
    return vectors;
  }

  /** Embeds every chunk that has no embedding yet; returns how many it embedded. */
  async embedPending(): Promise<number> {
    if (!(await this.enable())) return 0;
    let done = 0;
    while (!this.closed) {
      const { rows } = await this.db.query<{ id: number; text: string }>(
        'select c.id, c.text from chunks c where not exists (select 1 from chunk_embeddings e where e.chunk_id = c.id) order by c.id limit $1',
        [BATCH],
      );
      if (rows.length === 0) break;
      const vectors = await this.embed(rows.map((r) => r.text), BATCH_TIMEOUT_MS, 1);
      await this.db.query(
        `insert into chunk_embeddings (chunk_id, model, embedding)
         select x.id, $2, x.v::vector from jsonb_to_recordset($1::jsonb) as x(id bigint, v text)
         where exists (select 1 from chunks c where c.id = x.id) on conflict (chunk_id) do nothing`,
        [JSON.stringify(rows.map((r, i) => ({ id: r.id, v: JSON.stringify(vectors[i]) }))), this.config.model],
      );
      done += rows.length;
    }
    return done;
  }

  /**
   * Embeds pending chunks in the background, one pass at a time. A failed pass is retried after the backoff;
   * chunks written meanwhile wait for that retry rather than calling a failing endpoint again.
   */
  schedule(): void {
    if (this.closed || this.retry) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.embedPending()
      .then(
        () => {
          this.delay = this.retryMs.first;
        },
        (err: unknown) => {
          this.onError(err);
          this.armRetry();
        },
      )
      .finally(() => {
        this.pass = null;
        const again = this.again;
        this.again = false;
        if (again) this.schedule();
      });
  }

  private armRetry(): void {
    if (this.closed) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.retryMs.max);
    this.retry = setTimeout(() => {
      this.retry = null;
      this.schedule();
    }, wait);
    this.retry.unref();
  }

  /** Chunks not embedded yet, of one source or of all; null when vector search is off. */
  async pending(sourceId?: string): Promise<number | null> {
    if (!(await this.enable())) return null;
    const missing = 'not exists (select 1 from chunk_embeddings e where e.chunk_id = c.id)';
    const { rows } = sourceId
      ? await this.db.query<{ n: number }>(`select count(*)::int as n from chunks c where c.source_id = $1 and ${missing}`, [sourceId])
      : await this.db.query<{ n: number }>(`select count(*)::int as n from chunks c where ${missing}`);
    return rows[0]!.n;
  }

  /** Stops retrying and waits for the running pass, which ends after its current batch. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.pass;
  }

  /** Chunk ids nearest to the query (cosine), among those the filter allows, near-duplicates collapsed. */
  async search(query: string, k: number, filter: SearchFilter): Promise<{ id: number; score: number }[]> {
    const [vector] = await this.embed([query], this.config.queryTimeoutMs ?? QUERY_TIMEOUT_MS, 0);
    const { rows } = await this.db.query<{ id: number; score: number }>(
      `with scored as (
         select c.id, c.text_hash, 1 - (e.embedding <=> $1::vector) as score
         from chunk_embeddings e join chunks c on c.id = e.chunk_id
         where c.allowed && $3::text[]
           and ($4::text[] is null or c.source_id = any($4::text[]))
           and ($5::jsonb is null or c.metadata @> $5::jsonb)
       ), best as (
         select distinct on (text_hash) id, score from scored order by text_hash, score desc, id
       )
       select id, score from best order by score desc, id limit $2`,
      [JSON.stringify(vector), k, filter.principals, filter.sourceIds ?? null, filter.metadata ? JSON.stringify(filter.metadata) : null],
    );
    return rows.map((r) => ({ id: Number(r.id), score: Number(r.score) }));
  }
}

/**
 * Reciprocal rank fusion: each list gives 1 / (c + rank) to its items; the sums rank the union.
 *
 * @example
 * fuse([[3, 1], [1, 2]]) // [1, 3, 2]
 */
export function fuse(lists: number[][], c = 60): { id: number; score: number }[] {
  const scores = new Map<number, number>();
  for (const list of lists) list.forEach((id, rank) => scores.set(id, (scores.get(id) ?? 0) + 1 / (c + rank + 1)));
  return [...scores.entries()].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || a.id - b.id);
}

import type OpenAI from 'openai';
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
}

const BATCH = 128;

/**
 * Vector search over chunk embeddings with pgvector, when an embedding provider is configured and the
 * extension exists (always on the embedded database; on PostgreSQL when installed). The access filter is in
 * the query, before the cut, as for lexical search.
 *
 * @example
 * const vectors = new VectorIndex(db, { url: 'http://127.0.0.1:11434/v1', model: 'nomic-embed-text', dimensions: 768 });
 * if (await vectors.enable()) await vectors.embedPending();
 */
export class VectorIndex {
  private client: OpenAI | null = null;
  private enabled: boolean | null = null;
  private reason = '';

  constructor(
    private readonly db: Database,
    private readonly config: EmbeddingsConfig,
  ) {}

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

  private async embed(texts: string[]): Promise<number[][]> {
    // The client loads on first use: processes without vector search never pay for it.
    this.client ??= new (await import('openai')).default({ baseURL: this.config.url, apiKey: this.config.apiKey ?? 'none', maxRetries: 1, timeout: 60_000 });
    let response;
    try {
      response = await this.client.embeddings.create({ model: this.config.model, input: texts });
    } catch (err) {
      throw new TarmacError('source_unavailable', `the embeddings endpoint failed: ${(err as Error).message}`);
    }
    const vectors = response.data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
    if (vectors.length !== texts.length || vectors.some((v) => v.length !== this.config.dimensions)) {
      throw new TarmacError('source_unavailable', `the embeddings endpoint returned ${vectors.length} vectors of ${vectors[0]?.length ?? 0} dimensions; expected ${texts.length} of ${this.config.dimensions}`);
    }
    return vectors;
  }

  /** Embeds every chunk that has no embedding yet; returns how many it embedded. */
  async embedPending(): Promise<number> {
    if (!(await this.enable())) return 0;
    let done = 0;
    for (;;) {
      const { rows } = await this.db.query<{ id: number; text: string }>(
        'select c.id, c.text from chunks c where not exists (select 1 from chunk_embeddings e where e.chunk_id = c.id) order by c.id limit $1',
        [BATCH],
      );
      if (rows.length === 0) return done;
      const vectors = await this.embed(rows.map((r) => r.text));
      await this.db.query(
        `insert into chunk_embeddings (chunk_id, model, embedding)
         select x.id, $2, x.v::vector from jsonb_to_recordset($1::jsonb) as x(id bigint, v text)
         where exists (select 1 from chunks c where c.id = x.id) on conflict (chunk_id) do nothing`,
        [JSON.stringify(rows.map((r, i) => ({ id: r.id, v: JSON.stringify(vectors[i]) }))), this.config.model],
      );
      done += rows.length;
    }
  }

  /** Chunk ids nearest to the query (cosine), among those the filter allows, near-duplicates collapsed. */
  async search(query: string, k: number, filter: SearchFilter): Promise<{ id: number; score: number }[]> {
    const [vector] = await this.embed([query]);
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

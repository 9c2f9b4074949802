import type { Queryable } from '../db/index.js';

/** One ranked chunk with its document and source. */
export interface HitRow {
  id: number;
  source_id: string;
  source_name: string;
  classification: string;
  doc_id: string;
  doc_version: number;
  title: string;
  text: string;
  section_path: string[];
  start_offset: number;
  end_offset: number;
  token_count: number;
  metadata: Record<string, unknown>;
  indexed_at: Date;
  last_success_at: Date | null;
  freshness_sla_seconds: number | null;
  text_hash: string;
  score: number;
}

export interface SearchFilter {
  /** Principals of the caller; a chunk is visible when its access list shares one. */
  principals: string[];
  sourceIds?: string[] | undefined;
  /** Chunks whose metadata contains this JSON object. */
  metadata?: Record<string, unknown> | undefined;
}

/** The columns of a hit: the chunk `c`, its document `d` and its source `s`. */
export const HIT_COLUMNS = `c.id, c.source_id, s.name as source_name, s.classification, c.doc_id, c.doc_version, d.title, c.text, c.section_path,
  c.start_offset, c.end_offset, c.token_count, c.metadata, d.indexed_at, s.last_success_at, s.freshness_sla_seconds, c.text_hash`;

/** Chunks by id, with their document and source (vector search and fusion read hits through this). */
export async function hitsById(q: Queryable, ids: number[]): Promise<HitRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await q.query<HitRow>(
    `select ${HIT_COLUMNS}, 0::float8 as score from chunks c
     join documents d on d.source_id = c.source_id and d.doc_id = c.doc_id
     join sources s on s.id = c.source_id where c.id = any($1::bigint[])`,
    [ids],
  );
  return rows;
}

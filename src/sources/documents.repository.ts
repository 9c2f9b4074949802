import { LOCK_KEYS, type Queryable } from '../db/index.js';
import type { Chunk } from './chunk.js';

/** A document ready to be written: parsed and chunked, or failed with its reason. */
export interface PreparedDocument {
  docId: string;
  contentHash: string;
  title: string;
  metadata: Record<string, unknown>;
  allowed: string[];
  sourceUpdatedAt: Date | null;
  status: 'indexed' | 'failed' | 'quarantined';
  error: string | null;
  chunks: Chunk[];
}

export interface DocumentRow {
  source_id: string;
  doc_id: string;
  version: number;
  content_hash: string;
  title: string;
  metadata: Record<string, unknown>;
  allowed: string[];
  status: 'indexed' | 'failed' | 'quarantined';
  error: string | null;
  source_updated_at: Date | null;
  indexed_at: Date;
}

const INDEX_LOCK_KEY = LOCK_KEYS.searchIndex;

/** The content hashes of these documents, by id (absent when new). */
export async function documentHashes(q: Queryable, sourceId: string, docIds: string[]): Promise<Map<string, string>> {
  const { rows } = await q.query<{ doc_id: string; content_hash: string }>(
    'select doc_id, content_hash from documents where source_id = $1 and doc_id = any($2::text[])',
    [sourceId, docIds],
  );
  return new Map(rows.map((r) => [r.doc_id, r.content_hash]));
}

/** Removes the chunks of these documents and takes them out of the term statistics. */
async function removeChunks(q: Queryable, sourceId: string, docIds: string[]): Promise<void> {
  await q.query(
    `with gone as (delete from chunks where source_id = $1 and doc_id = any($2::text[]) returning tsv, tsv_length),
     terms as (select u.lexeme, count(*)::int as n from gone, unnest(gone.tsv) u group by u.lexeme),
     dec as (update term_stats t set df = t.df - terms.n from terms where t.lexeme = terms.lexeme returning 1),
     totals as (select count(*)::bigint as c, coalesce(sum(tsv_length), 0)::bigint as l from gone)
     update corpus_stats set chunks = chunks - totals.c, total_length = total_length - totals.l from totals, (select count(*) from dec) d where id = 1`,
    [sourceId, docIds],
  );
}

const CHUNK_BATCH_CHARS = 8192;

/**
 * Writes prepared documents in one transaction: each document's old chunks go in the same transaction that
 * adds its new ones, so readers see either the old version or the new one, never neither.
 */
export async function writeDocuments(tx: Queryable, sourceId: string, runId: string | null, docs: PreparedDocument[]): Promise<void> {
  if (docs.length === 0) return;
  await tx.query('select pg_advisory_xact_lock($1)', [INDEX_LOCK_KEY]);
  const ids = docs.map((d) => d.docId);
  await removeChunks(tx, sourceId, ids);
  await tx.query(
    `insert into documents (source_id, doc_id, version, content_hash, title, metadata, allowed, status, error, source_updated_at, indexed_at, seen_run)
     select $1, x.doc_id, 1, x.content_hash, x.title, x.metadata, x.allowed, x.status, x.error, x.source_updated_at, now(), $3
     from jsonb_to_recordset($2::jsonb) as x(doc_id text, content_hash text, title text, metadata jsonb, allowed text[], status text, error text, source_updated_at timestamptz)
     on conflict (source_id, doc_id) do update set
       version = documents.version + 1, content_hash = excluded.content_hash, title = excluded.title, metadata = excluded.metadata,
       allowed = excluded.allowed, status = excluded.status, error = excluded.error, source_updated_at = excluded.source_updated_at,
       indexed_at = now(), seen_run = excluded.seen_run`,
    [
      sourceId,
      JSON.stringify(
        docs.map((d) => ({
          doc_id: d.docId,
          content_hash: d.contentHash,
          title: d.title,
          metadata: d.metadata,
          allowed: d.allowed,
          status: d.status,
          error: d.error,
          source_updated_at: d.sourceUpdatedAt?.toISOString() ?? null,
        })),
      ),
      runId,
    ],
  );
  const chunks = docs.flatMap((d) =>
    d.status !== 'indexed'
      ? []
      : d.chunks.map((c) => ({
          doc_id: d.docId,
          ordinal: c.ordinal,
          text: c.text,
          title: d.title,
          section_path: c.sectionPath,
          start_offset: c.start,
          end_offset: c.end,
          token_count: c.tokenCount,
          allowed: d.allowed,
          metadata: d.metadata,
        })),
  );
  // In batches of about 8 KB of text, with a turn of the event loop between them: the embedded database
  // indexes on the main thread, and one statement for a whole large document would hold it for seconds.
  for (let i = 0; i < chunks.length; ) {
    let size = 0;
    let j = i;
    while (j < chunks.length && (j === i || size + chunks[j]!.text.length <= CHUNK_BATCH_CHARS)) size += chunks[j++]!.text.length;
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    await tx.query(
      `with x as (
         select x.*, setweight(to_tsvector('english', x.title), 'A') || to_tsvector('english', x.text) as tsv
         from jsonb_to_recordset($2::jsonb) as x(doc_id text, ordinal int, text text, title text, section_path text[], start_offset int, end_offset int, token_count int, allowed text[], metadata jsonb)
       ), ins as (
         insert into chunks (source_id, doc_id, doc_version, ordinal, text, section_path, start_offset, end_offset, token_count, allowed, metadata, text_hash, tsv, tsv_length)
         select $1, x.doc_id, d.version, x.ordinal, x.text, x.section_path, x.start_offset, x.end_offset, x.token_count, x.allowed, x.metadata,
                md5(trim(regexp_replace(lower(x.text), '[^[:alnum:]]+', ' ', 'g'))), x.tsv,
                coalesce((select sum(coalesce(array_length(u.positions, 1), 1)) from unnest(x.tsv) u), 0)
         from x join documents d on d.source_id = $1 and d.doc_id = x.doc_id
         returning tsv, tsv_length
       ), terms as (
         select u.lexeme, count(*)::int as n from ins, unnest(ins.tsv) u group by u.lexeme order by u.lexeme
       ), inc as (
         insert into term_stats (lexeme, df) select lexeme, n from terms
         on conflict (lexeme) do update set df = term_stats.df + excluded.df returning 1
       )
       update corpus_stats set chunks = chunks + t.c, total_length = total_length + t.l
       from (select count(*)::bigint as c, coalesce(sum(tsv_length), 0)::bigint as l from ins) t, (select count(*) from inc) i where id = 1`,
      [sourceId, JSON.stringify(chunks.slice(i, j))],
    );
    i = j;
  }
}

/** Marks documents as seen by a sync run without rewriting them (their content is unchanged). */
export async function markSeen(q: Queryable, sourceId: string, runId: string, docIds: string[]): Promise<void> {
  if (docIds.length === 0) return;
  await q.query('update documents set seen_run = $3 where source_id = $1 and doc_id = any($2::text[])', [sourceId, docIds, runId]);
}

/** Deletes documents with their chunks; returns how many existed. */
export async function deleteDocuments(tx: Queryable, sourceId: string, docIds: string[]): Promise<number> {
  if (docIds.length === 0) return 0;
  await tx.query('select pg_advisory_xact_lock($1)', [INDEX_LOCK_KEY]);
  await removeChunks(tx, sourceId, docIds);
  const { rowCount } = await tx.query('delete from documents where source_id = $1 and doc_id = any($2::text[])', [sourceId, docIds]);
  return rowCount;
}

/** Documents of a source that the given sync run did not see (deleted upstream). */
export async function unseenDocuments(q: Queryable, sourceId: string, runId: string): Promise<string[]> {
  const { rows } = await q.query<{ doc_id: string }>(
    'select doc_id from documents where source_id = $1 and seen_run is distinct from $2 order by doc_id',
    [sourceId, runId],
  );
  return rows.map((r) => r.doc_id);
}

export async function getDocument(q: Queryable, sourceId: string, docId: string): Promise<DocumentRow | null> {
  const { rows } = await q.query<DocumentRow>('select * from documents where source_id = $1 and doc_id = $2', [sourceId, docId]);
  return rows[0] ?? null;
}

/** Counts of a source's documents by status, and its chunks. */
export async function documentCounts(q: Queryable, sourceId: string): Promise<{ total: number; indexed: number; failed: number; quarantined: number; chunks: number }> {
  const { rows } = await q.query<{ total: number; indexed: number; failed: number; quarantined: number; chunks: number }>(
    `select count(*)::int as total,
            count(*) filter (where status = 'indexed')::int as indexed,
            count(*) filter (where status = 'failed')::int as failed,
            (select count(*)::int from quarantine where source_id = $1) as quarantined,
            (select count(*)::int from chunks where source_id = $1) as chunks
     from documents where source_id = $1`,
    [sourceId],
  );
  return rows[0]!;
}

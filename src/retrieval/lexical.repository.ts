import type { Queryable } from '../db/index.js';
import { HIT_COLUMNS, type HitRow, type SearchFilter } from './retrieval.repository.js';

// BM25 parameters (the usual defaults of Lucene and Anserini); postings_search (migration 0035) ranks with the same.
const K1 = 0.9;
const B = 0.4;

/** A query lexeme with its idf. */
interface QueryTerm {
  lexeme: string;
  idf: number;
}

/** The query's lexemes (English stemming, stop words removed) with their statistics, and the mean chunk length. */
async function queryTerms(q: Queryable, query: string): Promise<{ terms: QueryTerm[]; avgdl: number }> {
  const { rows } = await q.query<{ lexeme: string; idf: number; avgdl: number }>(
    `select u.lexeme, ln(1 + (cs.chunks - ts.df + 0.5) / (ts.df + 0.5)) as idf,
            greatest(cs.total_length::float8 / greatest(cs.chunks, 1), 1) as avgdl
     from (select distinct lexeme from unnest(to_tsvector('english', $1))) u
     join term_stats ts on ts.lexeme = u.lexeme and ts.df > 0
     cross join corpus_stats cs`,
    [query],
  );
  const terms = rows.map((r) => ({ lexeme: r.lexeme, idf: Number(r.idf) }));
  return { terms, avgdl: Number(rows[0]?.avgdl ?? 1) };
}

// Scores are rounded so that equal sums taken in another order tie, and ties fall back to the chunk id.
const ROUNDED = 'round(score * 1e9) / 1e9';

/**
 * The k best of `scored` (id, score) after the filters and the near-duplicate collapse, with their hit columns.
 * Without filters only the best `$cutAt` scored chunks are read (null: all); the caller widens when too few remain.
 */
const cutToK = (scored: string, filterAt: number, cutAt: number) => `
  cut as (
    select id, ${ROUNDED} as score from (${scored}) x order by 2 desc, id limit $${cutAt}
  ), ranked as (
    select c.id, c.text_hash, cut.score from cut join chunks c on c.id = cut.id
    where ($${filterAt}::text[] is null or c.source_id = any($${filterAt}::text[]))
      and ($${filterAt + 1}::jsonb is null or c.metadata @> $${filterAt + 1}::jsonb)
  ), best as (
    select distinct on (text_hash) id, score from ranked order by text_hash, score desc, id
  ), top as (
    select id, score from best order by score desc, id limit $2
  )
  select ${HIT_COLUMNS}, top.score
  from top join chunks c on c.id = top.id
  join documents d on d.source_id = c.source_id and d.doc_id = c.doc_id
  join sources s on s.id = c.source_id
  order by top.score desc, c.id`;

const filterParams = (filter: SearchFilter) => [filter.sourceIds ?? null, filter.metadata ? JSON.stringify(filter.metadata) : null];

/**
 * The reference ranking: BM25 over every chunk that holds a query term, read from the chunks' own lexemes
 * (a scan of the chunks, independent of the postings). Exact and slow; tests compare the postings to it.
 */
async function referenceSearch(q: Queryable, terms: QueryTerm[], avgdl: number, k: number, filter: SearchFilter): Promise<HitRow[]> {
  const { rows } = await q.query<HitRow>(
    `with terms as (
       select * from unnest($1::text[], $3::float8[]) as x(lexeme, idf)
     ), scored as (
       select c.id, sum(t.idf * (tf.n * ${K1 + 1}) / (tf.n + ${K1} * (1 - ${B} + ${B} * c.tsv_length / $4::float8))) as score
       from chunks c
       cross join lateral (select u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 as n from unnest(c.tsv) u) tf
       join terms t on t.lexeme = tf.lexeme
       where c.allowed && $5::text[]
       group by c.id
     ), ${cutToK('select id, score from scored', 6, 8)}`,
    [terms.map((t) => t.lexeme), k, terms.map((t) => t.idf), avgdl, filter.principals, ...filterParams(filter), null],
  );
  return rows;
}

/** Hits from their JSON form: timestamps back to dates, as the driver gives them for typed columns. */
function hitsFromJson(json: string | null): HitRow[] {
  if (json === null) return [];
  return (JSON.parse(json) as (Omit<HitRow, 'indexed_at' | 'last_success_at'> & { indexed_at: string; last_success_at: string | null })[]).map((h) => ({
    ...h,
    indexed_at: new Date(h.indexed_at),
    last_success_at: h.last_success_at === null ? null : new Date(h.last_success_at),
  }));
}

/**
 * BM25 from the postings the caller may see, in one call of `postings_search` (migration 0035): the query's
 * lexemes and their idf are read from the maintained statistics, the access groups the caller reads are
 * resolved, and only their postings of the query terms are read and summed per chunk. As a PL/pgSQL function its
 * plan is kept for the session instead of being made again on every search.
 */
async function postingsSearch(q: Queryable, query: string, k: number, filter: SearchFilter): Promise<HitRow[]> {
  const run = async (cut: number | null) => {
    // One JSON text for all hits: decoding eighteen typed columns per hit cost the embedded database's thread
    // about a third of the search, and one string crosses to the main thread cheaper than an object graph.
    const { rows } = await q.query<{ hits: string | null }>(
      'select json_agg(s order by s.score desc, s.id)::text as hits from postings_search($1, $2, $3, $4, $5, $6) s',
      [query, k, filter.principals, ...filterParams(filter), cut],
    );
    return hitsFromJson(rows[0]?.hits ?? null);
  };
  // Without filters, near-duplicates are the only reason to read past the best few: widen when they were too many.
  const filtered = filter.sourceIds !== undefined || filter.metadata !== undefined;
  const rows = await run(filtered ? null : 2 * k + 20);
  return !filtered && rows.length < k ? run(null) : rows;
}

/**
 * Lexical search ranked by BM25 over maintained term statistics. The access filter and the metadata filters
 * apply before the ranking is cut to `k`; near-duplicate chunks (same normalised text) are collapsed to the
 * best one before the cut as well.
 *
 * Search reads postings (one row per lexeme and chunk, keyed by lexeme and access group), and of them only
 * those of the access groups the caller may read: a caller who reads a tenth of the corpus reads a tenth of
 * the postings. `reference` ranks from the chunks themselves instead (exact as well; what tests compare to).
 *
 * @example
 * const hits = await lexicalSearch(db, 'hotel refund policy', 10, { principals: ['*', 'team:finance'] });
 */
export async function lexicalSearch(q: Queryable, query: string, k: number, filter: SearchFilter, reference = false): Promise<HitRow[]> {
  if (k <= 0) return [];
  if (!reference) return postingsSearch(q, query, k, filter);
  const { terms, avgdl } = await queryTerms(q, query);
  return terms.length === 0 ? [] : referenceSearch(q, terms, avgdl, k, filter);
}

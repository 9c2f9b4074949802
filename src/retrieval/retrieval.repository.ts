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

// BM25 parameters (the usual defaults of Lucene and Anserini).
const K1 = 0.9;
const B = 0.4;

const HIT_COLUMNS = `c.id, c.source_id, s.name as source_name, s.classification, c.doc_id, c.doc_version, d.title, c.text, c.section_path,
  c.start_offset, c.end_offset, c.token_count, c.metadata, d.indexed_at, s.last_success_at, s.freshness_sla_seconds, c.text_hash`;

interface QueryTerm {
  lexeme: string;
  df: number;
  idf: number;
}

/** The query's lexemes (English stemming, stop words removed) with their document frequency and idf. */
async function queryTerms(q: Queryable, query: string): Promise<QueryTerm[]> {
  const { rows } = await q.query<QueryTerm>(
    `select u.lexeme, ts.df, ln(1 + (cs.chunks - ts.df + 0.5) / (ts.df + 0.5)) as idf
     from (select distinct lexeme from unnest(to_tsvector('english', $1))) u
     join term_stats ts on ts.lexeme = u.lexeme and ts.df > 0
     cross join corpus_stats cs`,
    [query],
  );
  return rows.map((r) => ({ lexeme: r.lexeme, df: Number(r.df), idf: Number(r.idf) }));
}

/** BM25 over the chunks that contain one of `match` (and pass the filters), scored on every term. */
async function scoreCandidates(q: Queryable, terms: QueryTerm[], match: QueryTerm[], k: number, filter: SearchFilter): Promise<HitRow[]> {
  const { rows } = await q.query<HitRow>(
    `with terms as (
       select x.lexeme, x.idf from jsonb_to_recordset($1::jsonb) as x(lexeme text, idf float8)
     ), stats as (
       select greatest(total_length::float8 / greatest(chunks, 1), 1) as avgdl from corpus_stats
     ), cand as (
       select c.id, c.tf, c.tsv_length, c.text_hash from chunks c
       where c.tsv @@ $6::tsquery
         and c.allowed && $3::text[]
         and ($4::text[] is null or c.source_id = any($4::text[]))
         and ($5::jsonb is null or c.metadata @> $5::jsonb)
     ), scored as (
       select cand.id, cand.text_hash,
              sum(t.idf * (tf.n * ${K1 + 1}) / (tf.n + ${K1} * (1 - ${B} + ${B} * cand.tsv_length / stats.avgdl))) as score
       from cand cross join stats cross join terms t
       cross join lateral (select (cand.tf ->> t.lexeme)::float8 as n) tf
       where tf.n is not null
       group by cand.id, cand.text_hash
     ), best as (
       select distinct on (text_hash) id, score from scored order by text_hash, score desc, id
     ), top as (
       select id, score from best order by score desc, id limit $2
     )
     select ${HIT_COLUMNS}, top.score
     from top join chunks c on c.id = top.id
     join documents d on d.source_id = c.source_id and d.doc_id = c.doc_id
     join sources s on s.id = c.source_id
     order by top.score desc, c.id`,
    [
      JSON.stringify(terms.map((t) => ({ lexeme: t.lexeme, idf: t.idf }))),
      k,
      filter.principals,
      filter.sourceIds ?? null,
      filter.metadata ? JSON.stringify(filter.metadata) : null,
      match.map((t) => `'${t.lexeme.replace(/'/g, "''")}'`).join(' | '),
    ],
  );
  return rows;
}

/** Below this many postings, scoring every candidate is cheap enough. */
export const PRUNE_ABOVE_POSTINGS = 4000;

/**
 * Lexical search ranked by BM25 over maintained term statistics. The access filter and the metadata filters
 * sit in the candidate set, before the ranking is cut to `k`; near-duplicate chunks (same normalised text)
 * are collapsed to the best one before the cut as well.
 *
 * Long queries with common terms are pruned exactly (MaxScore): a first pass over the chunks holding the
 * rarest terms gives the k-th best score; the commonest terms whose largest possible contributions sum below
 * it cannot lift a chunk into the top k on their own, so only chunks holding another term are scored.
 */
export async function lexicalSearch(q: Queryable, query: string, k: number, filter: SearchFilter, pruneAbove = PRUNE_ABOVE_POSTINGS): Promise<HitRow[]> {
  const terms = await queryTerms(q, query);
  if (terms.length === 0) return [];
  const postings = terms.reduce((sum, t) => sum + t.df, 0);
  if (postings <= pruneAbove || terms.length === 1) return scoreCandidates(q, terms, terms, k, filter);
  const byRarity = [...terms].sort((a, b) => a.df - b.df || a.lexeme.localeCompare(b.lexeme));
  const rare: QueryTerm[] = [];
  let budget = 0;
  for (const t of byRarity) {
    if (rare.length > 0 && budget + t.df > pruneAbove) break;
    rare.push(t);
    budget += t.df;
  }
  const first = await scoreCandidates(q, terms, rare, k, filter);
  if (first.length < k) return scoreCandidates(q, terms, terms, k, filter);
  const threshold = Number(first[first.length - 1]!.score);
  // Each term adds at most idf × (k1 + 1); drop the commonest while their bounds sum stays below the threshold.
  const essential = [...byRarity];
  let bound = 0;
  while (essential.length > 1) {
    const common = essential[essential.length - 1]!;
    if (bound + common.idf * (K1 + 1) >= threshold) break;
    bound += common.idf * (K1 + 1);
    essential.pop();
  }
  return scoreCandidates(q, terms, essential, k, filter);
}

/** The principals a user holds: `*`, the user by id and email, and each team by id and name. */
export async function principalsOfUser(q: Queryable, userId: string): Promise<{ email: string; principals: string[] } | null> {
  const { rows } = await q.query<{ email: string; team_id: string | null; team_name: string | null }>(
    `select u.email, t.id as team_id, t.name as team_name from users u
     left join team_members m on m.user_id = u.id left join teams t on t.id = m.team_id
     where u.id = $1 or u.email = lower($1)`,
    [userId],
  );
  const first = rows[0];
  if (!first) return null;
  const { rows: ids } = await q.query<{ id: string }>('select id from users where email = $1', [first.email]);
  const set = new Set(['*', `user:${first.email}`, `user:${ids[0]?.id.toLowerCase() ?? ''}`]);
  for (const r of rows) if (r.team_id && r.team_name) set.add(`team:${r.team_id.toLowerCase()}`).add(`team:${r.team_name}`);
  return { email: first.email, principals: [...set].sort() };
}

/** The principals of a team key: `*` and the team by id and name. */
export async function principalsOfTeam(q: Queryable, teamId: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>('select name from teams where id = $1', [teamId]);
  return ['*', `team:${teamId.toLowerCase()}`, ...(rows[0] ? [`team:${rows[0].name}`] : [])].sort();
}

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

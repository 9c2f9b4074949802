-- Lexical search over postings as a function: PL/pgSQL keeps the statement's plan for the session, so a search
-- is not planned again on every call (planning was about half of a search's time on the embedded database).
-- BM25 with k1 = 0.9 and b = 0.4, as src/retrieval/lexical.repository.ts ranks the reference it is tested against.
-- query: the text to search; k: results; principals: the caller's; source_ids, meta: optional filters;
-- cut: without filters, how many of the best scored chunks to read before collapsing near-duplicates (null: all).
create function postings_search(query text, k integer, principals text[], source_ids text[], meta jsonb, cut integer)
returns table (
  id bigint, source_id text, source_name text, classification text, doc_id text, doc_version integer, title text,
  text text, section_path text[], start_offset integer, end_offset integer, token_count integer, metadata jsonb,
  indexed_at timestamptz, last_success_at timestamptz, freshness_sla_seconds integer, text_hash text, score float8
) language plpgsql stable as $$
#variable_conflict use_column
begin
  return query
  with terms as materialized (
    -- idf × (k1 + 1), from the maintained statistics
    select u.lexeme, ln(1 + ((select chunks from corpus_stats) - ts.df + 0.5::float8) / (ts.df + 0.5::float8)) * 1.9 as w
    from (select distinct lexeme from unnest(to_tsvector('english', query))) u
    join term_stats ts on ts.lexeme = u.lexeme and ts.df > 0
  ), scored as (
    -- k1 × (1 - b) = 0.54; k1 × b over the mean chunk length, a scalar evaluated once
    select p.chunk_id as id, sum(t.w * p.tf / (p.tf + 0.54::float8
      + p.len * (select 0.36::float8 / greatest(total_length::float8 / greatest(chunks, 1), 1) from corpus_stats))) as score
    from terms t join postings p on p.lexeme = t.lexeme
      and p.acl_group = any(array(select g.id from acl_groups g where g.allowed && principals))
    group by p.chunk_id
  ), cut_ as (
    -- rounded so that equal sums taken in another order tie; ties fall back to the chunk id
    select x.id, round(x.score * 1e9) / 1e9 as score from scored x order by 2 desc, 1 limit cut
  ), ranked as (
    select c.id, c.text_hash, cut_.score from cut_ join chunks c on c.id = cut_.id
    where (source_ids is null or c.source_id = any(source_ids))
      and (meta is null or c.metadata @> meta)
  ), best as (
    select distinct on (r.text_hash) r.id, r.score from ranked r order by r.text_hash, r.score desc, r.id
  ), top as (
    select b.id, b.score from best b order by b.score desc, b.id limit k
  )
  select c.id, c.source_id, s.name, s.classification, c.doc_id, c.doc_version, d.title, c.text, c.section_path,
    c.start_offset, c.end_offset, c.token_count, c.metadata, d.indexed_at, s.last_success_at, s.freshness_sla_seconds,
    c.text_hash, top.score::float8
  from top join chunks c on c.id = top.id
  join documents d on d.source_id = c.source_id and d.doc_id = c.doc_id
  join sources s on s.id = c.source_id
  order by top.score desc, c.id;
end
$$;

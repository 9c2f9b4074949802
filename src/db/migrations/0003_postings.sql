-- Lexical search reads postings instead of scoring every chunk that shares a term with the query.
-- A posting is one lexeme of one chunk, with what BM25 needs (term frequency, chunk length) and the chunk's
-- access group, so that a search reads only the postings its caller may see.

-- Postings replace the full-text index and the stored term frequencies of the chunks (the tsvector stays).
drop index chunks_tsv;
alter table chunks drop column tf;

-- Each distinct access list once; chunks point to theirs through postings.acl_group.
create table acl_groups (
  id serial primary key,
  allowed text[] not null unique
);
create index acl_groups_allowed on acl_groups using gin (allowed);

create table postings (
  lexeme text not null,
  acl_group integer not null,
  chunk_id bigint not null,
  tf integer not null,
  len integer not null,
  primary key (lexeme, acl_group, chunk_id)
);

-- Postings follow chunks like an index: written and removed by the statements that write and remove chunks.
create function postings_insert() returns trigger language plpgsql as $$
begin
  insert into acl_groups (allowed) select distinct allowed from new_chunks on conflict (allowed) do nothing;
  insert into postings (lexeme, acl_group, chunk_id, tf, len)
  select u.lexeme, g.id, n.id, coalesce(array_length(u.positions, 1), 1), n.tsv_length
  from new_chunks n join acl_groups g on g.allowed = n.allowed, unnest(n.tsv) u
  -- In key order, so that a lexeme's postings of one write sit together on disk.
  order by u.lexeme, g.id, n.id;
  return null;
end $$;

create function postings_delete() returns trigger language plpgsql as $$
begin
  delete from postings p using (
    select u.lexeme, g.id as acl_group, o.id as chunk_id
    from old_chunks o join acl_groups g on g.allowed = o.allowed, unnest(o.tsv) u
  ) x
  where p.lexeme = x.lexeme and p.acl_group = x.acl_group and p.chunk_id = x.chunk_id;
  return null;
end $$;

create trigger chunks_postings_insert after insert on chunks referencing new table as new_chunks
  for each statement execute function postings_insert();
create trigger chunks_postings_delete after delete on chunks referencing old table as old_chunks
  for each statement execute function postings_delete();

insert into acl_groups (allowed) select distinct allowed from chunks on conflict (allowed) do nothing;
insert into postings (lexeme, acl_group, chunk_id, tf, len)
select u.lexeme, g.id, c.id, coalesce(array_length(u.positions, 1), 1), c.tsv_length
from chunks c join acl_groups g on g.allowed = c.allowed, unnest(c.tsv) u
order by u.lexeme, g.id, c.id;

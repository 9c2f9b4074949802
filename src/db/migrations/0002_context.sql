-- Context orchestration: sources, their documents and chunks, records with field provenance, quarantine,
-- sync runs, and the term statistics that lexical ranking (BM25) reads.

create table sources (
  id text primary key,
  name text not null unique,
  team_id text not null references teams (id),
  connector text not null,
  config jsonb not null,
  description text not null default '',
  classification text not null check (classification in ('public', 'internal', 'confidential', 'restricted')),
  freshness_sla_seconds integer,
  precedence integer not null default 0,
  field_rules jsonb not null default '[]',
  acl jsonb not null default '{}',
  schedule text,
  last_sync_at timestamptz,
  last_success_at timestamptz,
  last_status text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- One row per document of a source; `version` grows each time the content hash changes.
create table documents (
  source_id text not null references sources (id) on delete cascade,
  doc_id text not null,
  version integer not null,
  content_hash text not null,
  title text not null default '',
  metadata jsonb not null default '{}',
  allowed text[] not null,
  status text not null check (status in ('indexed', 'failed', 'quarantined')),
  error text,
  source_updated_at timestamptz,
  indexed_at timestamptz not null default now(),
  -- The sync run that last saw this document in a listing; the listing diff deletes the others.
  seen_run text,
  primary key (source_id, doc_id)
);

create table chunks (
  id bigserial primary key,
  source_id text not null,
  doc_id text not null,
  doc_version integer not null,
  ordinal integer not null,
  text text not null,
  section_path text[] not null default '{}',
  start_offset integer not null,
  end_offset integer not null,
  token_count integer not null,
  -- Denormalised from the document so that the access filter runs inside the ranking query.
  allowed text[] not null,
  metadata jsonb not null default '{}',
  text_hash text not null,
  tsv tsvector not null,
  tsv_length integer not null,
  -- Lexeme → occurrences in this chunk: BM25 reads term frequencies here without unnesting tsv.
  tf jsonb not null,
  foreign key (source_id, doc_id) references documents (source_id, doc_id) on delete cascade
);
create index chunks_doc on chunks (source_id, doc_id);
create index chunks_tsv on chunks using gin (tsv);
create index chunks_allowed on chunks using gin (allowed);

-- Document frequency of each lexeme over all chunks, and the corpus totals: what BM25 needs.
create table term_stats (
  lexeme text primary key,
  df integer not null
);
create table corpus_stats (
  id integer primary key check (id = 1),
  chunks bigint not null,
  total_length bigint not null
);
insert into corpus_stats (id, chunks, total_length) values (1, 0, 0);

-- Record sources: one row per record key; `fields` after field rules.
create table records (
  source_id text not null references sources (id) on delete cascade,
  record_key text not null,
  fields jsonb not null,
  content_hash text not null,
  updated_at timestamptz not null default now(),
  primary key (source_id, record_key)
);
create index records_key on records (record_key);

-- Documents and records that broke a rule: kept with the reason, never indexed.
create table quarantine (
  source_id text not null references sources (id) on delete cascade,
  item_id text not null,
  reason text not null,
  payload jsonb,
  at timestamptz not null default now(),
  primary key (source_id, item_id)
);

create table sync_runs (
  id text primary key,
  source_id text not null references sources (id) on delete cascade,
  trigger text not null,
  status text not null check (status in ('running', 'succeeded', 'failed')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  heartbeat_at timestamptz not null default now(),
  -- host:pid of the process running the sync, so a restart on that host can tell it died.
  owner text not null default '',
  seen integer not null default 0,
  added integer not null default 0,
  updated integer not null default 0,
  unchanged integer not null default 0,
  deleted integer not null default 0,
  failed integer not null default 0,
  quarantined integer not null default 0,
  cursor text,
  error text
);
create index sync_runs_source on sync_runs (source_id, started_at desc);

-- Where the next incremental sync of a source starts (updated-since value of http and postgres sources).
create table source_cursors (
  source_id text primary key references sources (id) on delete cascade,
  cursor text not null,
  updated_at timestamptz not null default now()
);

-- Prompt registry: named prompts owned by a team, immutable versions, and labels that point at versions.

create table prompts (
  id text primary key,
  name text not null unique,
  team_id text not null references teams (id),
  description text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index prompts_team on prompts (team_id);

create table prompt_versions (
  prompt_id text not null references prompts (id),
  version integer not null check (version >= 1),
  messages jsonb not null,
  variables jsonb not null,
  model jsonb not null,
  content_hash text not null,
  note text not null default '',
  created_by text,
  created_at timestamptz not null default now(),
  primary key (prompt_id, version)
);

create table prompt_labels (
  prompt_id text not null references prompts (id),
  label text not null,
  version integer not null,
  updated_by text,
  updated_at timestamptz not null default now(),
  primary key (prompt_id, label),
  foreign key (prompt_id, version) references prompt_versions (prompt_id, version)
);

-- A version, once written, never changes: runs and evals refer to it by number.
create function prompt_version_immutable() returns trigger language plpgsql as $$
begin
  raise exception 'prompt versions are immutable: % is not allowed', tg_op using errcode = 'insufficient_privilege';
end;
$$;
create trigger prompt_versions_immutable before update or delete on prompt_versions
  for each row execute function prompt_version_immutable();

-- Evaluation: datasets with immutable versions, eval runs and their trials.
create table eval_datasets (
  id text primary key,
  team_id text not null references teams (id),
  name text not null unique,
  description text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- A version's cases are stored whole: a version never changes once written.
create table eval_dataset_versions (
  dataset_id text not null references eval_datasets (id) on delete cascade,
  version integer not null,
  cases jsonb not null,
  case_count integer not null,
  note text not null default '',
  created_by text,
  created_at timestamptz not null default now(),
  primary key (dataset_id, version)
);

create table eval_runs (
  id text primary key,
  team_id text not null,
  use_case_id text not null,
  dataset_id text not null references eval_datasets (id),
  dataset_version integer not null,
  config jsonb not null,
  trials integer not null,
  concurrency integer not null,
  status text not null check (status in ('queued', 'running', 'cancelling', 'cancelled', 'completed', 'failed')),
  total integer not null,
  key_id text,
  user_id text,
  summary jsonb,
  error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index eval_runs_use_case on eval_runs (use_case_id, created_at desc);

-- One row per case and trial: the key makes a resumed run skip what it already did, never count it twice.
create table eval_trials (
  eval_run_id text not null references eval_runs (id) on delete cascade,
  case_id text not null,
  trial integer not null,
  status text not null check (status in ('ok', 'error')),
  result jsonb not null,
  created_at timestamptz not null default now(),
  primary key (eval_run_id, case_id, trial)
);

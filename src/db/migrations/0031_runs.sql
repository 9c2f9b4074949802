-- Governed runs: one invocation of a use case, with what it saw (context manifest), what it answered, how
-- sure it was (groundedness), the decision, and later its outcome and feedback.

create table runs (
  id text primary key,
  use_case_id text not null references use_cases (id),
  team_id text not null,
  user_id text,
  key_id text,
  request_id text,
  input text not null,
  variables jsonb not null default '{}',
  status text not null check (status in ('completed', 'failed')),
  decision text check (decision in ('delivered', 'flagged', 'held_for_review', 'blocked')),
  reasons jsonb not null default '[]',
  answer text,
  released boolean not null default false,
  citations jsonb not null default '[]',
  groundedness jsonb,
  manifest jsonb,
  spans jsonb not null default '[]',
  prompt text,
  prompt_version integer,
  route text,
  model text,
  gateway_run_id text,
  cost_usd double precision not null default 0,
  tokens_in integer not null default 0,
  tokens_out integer not null default 0,
  latency_ms integer not null default 0,
  error text,
  created_at timestamptz not null default now()
);
create index runs_use_case on runs (use_case_id, created_at desc);
create index runs_user on runs (user_id, created_at desc);
create index runs_decision on runs (decision, created_at desc);

create table run_feedback (
  id bigserial primary key,
  run_id text not null references runs (id),
  user_id text,
  rating integer check (rating between 1 and 5),
  comment text,
  correction text,
  created_at timestamptz not null default now()
);
create index run_feedback_run on run_feedback (run_id);

create table run_outcomes (
  run_id text primary key references runs (id),
  outcome text not null check (outcome in ('accepted', 'edited', 'overridden', 'abandoned')),
  time_spent_seconds integer,
  recorded_by text,
  created_at timestamptz not null default now()
);

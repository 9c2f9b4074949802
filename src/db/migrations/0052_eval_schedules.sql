-- Scheduled evals: a use case's schedule, what started each eval run, and the alerts drift raises.
alter table use_cases add column eval_schedule jsonb;
alter table eval_runs add column trigger text not null default 'manual' check (trigger in ('manual', 'schedule'));
create index eval_runs_scheduled on eval_runs (use_case_id, trigger, finished_at desc);

create table eval_alerts (
  id text primary key,
  kind text not null check (kind in ('eval_drift', 'online_drift')),
  team_id text not null,
  use_case_id text not null,
  eval_run_id text,
  metric text not null,
  detail jsonb not null,
  created_at timestamptz not null default now()
);
create index eval_alerts_use_case on eval_alerts (use_case_id, created_at desc);

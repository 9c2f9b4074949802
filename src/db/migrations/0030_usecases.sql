-- Use cases: the unit that moves from pilot to production, with one accountable owner, a stage, a risk tier
-- and posture, its context recipe, prompt and model route, rollout cohort, KPIs and kill criteria.

create table use_cases (
  id text primary key,
  name text not null unique,
  team_id text not null references teams (id),
  owner_user_id text not null references users (id),
  description text not null default '',
  stage text not null check (stage in ('pilot', 'limited', 'production', 'paused', 'retired')),
  -- the stage a paused use case returns to when resumed
  resume_stage text check (resume_stage in ('pilot', 'limited', 'production')),
  risk_tier text not null check (risk_tier in ('low', 'medium', 'high', 'critical')),
  posture jsonb not null,
  context jsonb not null,
  prompt text not null,
  prompt_label text not null,
  route text not null,
  cohort jsonb not null,
  kpis jsonb not null,
  kill_criteria jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index use_cases_team on use_cases (team_id);

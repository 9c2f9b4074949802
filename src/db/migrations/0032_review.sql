-- Review queue: runs held for review (and a sample of delivered runs) wait for a person, with a due time,
-- an escalation path and a timeout action taken from the use case's risk posture when the task was opened.

create table review_tasks (
  id text primary key,
  run_id text not null unique,
  use_case_id text not null,
  team_id text not null,
  kind text not null check (kind in ('hold', 'sample')),
  status text not null check (status in ('open', 'approved', 'edited', 'rejected', 'timed_out')),
  assignee_user_id text,
  due_at timestamptz not null,
  escalation jsonb not null,
  escalation_level integer not null default 0,
  timeout_action text not null check (timeout_action in ('block', 'deliver')),
  decided_by text,
  decided_at timestamptz,
  reason text,
  edited_answer text,
  created_at timestamptz not null default now()
);
create index review_tasks_open on review_tasks (status, due_at);
create index review_tasks_team on review_tasks (team_id, status);

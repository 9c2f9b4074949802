-- Foundation: installation, identity, policies and the hash-chained audit log.

create table installation (
  id integer primary key check (id = 1),
  installed_at timestamptz not null default now(),
  admin_user_id text not null,
  audit_public_key text
);

create table teams (
  id text primary key,
  name text not null unique,
  description text not null default '',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table users (
  id text primary key,
  email text not null unique,
  name text not null default '',
  is_admin boolean not null default false,
  disabled boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table team_members (
  team_id text not null references teams (id) on delete cascade,
  user_id text not null references users (id) on delete cascade,
  role text not null check (role in ('owner', 'builder', 'reviewer', 'viewer')),
  created_at timestamptz not null default now(),
  primary key (team_id, user_id)
);
create index team_members_user on team_members (user_id);

create table api_keys (
  id text primary key,
  name text not null,
  secret_hash text not null,
  user_id text references users (id),
  team_id text references teams (id),
  team_role text check (team_role in ('owner', 'builder', 'reviewer', 'viewer')),
  scopes text[] not null,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_by text,
  created_at timestamptz not null default now(),
  check ((user_id is null) <> (team_id is null)),
  check ((team_id is null) = (team_role is null))
);
create index api_keys_user on api_keys (user_id);
create index api_keys_team on api_keys (team_id);

create table policies (
  name text primary key,
  description text not null default '',
  rules jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table audit_entries (
  seq bigint primary key,
  at timestamptz not null,
  actor_type text not null check (actor_type in ('user', 'key', 'system')),
  actor_id text not null,
  actor_user_id text,
  action text not null,
  target_type text not null,
  target_id text not null,
  team_id text,
  before jsonb,
  after jsonb,
  request_id text,
  prev_hash text not null,
  hash text not null
);
create index audit_entries_target on audit_entries (target_type, target_id, seq);
create index audit_entries_team on audit_entries (team_id, seq);
create index audit_entries_action on audit_entries (action, seq);
create index audit_entries_actor on audit_entries (actor_id, seq);

create table audit_checkpoints (
  seq bigint primary key,
  hash text not null,
  signed_at timestamptz not null,
  key_id text not null,
  public_key text not null,
  signature text not null
);

-- The audit log is append-only: no row is ever changed or removed through SQL.
create function audit_reject_change() returns trigger language plpgsql as $$
begin
  raise exception 'audit log is append-only: % on % is not allowed', tg_op, tg_table_name
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_entries_append_only before update or delete on audit_entries
  for each row execute function audit_reject_change();
create trigger audit_entries_no_truncate before truncate on audit_entries
  for each statement execute function audit_reject_change();
create trigger audit_checkpoints_append_only before update or delete on audit_checkpoints
  for each row execute function audit_reject_change();
create trigger audit_checkpoints_no_truncate before truncate on audit_checkpoints
  for each statement execute function audit_reject_change();

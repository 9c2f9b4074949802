-- Model gateway: its configuration, one trace per request, and the budget and rate-limit counters.

create table gateway_config (
  id integer primary key check (id = 1),
  config jsonb not null,
  updated_at timestamptz not null default now()
);

create table gateway_traces (
  id text primary key,
  at timestamptz not null,
  request_id text,
  key_id text,
  team_id text,
  use_case text,
  endpoint text not null,
  route text,
  requested_model text,
  provider text,
  model text,
  attempts jsonb not null default '[]',
  fallbacks integer not null default 0,
  stream boolean not null default false,
  status text not null,
  http_status integer not null,
  error_code text,
  classification text,
  pii_types text[] not null default '{}',
  cache_hit boolean not null default false,
  first_token_ms double precision,
  total_ms double precision not null,
  input_tokens integer not null default 0,
  output_tokens integer not null default 0,
  cached_tokens integer not null default 0,
  cost_usd numeric(18, 9) not null default 0,
  cost_estimated boolean not null default false
);
create index gateway_traces_at on gateway_traces (at);
create index gateway_traces_team on gateway_traces (team_id, at);
create index gateway_traces_key on gateway_traces (key_id, at);

-- One row per (scope, window): spend and usage settled so far plus what in-flight requests reserved.
create table gateway_counters (
  scope text not null,
  window_kind text not null check (window_kind in ('minute', 'day', 'month')),
  window_start timestamptz not null,
  spent_usd numeric(18, 9) not null default 0,
  reserved_usd numeric(18, 9) not null default 0,
  requests integer not null default 0,
  tokens bigint not null default 0,
  reserved_tokens bigint not null default 0,
  primary key (scope, window_kind, window_start)
);

create table gateway_cache (
  team_key text not null,
  route text not null,
  request_hash text not null,
  response jsonb not null,
  expires_at timestamptz not null,
  primary key (team_key, route, request_hash)
);

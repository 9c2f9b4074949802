-- Model gateway: its configuration, one trace per request, and the budget and rate-limit counters.

-- The data classification a key's gateway requests have when they do not say (absent: the gateway default).
alter table api_keys add column classification text check (classification in ('public', 'internal', 'confidential', 'restricted'));

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

-- Reserves one request in every counter that applies, in one statement: a full counter raises, and the
-- statement's atomicity takes back the reservations already made in the others.
create function gateway_reserve(counters jsonb, usd numeric, tokens bigint) returns integer language plpgsql as $$
declare
  r jsonb;
  i integer := 0;
begin
  for r in select value from jsonb_array_elements(counters) loop
    insert into gateway_counters as c (scope, window_kind, window_start, reserved_usd, requests, reserved_tokens)
    values (r->>'scope', r->>'window', (r->>'start')::timestamptz, usd, 1, tokens)
    on conflict (scope, window_kind, window_start) do update set
      reserved_usd = c.reserved_usd + excluded.reserved_usd,
      requests = c.requests + 1,
      reserved_tokens = c.reserved_tokens + excluded.reserved_tokens
    where (r->>'usdCap' is null or c.spent_usd + c.reserved_usd < (r->>'usdCap')::numeric)
      and (r->>'requestCap' is null or c.requests < (r->>'requestCap')::integer)
      and (r->>'tokenCap' is null or c.tokens + c.reserved_tokens < (r->>'tokenCap')::bigint);
    if not found then
      raise exception 'gateway counter % is full', i;
    end if;
    i := i + 1;
  end loop;
  return i;
end;
$$;

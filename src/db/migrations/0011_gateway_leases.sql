-- Budget leases: a process takes headroom from the shared counters in one statement and spends it locally, so
-- most gateway requests need no SQL at admission. What a process holds counts as reserved until it is spent or
-- returned, so every process sees the same totals.

-- Takes a lease in every counter given. First gives back what the process still held there (`return*`, applied
-- even when the lease is refused, so a refused process strands nothing). Then, if any counter is at a cap,
-- returns {"full": index} and grants nothing; otherwise grants per counter at least one request's estimate and
-- at most `want*` or an eighth of what is left under the cap, so no process hoards what others need (a dimension
-- without a cap grants nothing: it is not limited). Returns {"grants": [{usdNano, requests, tokens}, …]} in
-- counter order; dollars travel as whole nano-dollars so that sums stay exact. Row locks make processes take turns.
create function gateway_lease(counters jsonb) returns jsonb language plpgsql as $$
declare
  r jsonb;
  c gateway_counters%rowtype;
  i integer;
  full_at integer;
  usd_cap numeric;
  request_cap integer;
  token_cap bigint;
  g_usd numeric;
  g_requests integer;
  g_tokens bigint;
  grants jsonb := '[]'::jsonb;
begin
  i := 0;
  for r in select value from jsonb_array_elements(counters) loop
    update gateway_counters set
      reserved_usd = reserved_usd - coalesce((r->>'returnUsdNano')::numeric, 0) / 1000000000,
      requests = requests - coalesce((r->>'returnRequests')::integer, 0),
      reserved_tokens = reserved_tokens - coalesce((r->>'returnTokens')::bigint, 0)
    where scope = r->>'scope' and window_kind = r->>'window' and window_start = (r->>'start')::timestamptz
    returning * into c;
    if found and (((r->>'usdCap') is not null and c.spent_usd + c.reserved_usd >= (r->>'usdCap')::numeric)
      or ((r->>'requestCap') is not null and c.requests >= (r->>'requestCap')::integer)
      or ((r->>'tokenCap') is not null and c.tokens + c.reserved_tokens >= (r->>'tokenCap')::bigint)) then
      full_at := coalesce(full_at, i);
    end if;
    i := i + 1;
  end loop;
  if full_at is not null then
    return jsonb_build_object('full', full_at);
  end if;
  i := 0;
  for r in select value from jsonb_array_elements(counters) loop
    insert into gateway_counters (scope, window_kind, window_start) values (r->>'scope', r->>'window', (r->>'start')::timestamptz)
    on conflict (scope, window_kind, window_start) do nothing;
    select * into c from gateway_counters
    where scope = r->>'scope' and window_kind = r->>'window' and window_start = (r->>'start')::timestamptz for update;
    usd_cap := (r->>'usdCap')::numeric;
    request_cap := (r->>'requestCap')::integer;
    token_cap := (r->>'tokenCap')::bigint;
    -- Another process filled a counter this statement had not locked yet: refuse all of it.
    if (usd_cap is not null and c.spent_usd + c.reserved_usd >= usd_cap)
      or (request_cap is not null and c.requests >= request_cap)
      or (token_cap is not null and c.tokens + c.reserved_tokens >= token_cap) then
      raise exception 'gateway counter % is full', i;
    end if;
    g_usd := case when usd_cap is null then 0
      else round(greatest((r->>'usdNano')::numeric / 1000000000, least((r->>'wantUsdNano')::numeric / 1000000000, (usd_cap - c.spent_usd - c.reserved_usd) / 8)), 9) end;
    g_requests := case when request_cap is null then 0
      else greatest(1, least((r->>'wantRequests')::integer, (request_cap - c.requests) / 8)) end;
    g_tokens := case when token_cap is null then 0
      else greatest((r->>'tokens')::bigint, least((r->>'wantTokens')::bigint, (token_cap - c.tokens - c.reserved_tokens) / 8)) end;
    update gateway_counters set
      reserved_usd = c.reserved_usd + g_usd,
      requests = c.requests + g_requests,
      reserved_tokens = c.reserved_tokens + g_tokens
    where scope = c.scope and window_kind = c.window_kind and window_start = c.window_start;
    grants := grants || jsonb_build_array(jsonb_build_object('usdNano', (g_usd * 1000000000)::bigint, 'requests', g_requests, 'tokens', g_tokens));
    i := i + 1;
  end loop;
  return jsonb_build_object('grants', grants);
end;
$$;

import type { Database, Queryable } from '../db/index.js';
import { TarmacError } from '../errors/index.js';

export type WindowKind = 'minute' | 'day' | 'month';

/** One counter a request must fit in: a scope (`team:underwriting`, `key:abc…`, `global`) in one window. */
export interface Limit {
  scope: string;
  window: WindowKind;
  /** What was configured, for the error message. */
  label: string;
  usdCap: number | null;
  requestCap: number | null;
  tokenCap: number | null;
}

/** What a request holds between admission and settlement. */
export interface Reservation {
  rows: { scope: string; window: WindowKind; start: string }[];
  usd: number;
  tokens: number;
}

export function windowStart(kind: WindowKind, now: Date): Date {
  if (kind === 'minute') return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  if (kind === 'day') return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function windowEnd(kind: WindowKind, start: Date): Date {
  if (kind === 'minute') return new Date(start.getTime() + 60_000);
  if (kind === 'day') return new Date(start.getTime() + 86_400_000);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

const RESERVE = `insert into gateway_counters (scope, window_kind, window_start, reserved_usd, requests, reserved_tokens)
values ($1, $2, $3, $4, 1, $5)
on conflict (scope, window_kind, window_start) do update set
  reserved_usd = gateway_counters.reserved_usd + excluded.reserved_usd,
  requests = gateway_counters.requests + 1,
  reserved_tokens = gateway_counters.reserved_tokens + excluded.reserved_tokens
where ($6::numeric is null or gateway_counters.spent_usd + gateway_counters.reserved_usd < $6::numeric)
  and ($7::integer is null or gateway_counters.requests < $7::integer)
  and ($8::bigint is null or gateway_counters.tokens + gateway_counters.reserved_tokens < $8::bigint)
returning 1 as ok`;

const SETTLE = `update gateway_counters c set
  reserved_usd = greatest(c.reserved_usd - s.reserved_usd, 0),
  spent_usd = c.spent_usd + s.spent_usd,
  reserved_tokens = greatest(c.reserved_tokens - s.reserved_tokens, 0),
  tokens = c.tokens + s.tokens
from jsonb_to_recordset($1::jsonb) as s(scope text, window_kind text, window_start timestamptz, reserved_usd numeric, spent_usd numeric, reserved_tokens bigint, tokens bigint)
where c.scope = s.scope and c.window_kind = s.window_kind and c.window_start = s.window_start`;

function exceeded(limit: Limit, now: Date): TarmacError {
  const resetAt = windowEnd(limit.window, windowStart(limit.window, now)).toISOString();
  const details = { scope: limit.scope, limit: limit.label, window: limit.window, resetAt };
  if (limit.usdCap !== null) {
    return new TarmacError('budget_exceeded', `the ${limit.label} budget of ${limit.scope} is spent until ${resetAt}`, details);
  }
  return new TarmacError('rate_limited', `the ${limit.label} limit of ${limit.scope} is reached until ${resetAt}`, details);
}

/**
 * Budgets and rate limits held in the database, so that every process on one PostgreSQL sees the same counts.
 * A request first reserves its estimated cost and tokens in every counter that applies, in one transaction and
 * only while each counter is under its cap (row locks make concurrent reservations take turns); when it ends,
 * the reservation is replaced by what it really used.
 *
 * @example
 * const held = await budgets.reserve(limits, { usd: 0.01, tokens: 1200 });
 * try { ... } finally { await budgets.settle(held, { usd: cost, tokens: used }); }
 */
export class BudgetLedger {
  constructor(private readonly db: Database) {}

  /** Reserves in every limit, or throws `budget_exceeded` / `rate_limited` naming the first one that is full. */
  async reserve(limits: readonly Limit[], estimate: { usd: number; tokens: number }, now = new Date()): Promise<Reservation> {
    if (limits.length === 0) return { rows: [], usd: 0, tokens: 0 };
    for (const limit of limits) {
      if (limit.usdCap === 0 || limit.requestCap === 0 || limit.tokenCap === 0) throw exceeded(limit, now);
    }
    // A fixed order of counters, so that concurrent reservations cannot deadlock.
    const sorted = [...limits].sort((a, b) => (a.scope + a.window < b.scope + b.window ? -1 : 1));
    const rows = sorted.map((l) => ({ scope: l.scope, window: l.window, start: windowStart(l.window, now).toISOString() }));
    await this.db.transaction(async (tx: Queryable) => {
      for (const [i, limit] of sorted.entries()) {
        const row = rows[i]!;
        const { rows: ok } = await tx.query(RESERVE, [row.scope, row.window, row.start, estimate.usd, estimate.tokens, limit.usdCap, limit.requestCap, limit.tokenCap]);
        if (ok.length === 0) throw exceeded(limit, now);
      }
    });
    return { rows, usd: estimate.usd, tokens: estimate.tokens };
  }

  /** Replaces a reservation with what the request used (zero when it failed before any usage). */
  async settle(held: Reservation, used: { usd: number; tokens: number }): Promise<void> {
    if (held.rows.length === 0) return;
    const rows = held.rows.map((r) => ({
      scope: r.scope,
      window_kind: r.window,
      window_start: r.start,
      reserved_usd: held.usd,
      spent_usd: used.usd,
      reserved_tokens: held.tokens,
      tokens: used.tokens,
    }));
    await this.db.query(SETTLE, [JSON.stringify(rows)]);
  }
}

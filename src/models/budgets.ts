import type { Database } from '../db/index.js';
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
 * A request first reserves its estimated cost and tokens in every counter that applies, in one statement
 * that only succeeds while each counter is under its cap (row locks make concurrent reservations take turns);
 * when it ends, the reservation is replaced by what it really used. Settlements are batched off the request
 * path (within `settleMs`, and on {@link close}); until then the reservation keeps counting, which can only
 * refuse early, never overspend.
 *
 * @example
 * const held = await budgets.reserve(limits, { usd: 0.01, tokens: 1200 });
 * try { ... } finally { budgets.settle(held, { usd: cost, tokens: used }); }
 */
export class BudgetLedger {
  private pending = new Map<string, { scope: string; window_kind: WindowKind; window_start: string; reserved_usd: number; spent_usd: number; reserved_tokens: number; tokens: number }>();
  private flushing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly options: { settleMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.timer = setInterval(() => void this.flush().catch((err: unknown) => this.options.onError?.(err)), options.settleMs ?? 100);
    this.timer.unref();
  }

  /** Reserves in every limit, or throws `budget_exceeded` / `rate_limited` naming the first one that is full. */
  async reserve(limits: readonly Limit[], estimate: { usd: number; tokens: number }, now = new Date()): Promise<Reservation> {
    if (limits.length === 0) return { rows: [], usd: 0, tokens: 0 };
    for (const limit of limits) {
      if (limit.usdCap === 0 || limit.requestCap === 0 || limit.tokenCap === 0) throw exceeded(limit, now);
    }
    // A fixed order of counters, so that concurrent reservations cannot deadlock.
    const sorted = [...limits].sort((a, b) => (a.scope + a.window < b.scope + b.window ? -1 : 1));
    const rows = sorted.map((l) => ({ scope: l.scope, window: l.window, start: windowStart(l.window, now).toISOString() }));
    const counters = sorted.map((l, i) => ({ ...rows[i], usdCap: l.usdCap, requestCap: l.requestCap, tokenCap: l.tokenCap }));
    try {
      await this.db.query('select gateway_reserve($1::jsonb, $2::numeric, $3::bigint)', [JSON.stringify(counters), estimate.usd, estimate.tokens]);
    } catch (err) {
      const full = /gateway counter (\d+) is full/.exec((err as Error).message);
      const limit = full ? sorted[Number(full[1])] : undefined;
      if (limit) throw exceeded(limit, now);
      throw err;
    }
    return { rows, usd: estimate.usd, tokens: estimate.tokens };
  }

  /** Queues the replacement of a reservation by what the request used (zero when it failed before any usage). */
  settle(held: Reservation, used: { usd: number; tokens: number }): void {
    for (const r of held.rows) {
      const key = `${r.scope}\u0000${r.window}\u0000${r.start}`;
      let p = this.pending.get(key);
      if (!p) this.pending.set(key, (p = { scope: r.scope, window_kind: r.window, window_start: r.start, reserved_usd: 0, spent_usd: 0, reserved_tokens: 0, tokens: 0 }));
      p.reserved_usd += held.usd;
      p.spent_usd += used.usd;
      p.reserved_tokens += held.tokens;
      p.tokens += used.tokens;
    }
  }

  /** Writes every queued settlement now (one statement per batch). */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      while (this.pending.size > 0) {
        const batch = this.pending;
        this.pending = new Map();
        try {
          await this.db.query(SETTLE, [JSON.stringify([...batch.values()])]);
        } catch (err) {
          for (const [key, value] of batch) {
            const p = this.pending.get(key);
            if (!p) this.pending.set(key, value);
            else {
              p.reserved_usd += value.reserved_usd;
              p.spent_usd += value.spent_usd;
              p.reserved_tokens += value.reserved_tokens;
              p.tokens += value.tokens;
            }
          }
          throw err;
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Stops the timer and writes what is queued. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

import type { Database } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import type { Alongside } from './traces.js';

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

/** Headroom this process took from one counter and spends locally (see {@link BudgetLedger}). */
interface Lease {
  key: string;
  scope: string;
  window: WindowKind;
  start: string;
  /** Which dimensions have a cap; the others are not held, only counted at settlement. */
  usdCapped: boolean;
  requestCapped: boolean;
  tokenCapped: boolean;
  /** Held and not yet spent; may go below zero when a request used more than its estimate. */
  usdNano: number;
  requests: number;
  tokens: number;
  lastUsed: number;
  refilling: Promise<void> | null;
  released: boolean;
}

/** What a request holds between admission and settlement. */
export interface Reservation {
  leases: Lease[];
  usdNano: number;
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

// Deltas per counter, in whole nano-dollars for money so that sums are exact; `param` is the JSON array of them.
const settleStatement = (param: string) => `update gateway_counters c set
  spent_usd = c.spent_usd + s.spent_nano / 1000000000,
  reserved_usd = c.reserved_usd + s.reserved_nano / 1000000000,
  requests = c.requests + s.requests,
  tokens = c.tokens + s.tokens,
  reserved_tokens = c.reserved_tokens + s.reserved_tokens
from jsonb_to_recordset(${param}::jsonb) as s(scope text, window_kind text, window_start timestamptz, spent_nano numeric, reserved_nano numeric, requests integer, tokens bigint, reserved_tokens bigint)
where c.scope = s.scope and c.window_kind = s.window_kind and c.window_start = s.window_start`;

interface Delta {
  scope: string;
  window_kind: WindowKind;
  window_start: string;
  spent_nano: number;
  reserved_nano: number;
  requests: number;
  tokens: number;
  reserved_tokens: number;
}

/** Requests' worth of headroom a lease asks for (the database grants at most an eighth of what is left). */
const LEASE_REQUESTS = 256;

const nano = (usd: number) => Math.round(usd * 1e9);

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
 * A process takes a lease of headroom in each counter (`gateway_lease`: one statement, row locks make processes
 * take turns) and admits requests against it locally, so most requests need no SQL. A lease is granted only
 * while the counter is under its cap and is at most an eighth of what is left (at least one request's estimate),
 * so the total can pass a cap by at most one request's estimate; near a cap leases shrink to one request each.
 * What a process holds counts as reserved for every other process until it is spent (settlements are batched,
 * within `settleMs`), returned with the next lease, returned when unused for `idleMs`, or returned on
 * {@link close}.
 *
 * @example
 * const held = await budgets.reserve(limits, { usd: 0.01, tokens: 1200 });
 * try { ... } finally { budgets.settle(held, { usd: cost, tokens: used }); }
 */
export class BudgetLedger {
  private readonly leases = new Map<string, Lease>();
  private pending = new Map<string, Delta>();
  private flushing: Promise<void> | null = null;
  // Runs only while leases are held or settlements are queued: an idle gateway does not wake up.
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly idleMs: number;

  constructor(
    private readonly db: Database,
    private readonly options: { settleMs?: number; idleMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.idleMs = options.idleMs ?? 1000;
  }

  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      this.releaseIdle(Date.now() - this.idleMs);
      void this.flush()
        .then(() => {
          if (this.leases.size === 0 && this.pending.size === 0) this.disarm();
        })
        .catch((err: unknown) => this.options.onError?.(err));
    }, this.options.settleMs ?? 100);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reserves in every limit, or throws `budget_exceeded` / `rate_limited` naming the first one that is full. */
  async reserve(limits: readonly Limit[], estimate: { usd: number; tokens: number }, now = new Date()): Promise<Reservation> {
    if (limits.length === 0) return { leases: [], usdNano: 0, tokens: 0 };
    for (const limit of limits) {
      if (limit.usdCap === 0 || limit.requestCap === 0 || limit.tokenCap === 0) throw exceeded(limit, now);
    }
    // A free request still needs headroom under a money cap, or it would pass a spent budget.
    const usdNano = Math.max(1, nano(estimate.usd));
    const tokens = Math.max(1, Math.ceil(estimate.tokens));
    // One lease per counter, even when two limits name the same one; a fixed order, so that concurrent lease
    // statements lock counters in the same order and cannot deadlock.
    const unique = [...new Map(limits.map((l) => [`${l.scope}\u0000${l.window}\u0000${l.usdCap}\u0000${l.requestCap}\u0000${l.tokenCap}`, l])).entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, l]) => l);
    for (;;) {
      const leases = unique.map((l) => this.lease(l, now));
      const lacking = leases.flatMap((lease, i) => (fits(lease, usdNano, tokens) ? [] : [i]));
      if (lacking.length === 0) {
        const at = Date.now();
        for (const lease of leases) {
          if (lease.usdCapped) lease.usdNano -= usdNano;
          if (lease.requestCapped) lease.requests -= 1;
          if (lease.tokenCapped) lease.tokens -= tokens;
          lease.lastUsed = at;
        }
        return { leases, usdNano, tokens };
      }
      // One lease statement at a time per counter: requests arriving meanwhile wait for it and try again.
      const busy = lacking.map((i) => leases[i]?.refilling).filter((p): p is Promise<void> => p !== null && p !== undefined);
      if (busy.length > 0) await Promise.all(busy.map((p) => p.catch(() => undefined)));
      else await this.refill(lacking.map((i) => ({ lease: leases[i]!, limit: unique[i]! })), usdNano, tokens, now);
    }
  }

  private lease(limit: Limit, now: Date): Lease {
    const start = windowStart(limit.window, now).toISOString();
    // The caps are part of the key: a changed configuration starts a new lease and the old one is returned.
    const key = `${limit.scope}\u0000${limit.window}\u0000${start}\u0000${limit.usdCap}\u0000${limit.requestCap}\u0000${limit.tokenCap}`;
    let lease = this.leases.get(key);
    if (!lease) {
      lease = {
        key,
        scope: limit.scope,
        window: limit.window,
        start,
        usdCapped: limit.usdCap !== null,
        requestCapped: limit.requestCap !== null,
        tokenCapped: limit.tokenCap !== null,
        usdNano: 0,
        requests: 0,
        tokens: 0,
        lastUsed: Date.now(),
        refilling: null,
        released: false,
      };
      this.leases.set(key, lease);
      this.arm();
    }
    return lease;
  }

  private async refill(entries: { lease: Lease; limit: Limit }[], usdNano: number, tokens: number, now: Date): Promise<void> {
    // What is held is given back in the same statement, so a process never strands headroom it cannot use.
    const returned = entries.map(({ lease }) => ({ usdNano: lease.usdNano, requests: lease.requests, tokens: lease.tokens }));
    const counters = entries.map(({ lease, limit }, i) => ({
      scope: lease.scope,
      window: lease.window,
      start: lease.start,
      usdCap: limit.usdCap,
      requestCap: limit.requestCap,
      tokenCap: limit.tokenCap,
      usdNano,
      tokens,
      wantUsdNano: usdNano * LEASE_REQUESTS,
      wantRequests: LEASE_REQUESTS,
      wantTokens: tokens * LEASE_REQUESTS,
      returnUsdNano: returned[i]!.usdNano,
      returnRequests: returned[i]!.requests,
      returnTokens: returned[i]!.tokens,
    }));
    const done = (async () => {
      const { rows } = await this.db.query<{ lease: { full?: number; grants?: { usdNano: number | string; requests: number; tokens: number | string }[] } }>(
        'select gateway_lease($1::jsonb) as lease',
        [JSON.stringify(counters)],
      );
      const answer = rows[0]?.lease;
      entries.forEach(({ lease }, i) => {
        const grant = answer?.grants?.[i];
        // Settlements may have refunded into the lease while the statement ran: adjust, do not overwrite.
        lease.usdNano += Number(grant?.usdNano ?? 0) - returned[i]!.usdNano;
        lease.requests += Number(grant?.requests ?? 0) - returned[i]!.requests;
        lease.tokens += Number(grant?.tokens ?? 0) - returned[i]!.tokens;
        lease.lastUsed = Date.now();
      });
      if (answer?.full !== undefined) {
        const limit = entries[answer.full]?.limit;
        if (limit) throw exceeded(limit, now);
      }
    })().catch((err: unknown) => {
      const full = /gateway counter (\d+) is full/.exec((err as Error).message);
      const limit = full ? entries[Number(full[1])]?.limit : undefined;
      throw limit ? exceeded(limit, now) : err;
    });
    for (const { lease } of entries) lease.refilling = done;
    try {
      await done;
    } finally {
      for (const { lease } of entries) if (lease.refilling === done) lease.refilling = null;
    }
  }

  /** Queues the replacement of a reservation by what the request used (zero when it failed before any usage). */
  settle(held: Reservation, used: { usd: number; tokens: number }): void {
    const usedNano = nano(used.usd);
    for (const lease of held.leases) {
      const d = this.delta(lease);
      d.spent_nano += usedNano;
      d.tokens += used.tokens;
      if (!lease.requestCapped) d.requests += 1;
      // A live lease takes back what the estimate held beyond the use; a returned one gives it to the counter.
      if (lease.usdCapped) {
        if (lease.released) d.reserved_nano -= held.usdNano;
        else {
          d.reserved_nano -= usedNano;
          lease.usdNano += held.usdNano - usedNano;
        }
      }
      if (lease.tokenCapped) {
        if (lease.released) d.reserved_tokens -= held.tokens;
        else {
          d.reserved_tokens -= used.tokens;
          lease.tokens += held.tokens - used.tokens;
        }
      }
    }
  }

  private delta(lease: Lease): Delta {
    const key = `${lease.scope}\u0000${lease.window}\u0000${lease.start}`;
    let d = this.pending.get(key);
    if (!d) {
      d = { scope: lease.scope, window_kind: lease.window, window_start: lease.start, spent_nano: 0, reserved_nano: 0, requests: 0, tokens: 0, reserved_tokens: 0 };
      this.pending.set(key, d);
      this.arm();
    }
    return d;
  }

  /** Returns the headroom of leases unused since `before` (all of them when absent); settlements still in flight go straight to the counter. */
  private releaseIdle(before = Infinity): void {
    for (const lease of this.leases.values()) {
      if (lease.lastUsed >= before || lease.refilling) continue;
      lease.released = true;
      this.leases.delete(lease.key);
      const d = this.delta(lease);
      d.reserved_nano -= lease.usdNano;
      d.requests -= lease.requests;
      d.reserved_tokens -= lease.tokens;
    }
  }

  /** Writes every queued settlement now (one statement per batch). */
  flush(): Promise<void> {
    this.flushing ??= (async () => {
      for (let batch = this.take(); batch; batch = this.take()) {
        try {
          await this.db.query(settleStatement('$1'), [JSON.stringify(batch)]);
        } catch (err) {
          this.giveBack(batch);
          throw err;
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** The queued settlements, to be written in another statement (see {@link alongside}); null when none. */
  private take(): Delta[] | null {
    if (this.pending.size === 0) return null;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    return batch;
  }

  /** Queues again settlements whose statement failed, adding to what was queued meanwhile. */
  private giveBack(batch: readonly Delta[]): void {
    for (const value of batch) {
      const key = `${value.scope}\u0000${value.window_kind}\u0000${value.window_start}`;
      const p = this.pending.get(key);
      if (!p) this.pending.set(key, { ...value });
      else {
        p.spent_nano += value.spent_nano;
        p.reserved_nano += value.reserved_nano;
        p.requests += value.requests;
        p.tokens += value.tokens;
        p.reserved_tokens += value.reserved_tokens;
      }
    }
    this.arm();
  }

  /**
   * The queued settlements as a part of another statement (a batch of traces): they commit together, so a
   * request's trace is never stored without its settlement.
   */
  alongside(): Alongside {
    return {
      sql: settleStatement,
      take: () => this.take(),
      giveBack: (taken) => this.giveBack(taken as Delta[]),
    };
  }

  /** Stops the timer, returns every lease and writes what is queued (after in-flight requests settled). */
  async close(): Promise<void> {
    this.closed = true;
    this.disarm();
    this.releaseIdle();
    await this.flush();
  }
}

/** Whether a lease still holds one request's estimate in every dimension it limits. */
function fits(lease: Lease, usdNano: number, tokens: number): boolean {
  return (!lease.usdCapped || lease.usdNano >= usdNano) && (!lease.requestCapped || lease.requests >= 1) && (!lease.tokenCapped || lease.tokens >= tokens);
}

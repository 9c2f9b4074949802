import { createHash } from 'node:crypto';
import type { Principal } from '../access/index.js';

/**
 * Principals of recently seen keys, for at most `ttlMs` (and never past the key's expiry), so that busy
 * callers do not cost database reads on every request. Entries are looked up by a hash of the token, never
 * the token itself. A change made through this process (revoking a key, changing a user or a membership)
 * empties the cache at once; changes made by another process take effect within `ttlMs`.
 *
 * @example
 * const cache = new PrincipalCache(5000);
 * cache.set(token, principal, keyExpiresAt);
 * cache.get(token); // the principal, until 5 s have passed
 */
export class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly ttlMs: number) {}

  private static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(token: string, now = Date.now()): Principal | null {
    if (this.ttlMs <= 0) return null;
    const key = PrincipalCache.keyOf(token);
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.until <= now) {
      this.entries.delete(key);
      return null;
    }
    return entry.principal;
  }

  set(token: string, principal: Principal, expiresAt: Date | null, now = Date.now()): void {
    if (this.ttlMs <= 0) return;
    // Bounded: a flood of distinct keys cannot grow it without limit.
    if (this.entries.size >= 10_000) this.entries.clear();
    this.entries.set(PrincipalCache.keyOf(token), { principal, until: Math.min(now + this.ttlMs, expiresAt?.getTime() ?? Infinity) });
  }

  clear(): void {
    this.entries.clear();
  }
}

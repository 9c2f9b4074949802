// The principal cache: reuse for a bounded time, immediate effect of changes made through the service.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../audit/index.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { IdentityService } from './index.js';
import { PrincipalCache } from './principal-cache.js';

let services: TestServices;
let cached: IdentityService;

beforeAll(async () => {
  services = await openTestServices();
  cached = new IdentityService(services.db, new AuditLog(services.db, { checkpointEvery: 1000, signingKey: null }), { authCacheMs: 60_000 });
});

afterAll(async () => {
  await services?.close();
});

describe('the principal cache', () => {
  it('reuses a principal within its time, and stops at once when the key is revoked through the service', async () => {
    const { key, token } = await cached.createKey({ principal: services.admin }, { name: 'cached', scopes: ['read'] });
    const first = await cached.authenticate(token);
    // Revoked behind the service's back (as another process would): still accepted until the entry ages out.
    await services.db.query('update api_keys set revoked_at = now() where id = $1', [key.id]);
    expect(await cached.authenticate(token)).toBe(first);
    await expect(services.identity.authenticate(token)).rejects.toMatchObject({ code: 'unauthorized' });
    cached.forgetPrincipals();
    await expect(cached.authenticate(token)).rejects.toMatchObject({ code: 'unauthorized' });
    const other = await cached.createKey({ principal: services.admin }, { name: 'revoked here', scopes: ['read'] });
    await cached.authenticate(other.token);
    await cached.revokeKey({ principal: services.admin }, other.key.id);
    await expect(cached.authenticate(other.token)).rejects.toMatchObject({ code: 'unauthorized', message: 'the API key was revoked' });
  });

  it('never keeps an entry past its time or its key expiry, and keeps nothing when off', () => {
    const principal = services.admin;
    const cache = new PrincipalCache(5000);
    cache.set('t', principal, new Date(2000), 0);
    expect(cache.get('t', 1999)).toBe(principal);
    expect(cache.get('t', 2000)).toBeNull();
    cache.set('u', principal, null, 0);
    expect(cache.get('u', 4999)).toBe(principal);
    expect(cache.get('u', 5000)).toBeNull();
    const off = new PrincipalCache(0);
    off.set('t', principal, null);
    expect(off.get('t')).toBeNull();
  });
});

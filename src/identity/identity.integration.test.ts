import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

describe(`identity (${BACKEND})`, () => {
  let s: TestServices;
  beforeEach(async () => {
    s = await openTestServices();
  });
  afterEach(async () => {
    await s.close();
  });

  it('bootstraps once: an admin user and a key with every scope', async () => {
    expect(s.admin).toMatchObject({ isAdmin: true, scopes: ['read', 'write', 'admin'] });
    expect(s.adminToken).toMatch(/^tmk_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/);
    const again = await s.identity.bootstrap({ adminEmail: 'admin@tarmac.local', auditPublicKey: null, persistKey: () => undefined });
    expect(again).toBeNull();
  });

  it('stores only a hash of the key and shows the token once', async () => {
    const { key, token } = await s.identity.createKey({ principal: s.admin }, { name: 'ci' });
    const { rows } = await s.db.query<Record<string, unknown>>('select * from api_keys where id = $1', [key.id]);
    expect(JSON.stringify(rows)).not.toContain(token.slice(17));
    expect(rows[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    const listed = await s.identity.listKeys({ principal: s.admin });
    expect(JSON.stringify(listed)).not.toContain(token.slice(17));
    expect(listed.find((k) => k.id === key.id)).toMatchObject({ prefix: `tmk_${key.id}`, scopes: ['read', 'write'] });
    const { entries } = await s.audit.list({ action: 'key.created', targetId: key.id, limit: 1 });
    expect(JSON.stringify(entries)).not.toContain(token.slice(17));
  });

  it('records last use, at most once a minute', async () => {
    const { key, token } = await s.identity.createKey({ principal: s.admin }, { name: 'used' });
    expect((await s.identity.listKeys({ principal: s.admin })).find((k) => k.id === key.id)!.lastUsedAt).toBeNull();
    await s.identity.authenticate(token);
    const first = (await s.identity.listKeys({ principal: s.admin })).find((k) => k.id === key.id)!.lastUsedAt;
    expect(first).not.toBeNull();
    await s.identity.authenticate(token);
    expect((await s.identity.listKeys({ principal: s.admin })).find((k) => k.id === key.id)!.lastUsedAt).toBe(first);
  });

  it('rejects malformed, unknown, revoked and expired keys and disabled users', async () => {
    await expect(s.identity.authenticate('sk-not-ours')).rejects.toMatchObject({ code: 'unauthorized' });
    await expect(s.identity.authenticate(s.adminToken.slice(0, -1) + (s.adminToken.endsWith('A') ? 'B' : 'A'))).rejects.toMatchObject({ code: 'unauthorized' });
    const user = await s.identity.createUser({ principal: s.admin }, { email: 'Dana@Example.com', name: 'Dana' });
    expect(user.email).toBe('dana@example.com');
    const { token } = await s.identity.createKey({ principal: s.admin }, { name: 'dana', user: 'dana@example.com' });
    expect((await s.identity.authenticate(token)).userId).toBe(user.id);
    await s.identity.updateUser({ principal: s.admin }, user.id, { disabled: true });
    await expect(s.identity.authenticate(token)).rejects.toThrow(/disabled/);
  });

  it('enforces roles: owners manage their team, others cannot', async () => {
    const team = await s.identity.createTeam({ principal: s.admin }, { name: 'claims', description: 'Claims handling' });
    const owner = await s.identity.createUser({ principal: s.admin }, { email: 'owner@example.com' });
    const builder = await s.identity.createUser({ principal: s.admin }, { email: 'builder@example.com' });
    await s.identity.setMember({ principal: s.admin }, 'claims', owner.email, 'owner');
    await s.identity.setMember({ principal: s.admin }, 'claims', builder.email, 'builder');
    const ownerP = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'o', user: owner.email })).token);
    const builderP = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'b', user: builder.email })).token);

    expect(ownerP.roles).toEqual({ [team.id]: 'owner' });
    await expect(s.identity.updateTeam({ principal: builderP }, 'claims', { description: 'x' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(s.identity.setMember({ principal: builderP }, 'claims', builder.email, 'owner')).rejects.toMatchObject({ code: 'forbidden' });
    expect((await s.identity.updateTeam({ principal: ownerP }, 'claims', { description: 'Claims and recoveries' })).description).toBe('Claims and recoveries');

    // team keys: created by the owner, acting with the given role in that team only
    const appKey = await s.identity.createKey({ principal: ownerP }, { name: 'claims-bot', team: 'claims', teamRole: 'viewer', scopes: ['read'] });
    const appP = await s.identity.authenticate(appKey.token);
    expect(appP).toMatchObject({ userId: null, teamId: team.id, roles: { [team.id]: 'viewer' }, isAdmin: false });
    await expect(s.identity.createKey({ principal: builderP }, { name: 'nope', team: 'claims' })).rejects.toMatchObject({ code: 'forbidden' });

    // no escalation: a key never carries scopes its creator lacks, and only admins hold admin keys
    await expect(s.identity.createKey({ principal: ownerP }, { name: 'up', scopes: ['admin'] })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(s.identity.createKey({ principal: appP }, { name: 'up', scopes: ['read'] })).rejects.toMatchObject({ code: 'forbidden' });
    // builders see their team but not other users
    expect((await s.identity.listTeams({ principal: builderP })).map((t) => t.name)).toEqual(['claims']);
    await expect(s.identity.getUser({ principal: builderP }, owner.email)).rejects.toMatchObject({ code: 'not_found' });
    await expect(s.identity.listUsers({ principal: builderP })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('audits every change with before and after', async () => {
    await s.identity.createTeam({ principal: s.admin, requestId: 'r1' }, { name: 'risk' });
    await s.identity.updateTeam({ principal: s.admin, requestId: 'r2' }, 'risk', { description: 'Risk office' });
    const user = await s.identity.createUser({ principal: s.admin }, { email: 'r@example.com' });
    await s.identity.setMember({ principal: s.admin }, 'risk', user.id, 'reviewer');
    await s.identity.setMember({ principal: s.admin }, 'risk', user.id, 'reviewer'); // no change, no entry
    await s.identity.removeMember({ principal: s.admin }, 'risk', user.id);
    const { entries } = await s.audit.list({ limit: 20 });
    const actions = entries.map((e) => e.action).reverse();
    expect(actions.slice(-5)).toEqual(['team.created', 'team.updated', 'user.created', 'team.member_added', 'team.member_removed']);
    const updated = entries.find((e) => e.action === 'team.updated')!;
    expect(updated).toMatchObject({ requestId: 'r2', before: { description: '' }, after: { description: 'Risk office' } });
    expect((await s.audit.verify()).ok).toBe(true);
  });

  it('rejects duplicates and unknown ids with stable codes', async () => {
    await s.identity.createTeam({ principal: s.admin }, { name: 'ops' });
    await expect(s.identity.createTeam({ principal: s.admin }, { name: 'ops' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(s.identity.getTeam({ principal: s.admin }, 'team_doesnotexist')).rejects.toMatchObject({ code: 'not_found' });
    await expect(s.identity.revokeKey({ principal: s.admin }, 'tmk_nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(s.identity.removeMember({ principal: s.admin }, 'ops', 'admin@tarmac.local')).rejects.toMatchObject({ code: 'not_found' });
  });
});

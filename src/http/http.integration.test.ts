import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

const PUBLIC = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics', 'HEAD /healthz', 'HEAD /readyz', 'HEAD /metrics']);

describe(`HTTP server (${BACKEND})`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await openTestServer({ bodyLimit: 4096 });
  });
  afterAll(async () => {
    await s.close();
  });

  it('refuses every registered route without a valid key, except health and metrics', async () => {
    const spec = (await s.app.inject({ url: '/openapi.json', headers: bearer(s.adminToken) })).json<{ paths: Record<string, Record<string, unknown>> }>();
    const routes = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));
    expect(routes.length).toBeGreaterThan(15);
    const open: string[] = [];
    for (const { method, path } of routes) {
      const url = path.replace(/\{[^}]+\}/g, '1');
      for (const headers of [{}, { authorization: 'Bearer tmk_wrong' }, bearer(`tmk_aaaaaaaaaaaa_${'A'.repeat(43)}`)]) {
        const res = await s.app.inject({ method: method as 'GET', url, headers, payload: method === 'GET' || method === 'DELETE' ? undefined : {} });
        if (PUBLIC.has(`${method} ${path}`)) {
          expect(res.statusCode, `${method} ${path}`).toBe(200);
          continue;
        }
        if (res.statusCode !== 401) open.push(`${method} ${path} → ${res.statusCode}`);
        else expect(res.json()).toMatchObject({ error: { code: 'unauthorized' } });
      }
    }
    expect(open).toEqual([]);
    // the public ones really are in the enumerated list
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['GET /healthz', 'GET /readyz', 'GET /metrics']));
  });

  it('refuses a revoked and an expired key', async () => {
    const created = await s.identity.createKey({ principal: s.admin }, { name: 'short', expiresAt: new Date(Date.now() + 60_000) });
    expect((await s.app.inject({ url: '/api/v1/me', headers: bearer(created.token) })).statusCode).toBe(200);
    await s.identity.revokeKey({ principal: s.admin }, created.key.id);
    const res = await s.app.inject({ url: '/api/v1/me', headers: bearer(created.token) });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.message).toMatch(/revoked/);
    const expiring = await s.identity.createKey({ principal: s.admin }, { name: 'soon', expiresAt: new Date(Date.now() + 1500) });
    await new Promise((r) => setTimeout(r, 1600));
    const expired = await s.app.inject({ url: '/api/v1/me', headers: bearer(expiring.token) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired/);
  });

  it('answers bad input with stable codes', async () => {
    const h = { ...bearer(s.adminToken), 'content-type': 'application/json' };
    const malformed = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: h, payload: '{"name": "x",' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('invalid_json');

    const big = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: h, payload: JSON.stringify({ name: 'x', description: 'y'.repeat(5000) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');

    const invalid = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: h, payload: { name: 'Not A Slug', description: 5, extra: true } });
    expect(invalid.statusCode).toBe(400);
    const body = invalid.json();
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['description', 'extra', 'name']);

    const unknown = await s.app.inject({ url: '/api/v1/teams/no-such-team', headers: bearer(s.adminToken) });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');

    const noRoute = await s.app.inject({ url: '/api/v1/nothing-here', headers: bearer(s.adminToken) });
    expect(noRoute.statusCode).toBe(404);
    expect(noRoute.json().error.code).toBe('route_not_found');

    const xml = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: { ...bearer(s.adminToken), 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(xml.statusCode).toBe(415);
    expect(xml.json().error.code).toBe('unsupported_media_type');

    const text = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: { ...bearer(s.adminToken), 'content-type': 'text/plain' }, payload: 'name' });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');

    const badUrl = await s.app.inject({ url: '/api/v1/teams/%E0%A4%A', headers: bearer(s.adminToken) });
    expect(badUrl.statusCode).toBe(400);
    expect(badUrl.json().error.code).toBe('bad_request');

    const proto = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: h, payload: '{"name":"ok","__proto__":{"x":1}}' });
    expect(proto.statusCode).toBe(400);
    expect(proto.json().error.code).toBe('invalid_json');
  });

  it('forbids what a role or scope does not allow', async () => {
    const team = await s.identity.createTeam({ principal: s.admin }, { name: 'claims' });
    const viewerUser = await s.identity.createUser({ principal: s.admin }, { email: 'viewer@example.com' });
    await s.identity.setMember({ principal: s.admin }, team.id, viewerUser.id, 'viewer');
    const viewerKey = await s.identity.createKey({ principal: s.admin }, { name: 'v', user: viewerUser.email, scopes: ['read', 'write'] });
    const h = bearer(viewerKey.token);
    expect((await s.app.inject({ url: '/api/v1/teams/claims', headers: h })).statusCode).toBe(200);
    const patch = await s.app.inject({ method: 'PATCH', url: '/api/v1/teams/claims', headers: h, payload: { description: 'mine now' } });
    expect(patch.statusCode).toBe(403);
    expect(patch.json().error.code).toBe('forbidden');
    expect((await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: h, payload: { name: 'rogue' } })).statusCode).toBe(403);
    expect((await s.app.inject({ url: '/api/v1/audit/verify', headers: h })).statusCode).toBe(403);
    // a read-only key cannot write even what its user could
    const readOnly = await s.identity.createKey({ principal: s.admin }, { name: 'ro', scopes: ['read'] });
    const denied = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: bearer(readOnly.token), payload: { name: 'nope' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().error.message).toMatch(/write/);
  });

  it('carries request ids in and out and into the audit log', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/teams', headers: { ...bearer(s.adminToken), 'x-request-id': 'trace-abc-123' }, payload: { name: 'pricing' } });
    expect(res.statusCode).toBe(201);
    expect(res.headers['x-request-id']).toBe('trace-abc-123');
    const { entries } = await s.audit.list({ action: 'team.created', limit: 5 });
    expect(entries.find((e) => e.requestId === 'trace-abc-123')).toMatchObject({ actor: { type: 'key', id: s.admin.keyId, userId: s.admin.userId } });
    const generated = await s.app.inject({ url: '/healthz' });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never writes a key into the logs', async () => {
    const created = await s.app.inject({ method: 'POST', url: '/api/v1/keys', headers: bearer(s.adminToken), payload: { name: 'logged?' } });
    expect(created.statusCode).toBe(201);
    const token = created.json<{ token: string }>().token;
    await s.app.inject({ url: '/api/v1/nothing', headers: bearer(token) });
    const all = s.logs.join('\n');
    expect(s.logs.length).toBeGreaterThan(5);
    expect(all).not.toContain(token);
    expect(all).not.toContain(s.adminToken);
    expect(all).not.toContain(token.slice(17));
  });

  it('serves health, readiness, metrics and an OpenAPI document built from the schemas', async () => {
    expect((await s.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await s.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready', database: BACKEND });
    await s.app.inject({ url: '/api/v1/me', headers: bearer(s.adminToken) });
    const metrics = (await s.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/tarmac_http_requests_total\{method="GET",route="\/api\/v1\/me",status="200"\} \d+/);
    expect(metrics).toMatch(/tarmac_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/api\/v1\/me",status="200"\}/);
    const spec = (await s.app.inject({ url: '/openapi.json', headers: bearer(s.adminToken) })).json();
    expect(spec.openapi).toBe('3.1.0');
    const createTeam = spec.paths['/api/v1/teams'].post;
    expect(createTeam.requestBody.content['application/json'].schema).toMatchObject({ type: 'object', required: ['name'], additionalProperties: false });
    expect(spec.paths['/api/v1/teams/{team}'].get.parameters).toEqual([expect.objectContaining({ name: 'team', in: 'path', required: true })]);
    expect(spec.paths['/healthz'].get.security).toEqual([]);
  });
});

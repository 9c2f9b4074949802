import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

/** Routes whose success bodies are not declared, and why (see `undeclaredResponse` in their config). */
const UNDECLARED = new Set(['post /v1/chat/completions', 'post /v1/embeddings', 'get /metrics', 'get /openapi.json', 'get /api/v1/datasets/{dataset}/export']);

describe(`Responses against their schemas (${BACKEND})`, () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await openTestServer();
  });
  afterAll(async () => {
    await s.close();
  });

  it('declares a success response schema on every route but the pass-through and non-JSON ones', async () => {
    const spec = (await s.app.inject({ url: '/openapi.json', headers: bearer(s.adminToken) })).json<{
      paths: Record<string, Record<string, { responses: Record<string, { content: { 'application/json': { schema: Record<string, unknown> } } }> }>>;
    }>();
    const missing: string[] = [];
    let declared = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const success = Object.entries(op.responses).filter(([status, r]) => /^2\d\d$/.test(status) && Object.keys(r.content['application/json'].schema).length > 0);
        if (success.length > 0) declared++;
        else if (!UNDECLARED.has(`${method} ${path}`)) missing.push(`${method} ${path}`);
      }
    }
    expect(declared).toBeGreaterThan(60);
    expect(missing).toEqual([]);
  });

  it('fails a response carrying a field its schema lacks, instead of sending or silently dropping it', async () => {
    const team = { id: 't1', name: 'claims', description: '', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', members: [] };
    const spy = vi.spyOn(s.identity, 'listTeams').mockResolvedValueOnce([{ ...team, apiToken: 'tmk_secret' } as typeof team]);
    const res = await s.app.inject({ url: '/api/v1/teams', headers: bearer(s.adminToken) });
    spy.mockRestore();
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
    expect(res.body).not.toContain('tmk_secret');
    expect(s.logs.some((line) => line.includes('GET /api/v1/teams 200 does not match its schema: teams[0].apiToken is not in the schema'))).toBe(true);
  });

  it('keeps errors in the error shape, unchanged by any route schema', async () => {
    const res = await s.app.inject({ url: '/api/v1/teams/nope', headers: bearer(s.adminToken) });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

// The evals API over HTTP: every route answers in its declared shape, as the team may see it, and bad input is a
// clear 4xx that imports nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';
import type { EvalRunDetail } from './index.js';

describe(`the evals API (${BACKEND})`, () => {
  let s: TestServer;
  let analyst: string;
  let outsider: string;
  let readOnly: string;
  beforeAll(async () => {
    s = await openTestServer();
    analyst = await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6 } } });
    await s.identity.createUser({ principal: s.admin }, { email: 'outsider@x.io' });
    outsider = (await s.identity.createKey({ principal: s.admin }, { name: 'out', user: 'outsider@x.io' })).token;
    readOnly = (await s.identity.createKey({ principal: s.admin }, { name: 'ro', user: 'analyst@x.io', scopes: ['read'] })).token;
  });
  afterAll(async () => {
    await s?.close();
  });

  const call = (token: string, method: 'GET' | 'POST', url: string, payload?: unknown) => s.app.inject({ method, url, headers: bearer(token), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  it('creates, imports, exports and lists datasets', async () => {
    expect((await call(analyst, 'POST', '/api/v1/datasets', { name: 'cases', team: 'underwriting' })).statusCode).toBe(201);
    const jsonl = [
      { id: 'roof', input: 'What is the maximum roof age for a standard homeowners policy?', expected: 'up to 20 years old', expectedDocuments: ['guide.md'], assertions: [{ type: 'contains', value: '20 years' }] },
      { id: 'inspect', input: 'When is an inspection required before binding?', assertions: [{ type: 'contains', value: 'inspection' }] },
    ]
      .map((c) => JSON.stringify(c))
      .join('\n');
    const bad = await call(analyst, 'POST', '/api/v1/datasets/cases/versions', { format: 'jsonl', content: `${jsonl}\nnot json` });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'validation_failed', details: { issues: [{ path: 'line 3' }] } } });
    const created = await call(analyst, 'POST', '/api/v1/datasets/cases/versions', { format: 'jsonl', content: jsonl });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ dataset: 'cases', version: 1, caseCount: 2, warnings: [] });
    const csv = await s.app.inject({ method: 'GET', url: '/api/v1/datasets/cases/export?format=csv', headers: bearer(analyst) });
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    expect(csv.body.split('\n')[0]).toBe('id,input,expected,expected_documents,tags,variables,assertions,seed');
    expect((await call(analyst, 'GET', '/api/v1/datasets')).json()).toMatchObject({ datasets: [{ name: 'cases', version: 1, caseCount: 2 }] });
    expect((await call(analyst, 'GET', '/api/v1/datasets/cases/cases')).json()).toMatchObject({ version: 1, cases: [{ id: 'roof' }, { id: 'inspect' }] });
    expect((await call(analyst, 'GET', '/api/v1/datasets/cases')).json()).toMatchObject({ versions: [{ version: 1, caseCount: 2 }] });
  });

  it('runs an eval, shows its progress and results, compares two, and reports the gate', async () => {
    const started = await call(analyst, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases', trials: 2 });
    expect(started.statusCode).toBe(202);
    const a = started.json<{ id: string }>().id;
    await s.evals.idle();
    const detail = (await call(analyst, 'GET', `/api/v1/evals/${a}`)).json<EvalRunDetail>();
    expect(detail).toMatchObject({ status: 'completed', progress: { done: 4, total: 4 }, summary: { cases: 2 } });
    expect(detail.cases[0]!.results).toHaveLength(2);
    const b = (await call(analyst, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases', trials: 2 })).json<{ id: string }>().id;
    await s.evals.idle();
    const cmp = await call(analyst, 'GET', `/api/v1/evals/compare?a=${a}&b=${b}`);
    expect(cmp.statusCode).toBe(200);
    expect(cmp.json<{ metrics: { metric: string; verdict: string }[] }>().metrics.find((m) => m.metric === 'pass')).toMatchObject({ verdict: 'no_detectable_change' });
    expect((await call(analyst, 'GET', `/api/v1/evals?useCase=uw`)).json<{ evals: unknown[] }>().evals).toHaveLength(2);
    const gate = await call(analyst, 'GET', `/api/v1/evals/${a}/gate`);
    expect(gate.statusCode).toBe(400);
    expect(gate.json()).toMatchObject({ error: { code: 'validation_failed' } });
    expect((await call(analyst, 'POST', `/api/v1/evals/${a}/cancel`)).statusCode).toBe(409);
  });

  it('refuses bad input with a 4xx and hides other teams\' datasets and runs', async () => {
    expect((await call(analyst, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases', trials: 0 })).statusCode).toBe(400);
    expect((await call(analyst, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases', config: { promptVersion: 9 } })).json()).toMatchObject({ error: { code: 'validation_failed' } });
    expect((await call(analyst, 'POST', '/api/v1/datasets/cases/versions', { format: 'jsonl', content: '{"input": "a\\u0000b"}' })).statusCode).toBe(400);
    expect((await call(outsider, 'GET', '/api/v1/datasets/cases')).statusCode).toBe(404);
    expect((await call(outsider, 'GET', '/api/v1/datasets')).json()).toEqual({ datasets: [] });
    expect((await call(outsider, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases' })).statusCode).toBe(404);
    const any = (await call(analyst, 'GET', '/api/v1/evals')).json<{ evals: { id: string }[] }>().evals[0]!.id;
    expect((await call(outsider, 'GET', `/api/v1/evals/${any}`)).statusCode).toBe(404);
    expect((await call(outsider, 'GET', '/api/v1/evals/monitor?useCase=uw')).statusCode).toBe(404);
    expect((await call(outsider, 'GET', '/api/v1/evals/alerts')).json()).toEqual({ alerts: [] });
    expect((await call(outsider, 'GET', '/api/v1/evals/judges?model=local/extractive')).json()).toMatchObject({ humanAgreement: { verdicts: 0 }, selfConsistency: { answers: 0 } });
    expect((await call(analyst, 'GET', '/api/v1/evals/monitor?useCase=uw')).json()).toMatchObject({ useCase: 'uw', days: expect.any(Array) });
    expect((await call(readOnly, 'POST', '/api/v1/evals', { useCase: 'uw', dataset: 'cases' })).statusCode).toBe(403);
    expect((await call(readOnly, 'POST', '/api/v1/datasets', { name: 'x', team: 'underwriting' })).statusCode).toBe(403);
  });
});

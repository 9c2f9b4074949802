import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { DIM, startEmbeddingsStub, type EmbeddingsStub } from '../../tests/support/embeddings-stub.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

// pgvector is always there on the embedded database; the PostgreSQL of the tests has none.
const vectorsOn = BACKEND === 'pglite';

const metric = async (s: TestServer, name: string): Promise<string[]> =>
  (await s.app.inject({ method: 'GET', url: '/metrics' })).body.split('\n').filter((l) => l.startsWith(name));

const pending = async (s: TestServer, source: string): Promise<unknown> =>
  (await s.app.inject({ method: 'GET', url: `/api/v1/sources/${source}/status`, headers: bearer(s.adminToken) })).json<{ counts: { embeddingsPending?: unknown } }>().counts.embeddingsPending;

describe.runIf(vectorsOn)('search when the embeddings endpoint fails', () => {
  let s: TestServer;
  let stub: EmbeddingsStub;
  let analyst: string;
  const search = (body: Record<string, unknown>) => s.app.inject({ method: 'POST', url: '/api/v1/search', headers: bearer(s.adminToken), payload: body });

  beforeAll(async () => {
    stub = await startEmbeddingsStub();
    // The embedded database runs on the event loop: a short query timeout could fire on a busy machine.
    s = await openTestServer({ embeddings: { url: stub.url, model: 'stub', dimensions: DIM, queryTimeoutMs: 3000, retryMs: { first: 20, max: 100 } } });
    analyst = await underwritingTeam(s);
    await declareRunFixture(s, {
      docs: [
        { id: 'roof.md', text: ROOF_GUIDE },
        { id: 'auto.md', text: 'Automobile insurance covers theft and collision.' },
      ],
      useCase: { name: 'uw-assistant', posture: { deliverThreshold: 0.5 } },
    });
    await vi.waitFor(async () => expect((await s.db.query<{ n: number }>('select count(*)::int as n from chunk_embeddings')).rows[0]!.n).toBe(2), { timeout: 10_000, interval: 50 });
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  it('searches hybrid while the endpoint answers, with no warning', async () => {
    const res = await search({ query: 'car theft' });
    expect(res.json()).toMatchObject({ mode: 'hybrid', warnings: [] });
    expect(res.json<{ results: { documentId: string }[] }>().results[0]!.documentId).toBe('auto.md');
  });

  it('falls back to lexical with a warning and a metric when the endpoint answers 500', async () => {
    stub.behave('fail');
    const res = await search({ query: 'automobile theft' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ mode: 'lexical', results: [{ documentId: 'auto.md' }] });
    expect(res.json<{ warnings: string[] }>().warnings).toEqual([expect.stringMatching(/^vector search unavailable, results are lexical only: the embeddings endpoint answered HTTP 500/)]);
    expect(await metric(s, 'tarmac_retrieval_fallbacks_total')).toEqual(['tarmac_retrieval_fallbacks_total{reason="http_status"} 1']);
  });

  it('degrades an explicit hybrid search too, and refuses an explicit vector search', async () => {
    const hybrid = await search({ query: 'automobile', mode: 'hybrid' });
    expect(hybrid.json()).toMatchObject({ mode: 'lexical', warnings: [expect.stringMatching(/lexical only/)], results: [{ documentId: 'auto.md' }] });
    const vector = await search({ query: 'automobile', mode: 'vector' });
    expect(vector.statusCode).toBe(502);
    expect(vector.json()).toMatchObject({ error: { code: 'source_unavailable', message: expect.stringMatching(/HTTP 500/) } });
  });

  it('carries the warning in the manifest of context assembly and of a governed run, which completes', async () => {
    const context = await s.app.inject({ method: 'POST', url: '/api/v1/context', headers: bearer(s.adminToken), payload: { query: 'maximum roof age', recipe: { sources: ['kb'] } } });
    expect(context.statusCode).toBe(200);
    expect(context.json()).toMatchObject({ manifest: { warnings: [expect.stringMatching(/^vector search unavailable/)], chunks: [{ documentId: 'roof.md' }] } });

    const principal = await s.identity.authenticate(analyst);
    const run = await s.runs.run({ principal }, 'uw-assistant', { input: 'What is the maximum roof age for a standard homeowners policy?' });
    expect(run.status).toBe('completed');
    const record = await s.runs.get({ principal }, run.runId);
    expect(record.manifest).toMatchObject({ warnings: [expect.stringMatching(/^vector search unavailable/)] });
  });

  it('stops waiting for an endpoint that does not answer', async () => {
    stub.behave('hang');
    const res = await search({ query: 'automobile' });
    expect(res.json()).toMatchObject({ mode: 'lexical', warnings: [expect.stringMatching(/did not answer within 3000 ms/)], results: [{ documentId: 'auto.md' }] });
    expect(await metric(s, 'tarmac_retrieval_fallbacks_total{reason="timeout"}')).toEqual(['tarmac_retrieval_fallbacks_total{reason="timeout"} 1']);
  });

  it('falls back on a malformed answer and on a refused connection', async () => {
    stub.behave('malformed');
    expect((await search({ query: 'automobile' })).json()).toMatchObject({ mode: 'lexical', warnings: [expect.stringMatching(/malformed/)] });
    await stub.close();
    const res = await search({ query: 'automobile' });
    expect(res.json()).toMatchObject({ mode: 'lexical', warnings: [expect.stringMatching(/could not be reached/)], results: [{ documentId: 'auto.md' }] });
    expect(await metric(s, 'tarmac_retrieval_fallbacks_total{reason="unreachable"}')).toEqual(['tarmac_retrieval_fallbacks_total{reason="unreachable"} 1']);
  });
});

describe.runIf(vectorsOn)('chunks whose embedding failed', () => {
  let s: TestServer;
  let stub: EmbeddingsStub;
  beforeAll(async () => {
    stub = await startEmbeddingsStub(DIM, 'fail');
    s = await openTestServer({ embeddings: { url: stub.url, model: 'stub', dimensions: DIM, retryMs: { first: 20, max: 100 } } });
    await s.identity.createTeam({ principal: s.admin }, { name: 'ops' });
    await s.sources.declare({ principal: s.admin }, { name: 'kb', team: 'ops', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  it('are retried on a schedule until the endpoint recovers, with the backlog in the status and the metrics', async () => {
    await s.sources.push({ principal: s.admin }, 'kb', [
      { id: 'a.md', text: 'Automobile insurance covers theft.' },
      { id: 'b.md', text: 'Health insurance covers a visit to the physician.' },
    ]);
    // A call beyond the first pass (and its one quick retry) is a scheduled retry.
    await vi.waitFor(() => expect(stub.calls()).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 20 });
    expect(await pending(s, 'kb')).toBe(2);
    expect(await metric(s, 'tarmac_source_embeddings_pending')).toEqual(['tarmac_source_embeddings_pending{source="kb"} 2']);

    stub.behave('ok');
    await vi.waitFor(async () => expect(await pending(s, 'kb')).toBe(0), { timeout: 10_000, interval: 20 });
    expect(await metric(s, 'tarmac_source_embeddings_pending')).toEqual(['tarmac_source_embeddings_pending{source="kb"} 0']);
    const { rows } = await s.db.query<{ n: number }>('select count(*)::int as n from chunk_embeddings');
    expect(rows[0]!.n).toBe(2);
  });
});

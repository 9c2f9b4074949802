import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { DIM, startEmbeddingsStub } from '../../tests/support/embeddings-stub.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { fuse, RetrievalService, VectorIndex } from './index.js';

describe('reciprocal rank fusion', () => {
  it('ranks items found high in several lists first', () => {
    expect(fuse([[3, 1, 4], [1, 2]]).map((x) => x.id)).toEqual([1, 3, 2, 4]);
  });
});

describe(`vector and hybrid search (${BACKEND})`, () => {
  let s: TestServices;
  let stub: Awaited<ReturnType<typeof startEmbeddingsStub>>;
  let vectors: VectorIndex;
  let retrieval: RetrievalService;
  beforeAll(async () => {
    s = await openTestServices();
    stub = await startEmbeddingsStub();
    vectors = new VectorIndex(s.db, { url: stub.url, model: 'stub', dimensions: DIM });
    retrieval = new RetrievalService(s.db, s.sources, vectors);
    await s.identity.createTeam({ principal: s.admin }, { name: 'claims' });
    await s.identity.createUser({ principal: s.admin }, { email: 'outsider@example.com' });
    await s.sources.declare({ principal: s.admin }, { name: 'policies', team: 'claims', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
    await s.sources.push({ principal: s.admin }, 'policies', [
      { id: 'auto.md', text: 'Automobile insurance covers theft and collision.' },
      { id: 'health.md', text: 'Health insurance covers a visit to the physician.' },
      { id: 'secret.md', text: 'Automobile fleet discounts for partners.', allowed: ['team:claims'] },
    ]);
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  if (BACKEND === 'pglite') {
    it('embeds new chunks and finds by meaning, only what the caller may read', async () => {
      expect(await vectors.embedPending()).toBe(3);
      expect(await vectors.embedPending()).toBe(0);
      const outsider = await retrieval.identityOf(s.admin, 'outsider@example.com');
      expect(await retrieval.searchAs(outsider, { query: 'car', mode: 'lexical' })).toEqual([]);
      const byMeaning = await retrieval.searchAs(outsider, { query: 'car', k: 5, mode: 'vector' });
      expect(byMeaning[0]!.documentId).toBe('auto.md');
      expect(byMeaning.map((h) => h.documentId)).not.toContain('secret.md');
      const hybrid = await retrieval.search(s.admin, { query: 'car theft', k: 3, as: 'outsider@example.com' });
      expect(hybrid.mode).toBe('hybrid');
      expect(hybrid.results[0]!.documentId).toBe('auto.md');
      expect(hybrid.results.map((h) => h.documentId)).not.toContain('secret.md');
    });

    it('drops the embeddings of replaced chunks and embeds the new ones', async () => {
      await s.sources.push({ principal: s.admin }, 'policies', [{ id: 'auto.md', text: 'Vehicle cover ends after ten years.' }]);
      expect(await vectors.embedPending()).toBe(1);
      const { rows } = await s.db.query<{ n: number }>('select count(*)::int as n from chunk_embeddings');
      expect(rows[0]!.n).toBe(3);
    });

    it('reads float arrays from an endpoint that ignores encoding_format base64', async () => {
      const floats = await startEmbeddingsStub(DIM, 'floats');
      try {
        const index = new VectorIndex(s.db, { url: floats.url, model: 'stub', dimensions: DIM });
        await s.sources.push({ principal: s.admin }, 'policies', [{ id: 'doctor.md', text: 'Physician fees.' }]);
        expect(await index.embedPending()).toBe(1);
        const hits = await new RetrievalService(s.db, s.sources, index).searchAs(await retrieval.identityOf(s.admin), { query: 'doctor', k: 1, mode: 'vector' });
        expect(hits[0]!.documentId).toBe('doctor.md');
      } finally {
        await floats.close();
      }
    });
  } else {
    it('stays lexical where pgvector is missing, and says why vector search is refused', async () => {
      expect(await vectors.enable()).toBe(false);
      const result = await retrieval.search(s.admin, { query: 'automobile', as: 'outsider@example.com' });
      expect(result).toMatchObject({ mode: 'lexical', results: [{ documentId: 'auto.md' }] });
      await expect(retrieval.search(s.admin, { query: 'car', mode: 'vector' })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/pgvector/) });
    });
  }

  it('refuses vector search when no embedding provider is configured', async () => {
    await expect(s.retrieval.search(s.admin, { query: 'car', mode: 'hybrid' })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/TARMAC_EMBEDDINGS_URL/) });
    expect((await s.retrieval.search(s.admin, { query: 'automobile' })).mode).toBe('lexical');
  });
});

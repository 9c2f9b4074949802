import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

describe(`sources and the push connector (${BACKEND})`, () => {
  let s: TestServices;
  const caller = () => ({ principal: s.admin });
  beforeAll(async () => {
    s = await openTestServices({ maxDocumentBytes: 4096 });
    await s.identity.createTeam({ principal: s.admin }, { name: 'hr' });
    await s.sources.declare(caller(), { name: 'handbook', team: 'hr', connector: { type: 'push' }, acl: { default: ['*'], map: { staff: ['team:hr'] } }, chunking: { maxTokens: 40, overlapTokens: 8 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('indexes pushed documents, skips unchanged ones and replaces changed ones atomically', async () => {
    const first = await s.sources.push(caller(), 'handbook', [
      { id: 'leave.md', text: '# Leave\n\nEvery employee gets twenty days of paid leave a year.\n\n## Carry over\n\nUp to five days carry over to the next year.' },
      { id: 'claims.md', text: '# Claims\n\nClaims must be filed within thirty days of the incident.' },
    ]);
    expect(first.counts).toMatchObject({ added: 2, updated: 0, unchanged: 0 });
    const again = await s.sources.push(caller(), 'handbook', [{ id: 'leave.md', text: '# Leave\n\nEvery employee gets twenty days of paid leave a year.\n\n## Carry over\n\nUp to five days carry over to the next year.' }]);
    expect(again.counts).toMatchObject({ unchanged: 1, added: 0, updated: 0 });
    const { rows: before } = await s.db.query<{ doc_version: number; section_path: string[] }>("select doc_version, section_path from chunks where doc_id = 'leave.md' order by ordinal");
    expect(before.map((r) => r.section_path)).toEqual([['Leave'], ['Leave', 'Carry over']]);
    const changed = await s.sources.push(caller(), 'handbook', [{ id: 'leave.md', text: '# Leave\n\nEvery employee gets twenty-five days of paid leave a year.' }]);
    expect(changed.counts).toMatchObject({ updated: 1 });
    const { rows: after } = await s.db.query<{ doc_version: number }>("select doc_version from chunks where doc_id = 'leave.md'");
    expect(after.map((r) => r.doc_version)).toEqual([2]);
    const hits = await s.retrieval.search(s.admin, { query: 'paid leave days' });
    expect(hits.results[0]).toMatchObject({ documentId: 'leave.md', version: 2, source: 'handbook', classification: 'internal' });
  });

  it('marks an unparseable or oversized document failed with the reason and keeps the rest', async () => {
    const result = await s.sources.push(caller(), 'handbook', [
      { id: 'broken.pdf', contentBase64: Buffer.from('%PDF-1.4 garbage').toString('base64'), format: 'pdf' },
      { id: 'big.txt', text: 'x'.repeat(5000) },
      { id: 'empty.txt', text: '' },
      { id: 'ok.txt', text: 'Travel is booked through the portal.' },
    ]);
    expect(result.counts).toMatchObject({ failed: 3, added: 1 });
    const failures = await s.sources.failures(caller(), 'handbook');
    expect(failures.find((f) => f.id === 'big.txt')?.error).toMatch(/^document_too_large/);
    expect(failures.find((f) => f.id === 'broken.pdf')?.error).toMatch(/^document_unparseable/);
    expect(failures.find((f) => f.id === 'empty.txt')?.error).toMatch(/empty/);
    const status = await s.sources.status(caller(), 'handbook');
    expect(status.counts).toMatchObject({ failed: 3 });
  });

  it('deletes a pushed document with its chunks; an unknown source or document is not_found', async () => {
    await s.sources.deleteDocument(caller(), 'handbook', 'claims.md');
    const { rows } = await s.db.query("select 1 from chunks where doc_id = 'claims.md'");
    expect(rows).toHaveLength(0);
    await expect(s.sources.deleteDocument(caller(), 'handbook', 'claims.md')).rejects.toMatchObject({ code: 'not_found' });
    await expect(s.sources.push(caller(), 'nope', [{ id: 'a', text: 'a' }])).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps the term statistics equal to a recount from the chunks', async () => {
    const { rows } = await s.db.query<{ bad: number }>(
      `select count(*)::int as bad from (select u.lexeme, count(*)::int as n from chunks c, unnest(c.tsv) u group by u.lexeme) x
       full join (select * from term_stats where df > 0) t on t.lexeme = x.lexeme where x.n is distinct from t.df`,
    );
    expect(rows[0]!.bad).toBe(0);
    const { rows: totals } = await s.db.query<{ ok: boolean }>('select cs.chunks = (select count(*) from chunks) and cs.total_length = (select sum(tsv_length) from chunks) as ok from corpus_stats cs');
    expect(totals[0]!.ok).toBe(true);
  });

  it('deletes a source with its documents, chunks and their term statistics (team owners)', async () => {
    await s.sources.remove(caller(), 'handbook');
    const { rows } = await s.db.query<{ chunks: number; stats: number; docs: number }>(
      'select (select count(*)::int from chunks) as chunks, (select count(*)::int from term_stats where df > 0) as stats, (select count(*)::int from documents) as docs',
    );
    expect(rows[0]).toEqual({ chunks: 0, stats: 0, docs: 0 });
    await expect(s.sources.status(caller(), 'handbook')).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe(`who may declare sources (${BACKEND})`, () => {
  it('lets team builders declare push sources, and only admins the connectors that read the server', async () => {
    const s = await openTestServices();
    try {
      await s.identity.createTeam({ principal: s.admin }, { name: 'sales' });
      const builder = await s.identity.createUser({ principal: s.admin }, { email: 'b@example.com' });
      await s.identity.setMember({ principal: s.admin }, 'sales', builder.email, 'builder');
      const principal = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'b', user: builder.email })).token);
      const created = await s.sources.declare({ principal }, { name: 'deals', team: 'sales', connector: { type: 'push' } });
      expect(created.changed).toBe(true);
      expect((await s.sources.declare({ principal }, { name: 'deals', team: 'sales', connector: { type: 'push' } })).changed).toBe(false);
      await expect(s.sources.declare({ principal }, { name: 'files', team: 'sales', connector: { type: 'filesystem', path: '/etc' } })).rejects.toMatchObject({ code: 'forbidden' });
      await expect(
        s.sources.declare({ principal }, { name: 'leak', team: 'sales', connector: { type: 'http', url: 'http://127.0.0.1:9/x', auth: { env: 'TARMAC_EMBEDDINGS_API_KEY' } } }),
      ).rejects.toMatchObject({ code: 'forbidden' });
      await expect(s.sources.declare({ principal }, { name: 'other', team: 'nope', connector: { type: 'push' } })).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      await s.close();
    }
  });
});

// The postgres connector against a real PostgreSQL: a table with a cursor column, incremental syncs, a
// query instead of a table, and a wrong password.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { SourceService } from './index.js';

describe('postgres connector (postgres)', () => {
  let s: TestServices;
  let external: pg.Client;
  let sources: SourceService;
  const caller = () => ({ principal: s.admin });
  beforeAll(async () => {
    s = await openTestServices();
    external = new pg.Client({ connectionString: s.url });
    await external.connect();
    await external.query(`create table ext_docs (id int primary key, title text, body text, changed timestamptz, acl text[])`);
    await external.query(`insert into ext_docs values
      (1, 'Alpha', 'Alpha policy text', '2026-01-01T00:00:00Z', '{*}'),
      (2, 'Beta', 'Beta policy text', '2026-01-02T00:00:00Z', '{team:ops}')`);
    const wrong = new URL(s.url!);
    wrong.password = 'definitely-wrong';
    wrong.username = 'nobody_here';
    sources = new SourceService(s.db, s.audit, { maxDocumentBytes: 1024 * 1024, env: { EXT_DB: s.url!, BAD_DB: wrong.toString() } });
    await s.identity.createTeam(caller(), { name: 'ops' });
  });
  afterAll(async () => {
    await external?.end();
    await s?.close();
  });

  it('reads a table incrementally by its cursor column, with titles and access lists', async () => {
    await sources.declare(caller(), {
      name: 'ext',
      team: 'ops',
      connector: { type: 'postgres', urlEnv: 'EXT_DB', table: 'ext_docs', titleColumn: 'title', textColumn: 'body', cursorColumn: 'changed', allowedColumn: 'acl' },
    });
    expect(await sources.sync(caller(), 'ext')).toMatchObject({ status: 'succeeded', counts: { seen: 2, added: 2 } });
    const { rows } = await s.db.query<{ doc_id: string; title: string; allowed: string[] }>('select doc_id, title, allowed from documents order by doc_id');
    expect(rows).toEqual([
      { doc_id: '1', title: 'Alpha', allowed: ['*'] },
      { doc_id: '2', title: 'Beta', allowed: ['team:ops'] },
    ]);
    await external.query(`update ext_docs set body = 'Beta policy, revised', changed = '2026-01-03T00:00:00Z' where id = 2`);
    const second = await sources.sync(caller(), 'ext');
    expect(second.counts).toMatchObject({ seen: 1, updated: 1, deleted: 0 });
  });

  it('reads a query, and fails clearly on a wrong password', async () => {
    await sources.declare(caller(), { name: 'extq', team: 'ops', connector: { type: 'postgres', urlEnv: 'EXT_DB', query: 'select id, body as text from ext_docs where id = 1' }, acl: { default: ['*'], map: {} } });
    expect(await sources.sync(caller(), 'extq')).toMatchObject({ status: 'succeeded', counts: { added: 1 } });
    await sources.declare(caller(), { name: 'bad', team: 'ops', connector: { type: 'postgres', urlEnv: 'BAD_DB', table: 'ext_docs' } });
    const bad = await sources.sync(caller(), 'bad');
    expect(bad).toMatchObject({ status: 'failed', error: expect.stringMatching(/^source_unavailable: cannot connect to the source database/) });
  });
});

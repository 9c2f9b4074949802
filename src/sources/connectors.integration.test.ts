import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { buildDocx, buildPdf } from '../../tests/support/files.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { SourceService } from './index.js';

describe(`connectors and incremental sync (${BACKEND})`, () => {
  let s: TestServices;
  let dir: string;
  const caller = () => ({ principal: s.admin });
  const docIds = async (source: string) =>
    (await s.db.query<{ doc_id: string }>('select doc_id from documents d join sources s on s.id = d.source_id where s.name = $1 order by doc_id', [source])).rows.map((r) => r.doc_id);

  beforeAll(async () => {
    s = await openTestServices();
    dir = mkdtempSync(path.join(tmpdir(), 'tarmac-connectors-'));
    await s.identity.createTeam({ principal: s.admin }, { name: 'ops' });
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('filesystem: globs, sidecar access lists, every format, deletions by listing diff', async () => {
    const root = path.join(dir, 'files');
    mkdirSync(path.join(root, 'hr'), { recursive: true });
    writeFileSync(path.join(root, 'readme.md'), '# Readme\n\nGeneral onboarding notes.');
    writeFileSync(path.join(root, 'hr', 'leave.docx'), buildDocx('Leave', ['Twenty days of leave.']));
    writeFileSync(path.join(root, 'hr', 'claims.pdf'), buildPdf(['Claims are paid within ten days.']));
    writeFileSync(path.join(root, 'hr', 'broken.pdf'), '%PDF-1.4 not really');
    writeFileSync(path.join(root, 'hr', '.acl.json'), JSON.stringify({ allowed: ['hr-staff'] }));
    writeFileSync(path.join(root, 'hr', 'claims.pdf.acl.json'), JSON.stringify(['user:ceo@example.com']));
    writeFileSync(path.join(root, 'skip.tmp'), 'temporary');
    await s.sources.declare(caller(), {
      name: 'files',
      team: 'ops',
      connector: { type: 'filesystem', path: root, exclude: ['**/*.tmp'] },
      acl: { default: ['*'], map: { 'hr-staff': ['team:ops'] } },
    });
    const first = await s.sources.sync(caller(), 'files');
    expect(first).toMatchObject({ status: 'succeeded', counts: { seen: 4, added: 3, failed: 1 } });
    expect(await docIds('files')).toEqual(['hr/broken.pdf', 'hr/claims.pdf', 'hr/leave.docx', 'readme.md']);
    const { rows } = await s.db.query<{ doc_id: string; allowed: string[] }>("select doc_id, allowed from documents where doc_id in ('readme.md', 'hr/leave.docx', 'hr/claims.pdf') order by doc_id");
    expect(rows).toEqual([
      { doc_id: 'hr/claims.pdf', allowed: ['user:ceo@example.com'] },
      { doc_id: 'hr/leave.docx', allowed: ['team:ops'] },
      { doc_id: 'readme.md', allowed: ['*'] },
    ]);
    const again = await s.sources.sync(caller(), 'files');
    expect(again.counts).toMatchObject({ unchanged: 4, added: 0, updated: 0, deleted: 0 });
    rmSync(path.join(root, 'readme.md'));
    writeFileSync(path.join(root, 'hr', 'leave.docx'), buildDocx('Leave', ['Twenty-five days of leave.']));
    const third = await s.sources.sync(caller(), 'files');
    expect(third.counts).toMatchObject({ updated: 1, deleted: 1 });
    expect(await docIds('files')).toEqual(['hr/broken.pdf', 'hr/claims.pdf', 'hr/leave.docx']);
    const status = await s.sources.status(caller(), 'files');
    expect(status).toMatchObject({ lastStatus: 'succeeded', stale: false, counts: { total: 3, failed: 1, updated: 1, deleted: 1 } });
  });

  it('records: field rules quarantine bad rows with the reason; precedence picks per field and keeps the losers', async () => {
    const csv = path.join(dir, 'customers.csv');
    writeFileSync(csv, 'id,name,tier,credit\nc1,Acme,gold,1000\nc2,Globex,,abc\nc3,Initech,silver,50,extra\n,NoKey,gold,1\n');
    const crm = path.join(dir, 'crm.jsonl');
    writeFileSync(crm, '{"id":"c1","name":"ACME Corp","tier":"platinum"}\n{not json}\n');
    const rules = [
      { name: 'name', type: 'string' as const, required: true },
      { name: 'tier', type: 'string' as const, required: true },
      { name: 'credit', type: 'number' as const },
    ];
    await s.sources.declare(caller(), { name: 'billing', team: 'ops', connector: { type: 'records', path: csv, key: 'id', titleField: 'name' }, fields: rules, precedence: 10, acl: { default: ['*'], map: {} } });
    await s.sources.declare(caller(), { name: 'crm', team: 'ops', connector: { type: 'records', path: crm, key: 'id' }, fields: [{ name: 'name', type: 'string', required: true }], precedence: 5, acl: { default: ['*'], map: {} } });
    const billing = await s.sources.sync(caller(), 'billing');
    expect(billing.counts).toMatchObject({ added: 1, quarantined: 3 });
    const q = await s.sources.quarantine(caller(), 'billing');
    expect(q.map((x) => [x.id, x.reason])).toEqual([
      ['c2', 'tier: required; credit: expected number, got "abc"'],
      ['c3', 'ragged row: the number of fields differs from the header'],
      ['line:5', 'missing key field id'],
    ]);
    const crmRun = await s.sources.sync(caller(), 'crm');
    expect(crmRun.counts).toMatchObject({ added: 1, quarantined: 1 });
    const entity = await s.sources.lookup(['*'], 'c1');
    expect(entity.fields.name).toMatchObject({ value: 'Acme', source: 'billing', competing: [{ value: 'ACME Corp', source: 'crm' }] });
    expect(entity.fields.tier).toMatchObject({ value: 'gold', source: 'billing', competing: [{ value: 'platinum', source: 'crm' }] });
    expect(entity.fields.credit).toMatchObject({ value: 1000, source: 'billing', competing: [] });
    // Fixing the row releases it from quarantine.
    writeFileSync(csv, 'id,name,tier,credit\nc1,Acme,gold,1000\nc2,Globex,bronze,5\n');
    const fixed = await s.sources.sync(caller(), 'billing');
    expect(fixed.counts).toMatchObject({ updated: 1, deleted: 2, unchanged: 1 });
    expect(await s.sources.quarantine(caller(), 'billing')).toEqual([]);
  });

  describe('http', () => {
    let server: Server;
    let base = '';
    const requests: { url: string; auth: string | undefined }[] = [];
    let failOnPage2 = false;
    const items = Array.from({ length: 5 }, (_, i) => ({ key: `h${i}`, body: { text: `Item ${i} about shipping` }, title: `Item ${i}`, modified: `2026-01-0${i + 1}T00:00:00Z`, acl: ['*'] }));
    beforeAll(async () => {
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://x');
        requests.push({ url: url.pathname + url.search, auth: req.headers['x-token'] as string | undefined });
        if (req.headers['x-token'] !== 'Token s3cret') {
          res.writeHead(401).end();
          return;
        }
        const page = Number(url.searchParams.get('page') ?? '1');
        if (page === 2 && failOnPage2) {
          res.writeHead(500).end('boom');
          return;
        }
        const since = url.searchParams.get('since');
        const list = items.filter((i) => !since || i.modified > since);
        const slice = list.slice((page - 1) * 2, page * 2);
        const next = page * 2 < list.length ? String(page + 1) : null;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { rows: slice }, next }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('pages, maps fields, sends the auth header from the environment and syncs incrementally; a 500 halfway fails the run and keeps what was indexed', async () => {
      const spec = {
        name: 'tickets',
        team: 'ops',
        connector: {
          type: 'http' as const,
          url: `${base}/items`,
          itemsPath: 'data.rows',
          nextPath: 'next',
          cursorParam: 'page',
          updatedSinceParam: 'since',
          fields: { id: 'key', title: 'title', text: 'body.text', updatedAt: 'modified', allowed: 'acl' },
          auth: { header: 'x-token', env: 'TICKETS_TOKEN', prefix: 'Token ' },
        },
      };
      const env = { TICKETS_TOKEN: 's3cret' };
      const sources = new SourceService(s.db, s.audit, { maxDocumentBytes: 1024 * 1024, env });
      await sources.declare(caller(), spec);
      const first = await sources.sync(caller(), 'tickets');
      expect(first).toMatchObject({ status: 'succeeded', counts: { seen: 5, added: 5 } });
      expect(requests.map((r) => r.url)).toEqual(['/items', '/items?page=2', '/items?page=3']);
      items.push({ key: 'h5', body: { text: 'New item' }, title: 'Item 5', modified: '2026-02-01T00:00:00Z', acl: ['*'] });
      requests.length = 0;
      const second = await sources.sync(caller(), 'tickets');
      expect(second.counts).toMatchObject({ seen: 1, added: 1, deleted: 0 });
      expect(requests[0]!.url).toBe(`/items?since=${encodeURIComponent('2026-01-05T00:00:00Z')}`);
      expect(await docIds('tickets')).toHaveLength(6);

      await s.db.query("delete from source_cursors where source_id = (select id from sources where name = 'tickets')");
      failOnPage2 = true;
      const failed = await sources.sync(caller(), 'tickets');
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/^source_unavailable: .*HTTP 500/);
      expect(await docIds('tickets')).toHaveLength(6);
      const status = await sources.status(caller(), 'tickets');
      expect(status).toMatchObject({ lastStatus: 'failed', counts: { total: 6 } });
      const hits = await s.retrieval.search(s.admin, { query: 'shipping' });
      expect(hits.results.length).toBe(5);
      const noEnv = await s.sources.sync(caller(), 'tickets');
      expect(noEnv).toMatchObject({ status: 'failed', error: expect.stringMatching(/TICKETS_TOKEN/) });
    });
  });

  it('postgres: a refused connection fails the sync with a clear reason and no crash', async () => {
    const sources = new SourceService(s.db, s.audit, {
      maxDocumentBytes: 1024,
      env: { BAD_DB: 'postgres://tarmac:wrong@127.0.0.1:1/nowhere' },
    });
    await sources.declare(caller(), { name: 'warehouse', team: 'ops', connector: { type: 'postgres', urlEnv: 'BAD_DB', table: 'docs' } });
    const result = await sources.sync(caller(), 'warehouse');
    expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/^source_unavailable: cannot connect to the source database/) });
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';

describe(`context assembly from a recipe (${BACKEND})`, () => {
  let s: TestServer;
  let dir: string;
  const caller = () => ({ principal: s.admin });
  beforeAll(async () => {
    s = await openTestServer();
    dir = mkdtempSync(path.join(tmpdir(), 'tarmac-context-'));
    await s.identity.createTeam(caller(), { name: 'support' });
    await s.sources.declare(caller(), { name: 'kb', team: 'support', connector: { type: 'push' }, acl: { default: ['*'], map: {} }, freshness: '1h' });
    await s.sources.declare(caller(), { name: 'secret', team: 'support', classification: 'restricted', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
    await s.sources.push(caller(), 'kb', [
      { id: 'refunds.md', text: '# Refunds\n\nRefunds are paid within 14 days for gold customers and 30 days otherwise.' },
      { id: 'shipping.md', text: '# Shipping\n\nRefunds for shipping costs are never paid.' },
    ]);
    await s.sources.push(caller(), 'secret', [{ id: 'margins.md', text: 'Refunds cost us 2% of margin.' }]);
    const csv = path.join(dir, 'crm.csv');
    writeFileSync(csv, 'id,name,tier\nc1,Acme,gold\n');
    const erp = path.join(dir, 'erp.csv');
    writeFileSync(erp, 'id,name,tier\nc1,ACME Ltd,silver\n');
    await s.sources.declare(caller(), { name: 'crm', team: 'support', precedence: 10, connector: { type: 'records', path: csv, key: 'id' }, acl: { default: ['*'], map: {} } });
    await s.sources.declare(caller(), { name: 'erp', team: 'support', precedence: 1, connector: { type: 'records', path: erp, key: 'id' }, acl: { default: ['*'], map: {} } });
    await s.sources.sync(caller(), 'crm');
    await s.sources.sync(caller(), 'erp');
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('packs lookups and chunks into the budget and records every chunk, field and rule in the manifest', async () => {
    const { context, manifest } = await s.retrieval.assemble(s.admin, {
      sources: ['kb', 'secret'],
      lookups: [{ name: 'customer', key: '{customer}', fields: [{ name: 'tier', required: true }, { name: 'name', required: false }] }],
      exclude: { above: 'confidential' },
      tokenBudget: 200,
      fallback: { staleSource: 'proceed_flagged' },
    }, { query: 'refunds paid', inputs: { customer: 'c1' } });
    expect(context).toContain('- tier: gold [crm]');
    expect(context).toContain('Refunds are paid within 14 days');
    expect(context).not.toContain('margin');
    expect(manifest.lookups[0]!.fields.tier).toMatchObject({ value: 'gold', source: 'crm', competing: [{ value: 'silver', source: 'erp' }] });
    expect(manifest.chunks.map((c) => c.documentId)).toEqual(['refunds.md', 'shipping.md']);
    expect(manifest.chunks[0]).toMatchObject({ source: 'kb', version: 1, classification: 'internal', freshness: { stale: false } });
    expect(manifest.rules.map((r) => r.rule)).toEqual(expect.arrayContaining(['precedence', 'exclude.classification']));
    expect(manifest.tokensUsed).toBeLessThanOrEqual(200);
    expect(manifest.flagged).toBe(false);
  });

  it('applies the fallbacks: fail, warn and proceed_flagged', async () => {
    const recipe = { lookups: [{ name: 'customer', key: 'c1', fields: [{ name: 'credit', required: true }] }] };
    await expect(s.retrieval.assemble(s.admin, recipe, { query: 'refunds' })).rejects.toMatchObject({ code: 'required_field_missing' });
    const warned = await s.retrieval.assemble(s.admin, { ...recipe, fallback: { missingField: 'warn' } }, { query: 'refunds' });
    expect(warned.manifest).toMatchObject({ flagged: false, warnings: [expect.stringMatching(/credit is missing/)] });
    const flagged = await s.retrieval.assemble(s.admin, { ...recipe, fallback: { missingField: 'proceed_flagged' } }, { query: 'refunds' });
    expect(flagged.manifest.flagged).toBe(true);
    // kb's SLA is one hour: make its last success two hours old.
    await s.db.query("update sources set last_success_at = now() - interval '2 hours' where name = 'kb'");
    await expect(s.retrieval.assemble(s.admin, { sources: ['kb'], fallback: { staleSource: 'fail' } }, { query: 'refunds' })).rejects.toMatchObject({ code: 'source_stale' });
    const stale = await s.retrieval.assemble(s.admin, { sources: ['kb'], exclude: { stale: true } }, { query: 'refunds' });
    expect(stale.manifest.chunks).toEqual([]);
    expect(stale.manifest.rules.some((r) => r.rule === 'exclude.stale')).toBe(true);
  });

  it('serves POST /api/v1/context and POST /api/v1/search over HTTP', async () => {
    const headers = { authorization: `Bearer ${s.adminToken}` };
    const search = await s.app.inject({ method: 'POST', url: '/api/v1/search', headers, payload: { query: 'refunds', k: 1 } });
    expect(search.statusCode).toBe(200);
    expect(search.json()).toMatchObject({ mode: 'lexical', results: [{ source: expect.any(String) }] });
    const ctx = await s.app.inject({ method: 'POST', url: '/api/v1/context', headers, payload: { query: 'refunds', recipe: { sources: ['secret'] } } });
    expect(ctx.statusCode).toBe(200);
    expect(ctx.json()).toMatchObject({ manifest: { chunks: [{ documentId: 'margins.md', classification: 'restricted' }] } });
    const status = await s.app.inject({ method: 'GET', url: '/api/v1/sources/kb/status', headers });
    expect(status.json()).toMatchObject({ source: 'kb', stale: true, freshnessSlaSeconds: 3600, counts: { total: 2 } });
    const unknown = await s.app.inject({ method: 'POST', url: '/api/v1/sources/nope/documents', headers, payload: { documents: [{ id: 'a', text: 'a' }] } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe(`record lookups as the caller (${BACKEND})`, () => {
  let s: TestServer;
  let dir: string;
  const admin = () => ({ principal: s.admin });
  const recipe = { lookups: [{ name: 'customer', key: '{customer}', fields: [{ name: 'tier', required: true }, { name: 'credit', required: false }] }], fallback: { missingField: 'warn' as const } };
  const contextAs = async (token: string, customer: string) => {
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/context', headers: { authorization: `Bearer ${token}` }, payload: { query: 'refunds', recipe, inputs: { customer } } });
    expect(res.statusCode).toBe(200);
    return res.json<{ context: string; manifest: { lookups: { found: boolean; fields: Record<string, { value: unknown; source: string; competing: { source: string }[] } | null>; sources: { name: string }[] }[]; rules: { rule: string; detail: string }[]; warnings: string[] } }>();
  };
  let insider = '';
  let outsider = '';
  beforeAll(async () => {
    s = await openTestServer();
    dir = mkdtempSync(path.join(tmpdir(), 'tarmac-lookup-acl-'));
    await s.identity.createTeam(admin(), { name: 'finance' });
    for (const email of ['insider@x.io', 'outsider@x.io']) await s.identity.createUser(admin(), { email });
    await s.identity.setMember(admin(), 'finance', 'insider@x.io', 'viewer');
    insider = (await s.identity.createKey(admin(), { name: 'i', user: 'insider@x.io' })).token;
    outsider = (await s.identity.createKey(admin(), { name: 'o', user: 'outsider@x.io' })).token;
    const ledger = path.join(dir, 'ledger.jsonl');
    writeFileSync(ledger, '{"id":"c1","tier":"gold","credit":90000,"acl":"team:finance"}\n{"id":"c2","tier":"silver","credit":5,"acl":["*"]}\n');
    const crm = path.join(dir, 'crm.csv');
    writeFileSync(crm, 'id,tier\nc1,bronze\n');
    // The ledger guards each record with its own list; the CRM is open to everyone.
    await s.sources.declare(admin(), { name: 'ledger', team: 'finance', precedence: 10, connector: { type: 'records', path: ledger, key: 'id', allowedField: 'acl' }, acl: { default: [], map: {} } });
    await s.sources.declare(admin(), { name: 'crm', team: 'finance', precedence: 1, connector: { type: 'records', path: crm, key: 'id' }, acl: { default: ['*'], map: {} } });
    await s.sources.sync(admin(), 'ledger');
    await s.sources.sync(admin(), 'crm');
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a member the guarded record, with the open source as a competing value', async () => {
    const { context, manifest } = await contextAs(insider, 'c1');
    expect(manifest.lookups[0]).toMatchObject({ found: true, fields: { tier: { value: 'gold', source: 'ledger', competing: [{ source: 'crm' }] }, credit: { value: 90000 } } });
    expect(context).toContain('- credit: 90000 [ledger]');
    // The access list guards the record; it is not one of its fields.
    expect(Object.keys(manifest.lookups[0]!.fields)).toEqual(['tier', 'credit']);
  });

  it('never shows an outsider a record they may not read, nor that it exists', async () => {
    const { context, manifest } = await contextAs(outsider, 'c1');
    expect(manifest.lookups[0]).toMatchObject({ found: true, fields: { tier: { value: 'bronze', source: 'crm', competing: [] }, credit: null }, sources: [{ name: 'crm' }] });
    expect(JSON.stringify(manifest)).not.toContain('ledger');
    expect(JSON.stringify(manifest)).not.toContain('90000');
    expect(context).not.toContain('gold');
    expect(manifest.rules.some((r) => r.rule === 'precedence')).toBe(false);
  });

  it('treats a key whose every record is guarded as missing, and applies the fallback', async () => {
    await s.db.query("update records set allowed = '{team:finance}' where record_key = 'c2'");
    const { manifest } = await contextAs(outsider, 'c2');
    expect(manifest.lookups[0]).toMatchObject({ found: false, fields: { tier: null, credit: null }, sources: [] });
    expect(manifest.warnings).toEqual([expect.stringMatching(/required field tier is missing for key c2/)]);
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/context', headers: { authorization: `Bearer ${outsider}` }, payload: { query: 'refunds', recipe: { lookups: recipe.lookups }, inputs: { customer: 'c2' } } });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ error: { code: 'required_field_missing' } });
    expect((await contextAs(insider, 'c2')).manifest.lookups[0]).toMatchObject({ found: true, fields: { tier: { value: 'silver', source: 'ledger' } } });
  });
});

describe(`per-source metrics (${BACKEND})`, () => {
  it('exports lag, staleness, document and chunk counts per source on /metrics', async () => {
    const s = await openTestServer();
    try {
      await s.identity.createTeam({ principal: s.admin }, { name: 'ops' });
      await s.sources.declare({ principal: s.admin }, { name: 'wiki', team: 'ops', connector: { type: 'push' }, freshness: 60, acl: { default: ['*'], map: {} } });
      await s.sources.declare({ principal: s.admin }, { name: 'never', team: 'ops', connector: { type: 'push' }, freshness: 60 });
      await s.sources.push({ principal: s.admin }, 'wiki', [{ id: 'a', text: 'alpha' }, { id: 'b', text: '' }]);
      const text = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(text).toMatch(/tarmac_source_lag_seconds\{source="wiki"\} \d+/);
      expect(text).toContain('tarmac_source_lag_seconds{source="never"} -1');
      expect(text).toContain('tarmac_source_stale{source="never"} 1');
      expect(text).toContain('tarmac_source_stale{source="wiki"} 0');
      expect(text).toContain('tarmac_source_documents{source="wiki",status="indexed"} 1');
      expect(text).toContain('tarmac_source_documents{source="wiki",status="failed"} 1');
      expect(text).not.toContain('status="chunks"');
      expect(text).toContain('tarmac_source_chunks{source="wiki"} 1');
    } finally {
      await s.close();
    }
  });
});

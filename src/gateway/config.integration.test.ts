// The gateway section of tarmac.yaml (validated, diffed, audited) and the trace writer's guarantees.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { storedGatewayConfig } from './index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TraceJournal, TraceWriter, type GatewayTrace } from './traces.js';

let s: TestServices;
const ctx = { actor: systemActor('test') };

beforeAll(async () => {
  s = await openTestServices();
});

afterAll(async () => {
  await s?.close();
});

const file = (routes: string) => `version: 1
gateway:
  providers:
    - { name: openai, type: openai-compatible, baseUrl: https://api.openai.com/v1, apiKeyEnv: OPENAI_API_KEY }
  routes:
${routes}
`;

describe('the gateway section of tarmac.yaml', () => {
  it('is stored, shown as a diff, audited, and a second apply changes nothing', async () => {
    const first = await s.workspace.applyAs(ctx, file('    - { name: default, targets: [{ provider: openai, model: gpt-4o-mini }] }'), 'a.yaml', { dryRun: false });
    expect(first.changes).toEqual([expect.objectContaining({ op: 'create', kind: 'gateway', name: 'gateway' })]);
    expect((await storedGatewayConfig(s.db)).routes[0]?.name).toBe('default');
    const again = await s.workspace.applyAs(ctx, file('    - { name: default, targets: [{ provider: openai, model: gpt-4o-mini }] }'), 'a.yaml', { dryRun: false });
    expect(again.changes).toEqual([]);
    const changed = await s.workspace.applyAs(ctx, file('    - { name: default, targets: [{ provider: openai, model: gpt-4.1 }] }'), 'a.yaml', { dryRun: false });
    expect(changed.changes[0]).toMatchObject({ op: 'update', kind: 'gateway', fields: [{ path: 'routes', from: [{ name: 'default' }], to: [{ name: 'default' }] }] });
    const { rows } = await s.db.query<{ action: string }>("select action from audit_entries where target_type = 'gateway' order by seq");
    expect(rows.map((r) => r.action)).toEqual(['gateway.created', 'gateway.updated']);
  });

  it('refuses routes to unknown providers and duplicate names, with the line', async () => {
    const bad = file('    - { name: default, targets: [{ provider: nowhere, model: x }] }\n    - { name: default, targets: [{ provider: local, model: extractive }] }');
    const err = await s.workspace.applyAs(ctx, bad, 'bad.yaml', { dryRun: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect((err as Error).message).toContain('unknown provider nowhere');
    expect((err as Error).message).toContain('duplicate route default');
    expect((err as Error).message).toMatch(/bad\.yaml:\d+/);
  });
});

describe('TraceWriter', () => {
  const trace = (i: number): GatewayTrace => ({
    id: `run_bp_${i}`,
    at: new Date().toISOString(),
    request_id: null,
    key_id: null,
    team_id: null,
    use_case: null,
    eval_run: null,
    endpoint: 'chat',
    route: 'r',
    requested_model: 'r',
    provider: null,
    model: null,
    attempts: [],
    fallbacks: 0,
    stream: false,
    status: 'ok',
    http_status: 200,
    error_code: null,
    classification: 'internal',
    pii_types: ['EMAIL'],
    cache_hit: false,
    first_token_ms: null,
    total_ms: 1,
    input_tokens: 1,
    output_tokens: 1,
    cached_tokens: 0,
    cost_usd: 0.5,
    cost_estimated: false,
  });

  it('answers each trace once it is committed, sharing statements, and a bad trace fails alone', async () => {
    const statements: string[] = [];
    const query = s.db.query.bind(s.db);
    const spy = Object.assign(Object.create(s.db) as typeof s.db, {
      query: ((sql: string, params?: unknown[]) => {
        statements.push(sql);
        return query(sql, params);
      }),
    });
    const grouped = new TraceWriter(spy, { batchSize: 7 });
    const bad = { ...trace(5), total_ms: 'not a number' as unknown as number };
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => (i === 5 ? grouped.record(bad) : grouped.record(trace(i)))));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(results[5]?.status).toBe('rejected');
    const { rows } = await s.db.query<{ n: number }>("select count(*)::int as n from gateway_traces where id like 'run_bp_%'");
    expect(rows[0]?.n).toBe(29);
    // 30 concurrent traces in batches of at most 7, plus one retry per trace of the batch that failed.
    expect(statements.length).toBeLessThan(30);
    await grouped.close();
    await expect(grouped.record(trace(1000))).rejects.toThrow('closed');
  });

  it('with a journal, answers before the commit and keeps what was never committed for the next start', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tarmac-journal-')), 'gateway-traces.journal');
    const { journal } = await TraceJournal.open(s.db, file);
    // A database that never answers: the process is killed before any trace is committed.
    const stuck = Object.assign(Object.create(s.db) as typeof s.db, { query: (() => new Promise(() => undefined)) });
    const writer = new TraceWriter(stuck, { batchSize: 7, journal });
    for (let i = 0; i < 12; i++) await writer.record(trace(2000 + i));
    journal.close();
    const { rows: before } = await s.db.query<{ n: number }>("select count(*)::int as n from gateway_traces where id like 'run_bp_20__'");
    expect(before[0]?.n).toBe(0);
    const reopened = await TraceJournal.open(s.db, file);
    expect(reopened.replayed).toBe(12);
    const { rows } = await s.db.query<{ n: number }>("select count(*)::int as n from gateway_traces where id like 'run_bp_20__'");
    expect(rows[0]?.n).toBe(12);
    const live = new TraceWriter(s.db, { batchSize: 7, journal: reopened.journal });
    await live.record(trace(3000));
    await live.close();
    const { rows: after } = await s.db.query<{ n: number }>("select count(*)::int as n from gateway_traces where id = 'run_bp_3000'");
    expect(after[0]?.n).toBe(1);
    expect((await TraceJournal.open(s.db, file)).replayed).toBe(0);
  });
});

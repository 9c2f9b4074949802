// Trace retention: the gateway policy's retention.traceDays deletes older traces in bounded batches, audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

let s: TestServices;
const NOW = new Date('2026-06-15T12:00:00.000Z');
const ctx = { actor: systemActor('scheduler') };

const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

async function insertTraces(ats: string[]): Promise<void> {
  const rows = ats.map((at, i) => ({
    id: `run_retention_${i}_${at}`,
    at,
    endpoint: 'chat',
    attempts: [],
    fallbacks: 0,
    stream: false,
    status: 'ok',
    http_status: 200,
    pii_types: [],
    cache_hit: false,
    total_ms: 1,
    input_tokens: 0,
    output_tokens: 0,
    cached_tokens: 0,
    cost_usd: 0,
    cost_estimated: false,
  }));
  await s.db.query('insert into gateway_traces select * from jsonb_populate_recordset(null::gateway_traces, $1::jsonb)', [JSON.stringify(rows)]);
}

const remaining = async () => (await s.db.query<{ at: Date }>('select at from gateway_traces order by at')).rows.map((r) => new Date(r.at).toISOString());

beforeAll(async () => {
  s = await openTestServices();
});

afterAll(async () => {
  await s?.close();
});

describe('gateway trace retention', () => {
  it('keeps every trace while the policy sets no traceDays', async () => {
    await insertTraces([daysAgo(400), daysAgo(1)]);
    expect(await s.gateway.pruneTraces(s.audit, ctx, { now: NOW })).toEqual({ traceDays: null, before: null, deleted: 0, batches: 0 });
    expect(await remaining()).toHaveLength(2);
    await s.db.query('delete from gateway_traces');
  });

  it('deletes traces older than traceDays in batches, oldest first, with one audit entry per batch', async () => {
    await s.workspace.applyAs(ctx, 'version: 1\npolicies:\n  - name: default\n    retention: { traceDays: 30 }\n', 'policy.yaml', { dryRun: false });
    const old = [daysAgo(90), daysAgo(45), daysAgo(31), daysAgo(30.01), daysAgo(30.001)];
    const kept = [daysAgo(29.999), daysAgo(1), NOW.toISOString()];
    await insertTraces([...old, ...kept]);
    const result = await s.gateway.pruneTraces(s.audit, ctx, { now: NOW, batchSize: 2 });
    expect(result).toEqual({ traceDays: 30, before: daysAgo(30), deleted: 5, batches: 3 });
    expect(await remaining()).toEqual(kept);
    const { entries } = await s.audit.list({ action: 'gateway.traces_deleted', limit: 10 });
    expect(entries.map((e) => (e.after as { deleted: number }).deleted).sort()).toEqual([1, 2, 2]);
    expect(entries[0]).toMatchObject({ actor: { type: 'system', id: 'scheduler' }, target: { type: 'policy', id: 'default' }, after: { traceDays: 30, before: daysAgo(30) } });
  });

  it('does nothing, and audits nothing, when no trace is old enough', async () => {
    const before = (await s.audit.list({ action: 'gateway.traces_deleted', limit: 10 })).entries.length;
    expect(await s.gateway.pruneTraces(s.audit, ctx, { now: NOW })).toMatchObject({ deleted: 0, batches: 0 });
    expect((await s.audit.list({ action: 'gateway.traces_deleted', limit: 10 })).entries).toHaveLength(before);
    expect(await remaining()).toHaveLength(3);
  });
});

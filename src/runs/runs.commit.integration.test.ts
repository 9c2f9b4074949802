import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

// Concurrent runs share their writes (group commit): each caller is answered only once its own record is stored.
describe(`run records, committed together (${BACKEND})`, () => {
  let s: TestServices;
  let analyst: Principal;
  let transactions = 0;
  let answered = 0;
  let holdFirst = false;
  const RUNS = 12;

  beforeAll(async () => {
    s = await openTestServices();
    const admin = { principal: s.admin };
    await s.identity.createTeam(admin, { name: 'underwriting' });
    for (const [email, role] of [['owner@x.io', 'owner'], ['analyst@x.io', 'builder'], ['rev1@x.io', 'reviewer'], ['rev2@x.io', 'reviewer']] as const) {
      await s.identity.createUser(admin, { email });
      await s.identity.setMember(admin, 'underwriting', email, role);
    }
    analyst = await s.identity.authenticate((await s.identity.createKey(admin, { name: 'a', user: 'analyst@x.io' })).token);
    // Every delivered run is sampled: each opens a review task and writes an audit entry beside its record.
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw-sampled', posture: { reviewSampleRate: 1 } } });
    const chat = s.gateway.chat.bind(s.gateway);
    s.gateway.chat = async (...args) => {
      const reply = await chat(...args);
      answered++;
      return reply;
    };
    // The first commit waits until every run has its answer: the others' records arrive while it is in flight.
    const transaction = s.db.transaction.bind(s.db);
    s.db.transaction = async (fn) => {
      transactions++;
      if (holdFirst) {
        holdFirst = false;
        while (answered < RUNS) await new Promise((r) => setImmediate(r));
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      }
      return transaction(fn);
    };
  });
  afterAll(async () => {
    await s.close();
  });

  it('answers no run before its record, its review task and their audit entry are readable, and shares their transactions', async () => {
    transactions = 0;
    answered = 0;
    holdFirst = true;
    const seen = await Promise.all(
      Array.from({ length: RUNS }, async (_, i) => {
        const result = await s.runs.run({ principal: analyst, requestId: `req-${i}` }, 'uw-sampled', { input: `What is the maximum roof age for a standard homeowners policy? (${i})` });
        // Read at once, as another client would, before anything else may commit.
        const [run, task] = await Promise.all([
          s.db.query<{ request_id: string }>('select request_id from runs where id = $1', [result.runId]),
          s.db.query<{ id: string; assignee_user_id: string | null }>('select id, assignee_user_id from review_tasks where run_id = $1', [result.runId]),
        ]);
        const taskId = task.rows[0]?.id ?? '';
        const audited = await s.db.query<{ request_id: string | null }>("select request_id from audit_entries where action = 'review.opened' and target_id = $1", [taskId]);
        return { i, run: run.rows[0]?.request_id, task: taskId, assignee: task.rows[0]?.assignee_user_id, audited: audited.rows.map((r) => r.request_id) };
      }),
    );
    for (const r of seen) expect(r).toMatchObject({ run: `req-${r.i}`, task: expect.stringMatching(/^rvw_/), audited: [`req-${r.i}`] });
    // The first run's commit, then one for the eleven whose records, tasks and audit entries queued behind it.
    expect(transactions).toBeLessThanOrEqual(3);
    // Tasks committed together are still spread over the least loaded reviewers, one after another.
    const perReviewer = new Map<string, number>();
    for (const r of seen) perReviewer.set(r.assignee ?? '', (perReviewer.get(r.assignee ?? '') ?? 0) + 1);
    expect([...perReviewer.values()].sort()).toEqual([RUNS / 2, RUNS / 2]);
    expect((await s.audit.verify()).ok).toBe(true);
  });
});

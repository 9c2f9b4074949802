import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

describe(`review queue (${BACKEND})`, () => {
  let s: TestServer;
  let clock = new Date('2026-11-23T09:00:00Z');
  const notices: unknown[] = [];
  let failNextNotice = false;
  const p: Record<string, Principal> = {};
  const tokens: Record<string, string> = {};
  let url: string;

  beforeAll(async () => {
    s = await openTestServer({
      reviewClock: () => clock,
      reviewNotify: async (url, payload) => {
        if (failNextNotice) {
          failNextNotice = false;
          throw new Error(`webhook ${url} answered 503`);
        }
        notices.push(payload);
      },
    });
    const admin = { principal: s.admin };
    await s.identity.createTeam(admin, { name: 'underwriting' });
    for (const [email, role] of [
      ['owner@x.io', 'owner'],
      ['analyst@x.io', 'builder'],
      ['rev1@x.io', 'reviewer'],
      ['rev2@x.io', 'reviewer'],
      ['lead@x.io', 'reviewer'],
    ] as const) {
      await s.identity.createUser(admin, { email });
      await s.identity.setMember(admin, 'underwriting', email, role);
      tokens[email] = (await s.identity.createKey(admin, { name: email, user: email })).token;
      p[email] = await s.identity.authenticate(tokens[email]);
    }
    await declareRunFixture(s, {
      docs: [{ id: 'guide.md', text: '# Roofs\n\nA standard homeowners policy may be written for roofs up to 20 years old.' }],
      useCase: {
        name: 'uw',
        posture: {
          deliverThreshold: 0.6,
          reviewSlaMinutes: 30,
          escalation: [{ afterMinutes: 20, notify: 'http://127.0.0.1:9/hook', assignTo: 'owner@x.io' }],
          timeoutAction: 'block',
          reviewNotify: 'http://127.0.0.1:9/decided',
        },
      },
    });
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await s.close();
  });

  const held = async () => {
    const r = await s.runs.run({ principal: p['analyst@x.io']! }, 'uw', { input: 'Are earthquake deductibles fifteen percent in coastal counties?' });
    expect(r.decision).toBe('held_for_review');
    const [task] = (await s.review.list({ principal: s.admin }, { status: 'open', limit: 100 })).filter((t) => t.runId === r.runId);
    return { runId: r.runId, task: task! };
  };

  it('assigns held runs round-robin to the least-loaded reviewer, due within the SLA', async () => {
    const a = await held();
    const b = await held();
    expect(new Set([a.task.assigneeUserId, b.task.assigneeUserId]).size).toBe(2);
    expect(a.task.dueAt).toBe(new Date(clock.getTime() + 30 * 60_000).toISOString());
  });

  it('releases an edited answer to the caller, and refuses a second decision', async () => {
    const { runId, task } = await held();
    const assignee = Object.keys(p).find((e) => p[e]!.userId === task.assigneeUserId)!;
    const other = ['rev1@x.io', 'rev2@x.io'].find((e) => e !== assignee)!;
    await expect(s.review.decide({ principal: p[other]! }, task.id, { action: 'approve' })).rejects.toMatchObject({ code: 'review_conflict' });
    const decided = await s.review.decide({ principal: p[assignee]! }, task.id, { action: 'edit', answer: 'No: the guidelines do not set earthquake deductibles.' });
    expect(decided).toMatchObject({ status: 'edited' });
    expect(await s.runs.get({ principal: p['analyst@x.io']! }, runId)).toMatchObject({ decision: 'delivered', answer: 'No: the guidelines do not set earthquake deductibles.' });
    await expect(s.review.decide({ principal: p[assignee]! }, task.id, { action: 'approve' })).rejects.toMatchObject({ code: 'review_conflict' });
    const { entries } = await s.audit.list({ action: 'review.*', targetId: task.id, limit: 5 });
    expect(entries.map((e) => e.action)).toEqual(['review.edited', 'review.opened']);
    // the use case's webhook hears the outcome once, not the refused second decision
    expect(notices.filter((n) => (n as { taskId: string }).taskId === task.id)).toEqual([
      { event: 'review.decided', taskId: task.id, runId, useCase: 'uw', status: 'edited', decision: 'delivered', reason: null, decidedBy: task.assigneeUserId, at: clock.toISOString() },
    ]);
  });

  it('rejects with a reason: the run is blocked', async () => {
    const { runId, task } = await held();
    failNextNotice = true; // the webhook fails once: the notice is sent again a second later
    await s.review.decide({ principal: p['owner@x.io']! }, task.id, { action: 'reject', reason: 'speculative' });
    const rejected = await s.runs.get({ principal: p['analyst@x.io']! }, runId);
    expect(rejected).toMatchObject({ decision: 'blocked', answer: null });
    expect(rejected.reasons.at(-1)).toEqual({ code: 'review_rejected', message: 'review: speculative' });
    const heard = () => notices.find((n) => (n as { taskId: string }).taskId === task.id);
    expect(heard()).toBeUndefined();
    for (let waited = 0; !heard() && waited < 5000; waited += 100) await new Promise((ok) => setTimeout(ok, 100));
    expect(heard()).toMatchObject({ event: 'review.decided', status: 'rejected', decision: 'blocked', reason: 'speculative', decidedBy: p['owner@x.io']!.userId });
  });

  it('escalates an overdue task along the path, then fails closed', async () => {
    const { runId, task } = await held();
    clock = new Date(clock.getTime() + 31 * 60_000);
    expect(await s.review.escalate()).toBeGreaterThan(0);
    const escalated = await s.review.get({ principal: s.admin }, task.id);
    expect(escalated).toMatchObject({ escalationLevel: 1, assigneeUserId: p['owner@x.io']!.userId });
    expect(notices).toContainEqual(expect.objectContaining({ event: 'review.escalated', taskId: task.id, level: 1 }));
    // the first reviewer was escalated past
    const first = Object.keys(p).find((e) => p[e]!.userId === task.assigneeUserId)!;
    await expect(s.review.decide({ principal: p[first]! }, task.id, { action: 'approve' })).rejects.toMatchObject({ code: 'review_conflict', message: expect.stringContaining('escalated') });
    clock = new Date(clock.getTime() + 21 * 60_000);
    await s.review.escalate();
    expect(await s.review.get({ principal: s.admin }, task.id)).toMatchObject({ status: 'timed_out' });
    const timedOut = await s.runs.get({ principal: p['owner@x.io']! }, runId);
    expect(timedOut).toMatchObject({ decision: 'blocked' });
    expect(timedOut.reasons.at(-1)).toEqual({ code: 'review_timed_out', message: 'review: review timed out' });
    expect(notices).toContainEqual(expect.objectContaining({ event: 'review.decided', taskId: task.id, status: 'timed_out', decision: 'blocked', decidedBy: 'system:review-timeout' }));
  });

  it('delivers the answer when the posture says so at timeout', async () => {
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-lenient', team: 'underwriting', owner: 'owner@x.io', riskTier: 'low', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.6, reviewSlaMinutes: 5, timeoutAction: 'deliver' } });
    const run = await s.runs.run({ principal: p['analyst@x.io']! }, 'uw-lenient', { input: 'Are earthquake deductibles fifteen percent in coastal counties?' });
    expect(run).toMatchObject({ decision: 'held_for_review', answer: null });
    clock = new Date(clock.getTime() + 6 * 60_000);
    await s.review.escalate();
    const [task] = (await s.review.list({ principal: s.admin }, { status: 'timed_out', limit: 200 })).filter((t) => t.runId === run.runId);
    expect(task).toMatchObject({ timeoutAction: 'deliver', decidedBy: 'system:review-timeout' });
    expect(await s.runs.get({ principal: p['analyst@x.io']! }, run.runId)).toMatchObject({ decision: 'delivered', answer: expect.stringContaining('Extractive answer') });
  });

  it('serves the queue over HTTP', async () => {
    const { task } = await held();
    const h = bearer(tokens['owner@x.io']!);
    const list = await s.app.inject({ url: '/api/v1/reviews?status=open', headers: h });
    expect(list.json().tasks.map((t: { id: string }) => t.id)).toContain(task.id);
    const bad = await s.app.inject({ method: 'POST', url: `/api/v1/reviews/${task.id}/decision`, headers: h, payload: { action: 'reject' } });
    expect(bad.statusCode).toBe(400);
    const ok = await s.app.inject({ method: 'POST', url: `/api/v1/reviews/${task.id}/decision`, headers: h, payload: { action: 'approve' } });
    expect(ok.json()).toMatchObject({ status: 'approved' });
    const again = await s.app.inject({ method: 'POST', url: `/api/v1/reviews/${task.id}/decision`, headers: h, payload: { action: 'approve' } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('review_conflict');
    const analyst = await s.app.inject({ url: '/api/v1/reviews', headers: bearer(tokens['analyst@x.io']!) });
    expect(analyst.json().tasks).toEqual([]);
  });

  it('shows the review on its run: open while held, then who decided what and when', async () => {
    const { runId, task } = await held();
    const run = async () => (await s.app.inject({ url: `/api/v1/runs/${runId}`, headers: bearer(tokens['analyst@x.io']!) })).json<{ review: unknown }>();
    expect((await run()).review).toEqual({ taskId: task.id, kind: 'hold', status: 'open', decidedBy: null, decidedAt: null, decision: null });
    await s.review.decide({ principal: p['owner@x.io']! }, task.id, { action: 'reject', reason: 'speculative' });
    expect((await run()).review).toEqual({ taskId: task.id, kind: 'hold', status: 'rejected', decidedBy: p['owner@x.io']!.userId, decidedAt: clock.toISOString(), decision: 'blocked' });
  });

  it('is worked from the CLI: a reviewer lists, reads, approves and rejects held runs', async () => {
    const { runCli } = await import('../cli/index.js');
    const cli = async (email: string, args: string[]) => {
      const lines: string[] = [];
      const code = await runCli(args, { out: (t) => lines.push(t), err: (t) => lines.push(t) }, { TARMAC_URL: url, TARMAC_API_KEY: tokens[email]! });
      return { code, text: lines.join('\n') };
    };
    const assignee = (t: { assigneeUserId: string | null }) => Object.keys(p).find((e) => p[e]!.userId === t.assigneeUserId)!;
    const a = await held();
    const b = await held();

    const listed = await cli(assignee(a.task), ['review', 'list', '--mine', '--json']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.text) as { id: string }[]).map((t) => t.id)).toContain(a.task.id);
    const shown = await cli(assignee(a.task), ['review', 'show', a.task.id]);
    expect(shown.code).toBe(0);
    expect(shown.text).toContain(`task ${a.task.id} · hold · open · assignee ${assignee(a.task)} · due`);
    expect(a.task.assigneeEmail).toBe(assignee(a.task));
    expect(shown.text).toContain('Are earthquake deductibles fifteen percent in coastal counties?');
    expect(shown.text).toMatch(/answer \(held\):\n {2}\S/);
    expect(shown.text).toMatch(/groundedness 0\.\d\d \(needs 0\.6\)/);
    expect(shown.text).toContain('context:\n  (none)');

    expect(await cli(assignee(a.task), ['review', 'approve', a.task.id])).toMatchObject({ code: 0, text: `approved ${a.task.id}: run ${a.runId} released` });
    expect(await s.runs.get({ principal: p['analyst@x.io']! }, a.runId)).toMatchObject({ decision: 'delivered', answer: expect.any(String) });
    const twice = await cli(assignee(a.task), ['review', 'approve', a.task.id]);
    expect(twice.code).toBe(1);
    expect(twice.text).toContain('review_conflict');
    expect(await cli(assignee(b.task), ['review', 'reject', b.task.id, '--reason', 'not in the guidelines'])).toMatchObject({ code: 0 });
    expect(await s.runs.get({ principal: p['analyst@x.io']! }, b.runId)).toMatchObject({ decision: 'blocked', answer: null });

    // a delivered run sampled for quality assurance shows its citations and context
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-sampled', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.6, reviewSampleRate: 1 } });
    const sampled = await s.runs.run({ principal: p['analyst@x.io']! }, 'uw-sampled', { input: 'What is the maximum roof age for a standard homeowners policy?' });
    expect(sampled).toMatchObject({ decision: 'delivered', reasons: [{ code: 'sampled_for_review', message: 'sampled_for_review' }] });
    const [task] = (await s.review.list({ principal: s.admin }, { status: 'open', limit: 100 })).filter((t) => t.runId === sampled.runId);
    const read = await cli(assignee(task!), ['review', 'show', task!.id]);
    expect(read.text).toContain(`task ${task!.id} · sample · open`);
    expect(read.text).toContain('answer (delivered, sampled for review):');
    expect(read.text).toContain('groundedness 1.00 (needs 0.6)');
    expect(read.text).toContain('[1] supported by Roofs (kb/guide.md): "A standard homeowners policy may be written for roofs up to 20 years old."');
    expect(read.text).toMatch(/context:\n {2}\[1\] Roofs \(kb\/guide\.md\) · score \d/);
  });

  it('assigns a task explicitly: team owners, to a reviewer of the team who did not run it', async () => {
    const { runId, task } = await held();
    const next = ['rev1@x.io', 'rev2@x.io'].find((e) => p[e]!.userId !== task.assigneeUserId)!;
    const first = Object.keys(p).find((e) => p[e]!.userId === task.assigneeUserId)!;
    const assign = (email: string, user: string, id = task.id) =>
      s.app.inject({ method: 'POST', url: `/api/v1/reviews/${id}/assign`, headers: bearer(tokens[email]!), payload: { user } });

    const refused = await assign(first, next);
    expect(refused.statusCode).toBe(403);
    expect((await assign('owner@x.io', 'analyst@x.io')).json().error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('does not review for this team') });
    expect((await assign('owner@x.io', 'ghost@x.io')).statusCode).toBe(404);
    const moved = await assign('owner@x.io', next);
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ id: task.id, assigneeUserId: p[next]!.userId, assigneeEmail: next, dueAt: task.dueAt });
    const { entries } = await s.audit.list({ action: 'review.assigned', targetId: task.id, limit: 5 });
    expect(entries).toEqual([expect.objectContaining({ before: { assignee: task.assigneeUserId }, after: { assignee: p[next]!.userId, runId } })]);
    // the first reviewer no longer decides it; the new one does
    await expect(s.review.decide({ principal: p[first]! }, task.id, { action: 'approve' })).rejects.toMatchObject({ code: 'review_conflict' });
    await s.review.decide({ principal: p[next]! }, task.id, { action: 'approve' });
    expect((await assign('owner@x.io', first)).statusCode).toBe(409);

    // never to the person whose run it is, and from the CLI as well
    const own = await s.runs.run({ principal: p['owner@x.io']! }, 'uw', { input: 'Are earthquake deductibles fifteen percent in coastal counties?' });
    const [ownTask] = (await s.review.list({ principal: s.admin }, { status: 'open', limit: 100 })).filter((t) => t.runId === own.runId);
    expect((await assign('owner@x.io', 'owner@x.io', ownTask!.id)).json().error).toMatchObject({ code: 'validation_failed', message: expect.stringContaining('ran this run') });
    await expect(s.review.decide({ principal: p['owner@x.io']! }, ownTask!.id, { action: 'approve' })).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('your own run') });
    const { runCli } = await import('../cli/index.js');
    const lines: string[] = [];
    const code = await runCli(['review', 'assign', ownTask!.id, 'lead@x.io'], { out: (t) => lines.push(t), err: (t) => lines.push(t) }, { TARMAC_URL: url, TARMAC_API_KEY: tokens['owner@x.io']! });
    expect({ code, out: lines.join('\n') }).toEqual({ code: 0, out: `assigned ${ownTask!.id} to lead@x.io (due ${ownTask!.dueAt})` });
    expect(await s.review.get({ principal: s.admin }, ownTask!.id)).toMatchObject({ assigneeUserId: p['lead@x.io']!.userId });
  });

  it('never assigns reviewers their own runs, even when they are the least loaded', async () => {
    const reviewers = ['rev1@x.io', 'rev2@x.io', 'lead@x.io'];
    for (let i = 0; i < 3; i++) {
      // the reviewer the queue would pick next (fewest open tasks, then user id) asks a question of their own
      const { rows } = await s.db.query<{ user_id: string }>(
        `select u.id as user_id from users u left join reviewer_load l on l.user_id = u.id where u.email = any($1) order by coalesce(l.open_tasks, 0), u.id limit 1`,
        [reviewers],
      );
      const next = reviewers.find((e) => p[e]!.userId === rows[0]!.user_id)!;
      const run = await s.runs.run({ principal: p[next]! }, 'uw', { input: 'Are earthquake deductibles fifteen percent in coastal counties?' });
      expect(run.decision).toBe('held_for_review');
      const [task] = (await s.review.list({ principal: s.admin }, { status: 'open', limit: 200 })).filter((t) => t.runId === run.runId);
      expect(task!.assigneeUserId).not.toBe(p[next]!.userId);
      expect(reviewers.map((e) => p[e]!.userId)).toContain(task!.assigneeUserId!);
    }
  });

  it('keeps each assignee\'s open-task count in step with the queue, and assigns to the least loaded', async () => {
    // by now tasks were opened, decided, escalated to the owner and timed out
    const counted = async () =>
      (await s.db.query<{ user_id: string; n: number }>(`select assignee_user_id as user_id, count(*)::int as n from review_tasks where status = 'open' group by 1 order by 1`)).rows;
    const kept = async () => (await s.db.query<{ user_id: string; n: number }>('select user_id, open_tasks as n from reviewer_load where open_tasks > 0 order by 1')).rows;
    expect(await kept()).toEqual(await counted());
    const reviewers = ['rev1@x.io', 'rev2@x.io', 'lead@x.io'].map((e) => p[e]!.userId!);
    for (let i = 0; i < 4; i++) {
      const load = new Map((await counted()).map((r) => [r.user_id, r.n]));
      const fewest = Math.min(...reviewers.map((r) => load.get(r) ?? 0));
      const { task } = await held();
      expect(load.get(task.assigneeUserId!) ?? 0).toBe(fewest);
      expect(reviewers).toContain(task.assigneeUserId!);
    }
    expect((await counted()).length).toBe(3);
    expect(await kept()).toEqual(await counted());
    const { task } = await held();
    const assignee = Object.keys(p).find((e) => p[e]!.userId === task.assigneeUserId)!;
    await s.review.decide({ principal: p[assignee]! }, task.id, { action: 'approve' });
    expect(await kept()).toEqual(await counted());
  });
});

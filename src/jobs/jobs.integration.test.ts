import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { JobRunner, QUEUES } from './index.js';

async function until(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe(`jobs on pg-boss (${BACKEND})`, () => {
  let s: TestServices;
  let jobs: JobRunner;
  beforeEach(async () => {
    s = await openTestServices({ checkpointEvery: 4 });
    jobs = await JobRunner.start({ db: s.db, url: s.url });
  });
  afterEach(async () => {
    await jobs.stop();
    await s.close();
  });

  it('gets a worker for every queue from the capability list, with the schedules of the periodic ones', async () => {
    const listed = s.registry.jobs(jobs);
    expect(listed.map((j) => j.queue).sort()).toEqual(Object.keys(QUEUES).sort());
    expect(Object.fromEntries(listed.filter((j) => j.schedule).map((j) => [j.queue, j.schedule!.cron]))).toEqual({
      'audit-checkpoint': '0 * * * *',
      'source-sync-tick': '* * * * *',
      'review-escalation': '* * * * *',
      'gateway-trace-retention': '17 3 * * *',
      'eval-schedule-tick': '* * * * *',
      'eval-monitor-tick': '40 2 * * *',
    });
  });

  it('signs audit checkpoints in a worker when a commit crosses every N entries', async () => {
    await jobs.work('audit-checkpoint', async () => {
      await s.audit.signDueCheckpoints();
    });
    s.audit.onCheckpointDue(() => void jobs.send('audit-checkpoint', { reason: 'interval' }, { singletonKey: 'due' }));
    for (let i = 0; i < 6; i++) await s.identity.createTeam({ principal: s.admin }, { name: `team-${i}` });
    // bootstrap wrote 3 entries, these 6 more: checkpoints at 4 and 8
    await until(async () => (await s.audit.listCheckpoints()).length === 2);
    expect((await s.audit.listCheckpoints()).map((c) => c.seq)).toEqual([4, 8]);
    expect(await s.audit.verify()).toMatchObject({ ok: true, checkpoints: 2 });
  });

  it('works jobs this process sends at once, however long the idle poll', async () => {
    const quiet = await JobRunner.start({ db: s.db, url: s.url, pollSeconds: 3600 });
    try {
      const worked: string[] = [];
      await quiet.work('source-sync', async ({ source }) => {
        worked.push(source);
      });
      for (const source of ['a', 'b', 'c']) await quiet.send('source-sync', { source, reason: 'manual' }, { singletonKey: source });
      await until(async () => worked.length === 3);
      expect(worked.sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await quiet.stop();
    }
  });

  it.skipIf(BACKEND === 'postgres')('leaves the database alone while its queues are empty', async () => {
    const statements: string[] = [];
    const counted = Object.assign(Object.create(s.db) as typeof s.db, {
      query: ((sql: string, params?: unknown[]) => {
        statements.push(sql);
        return s.db.query(sql, params);
      }),
      exec: ((sql: string) => {
        statements.push(sql);
        return s.db.exec(sql);
      }),
    });
    const quiet = await JobRunner.start({ db: counted, url: s.url });
    try {
      for (const queue of ['source-sync', 'source-sync-tick', 'review-escalation'] as const) await quiet.work(queue, async () => undefined);
      await new Promise((r) => setTimeout(r, 500));
      const before = statements.length;
      await new Promise((r) => setTimeout(r, 3000));
      // Polling every second would be nine statements here; pg-boss's own cron checks may add one or two.
      expect(statements.length - before).toBeLessThanOrEqual(3);
    } finally {
      await quiet.stop();
    }
  });

  it('rejects a payload that breaks its queue schema', async () => {
    await expect(jobs.send('audit-checkpoint', { reason: 'whenever' } as never)).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

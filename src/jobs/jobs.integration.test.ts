import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { JobRunner } from './index.js';

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

  it('rejects a payload that breaks its queue schema', async () => {
    await expect(jobs.send('audit-checkpoint', { reason: 'whenever' } as never)).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

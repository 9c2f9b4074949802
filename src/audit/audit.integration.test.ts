import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { BACKEND } from '../../tests/support/db.js';

const ctx = { actor: systemActor('test'), requestId: 'req-1' };

async function appendMany(s: TestServices, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await s.audit.transaction(ctx, async (_tx, record) => {
      await record({ action: 'thing.changed', targetType: 'thing', targetId: `t${i}`, before: { n: i }, after: { n: i + 1, nested: { b: 2, a: [1, 'x'] } } });
    });
  }
}

// Tampering "by hand": a database superuser switches the append-only triggers off first.
async function tamper(s: TestServices, sql: string, params: unknown[] = []): Promise<void> {
  await s.db.transaction(async (tx) => {
    await tx.query('alter table audit_entries disable trigger user');
    await tx.query(sql, params);
    await tx.query('alter table audit_entries enable trigger user');
  });
}

describe(`audit log (${BACKEND})`, () => {
  let s: TestServices;
  beforeEach(async () => {
    s = await openTestServices({ checkpointEvery: 5 });
  });
  afterEach(async () => {
    await s.close();
  });

  it('chains entries and verifies an intact log', async () => {
    await appendMany(s, 12);
    const result = await s.audit.verify();
    expect(result).toMatchObject({ ok: true, firstBrokenSeq: null, problem: null });
    // bootstrap wrote 3 entries (user, key, installation) before these 12
    expect(result.entries).toBe(15);
    const { entries } = await s.audit.list({ limit: 2 });
    expect(entries.map((e) => e.seq)).toEqual([15, 14]);
    expect(entries[0]!.prevHash).toBe(entries[1]!.hash);
    expect(entries[0]).toMatchObject({ actor: { type: 'system', id: 'test' }, requestId: 'req-1', target: { type: 'thing', id: 't11' } });
  });

  it('rejects UPDATE, DELETE and TRUNCATE through SQL', async () => {
    await appendMany(s, 1);
    await expect(s.db.query("update audit_entries set action = 'x' where seq = 1")).rejects.toThrow(/append-only/);
    await expect(s.db.query('delete from audit_entries where seq = 1')).rejects.toThrow(/append-only/);
    await expect(s.db.query('truncate audit_entries')).rejects.toThrow(/append-only/);
    expect((await s.audit.verify()).ok).toBe(true);
  });

  it('names the first altered entry', async () => {
    await appendMany(s, 8);
    await tamper(s, `update audit_entries set after = '{"n": 999}' where seq = 6`);
    const result = await s.audit.verify();
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: 6 });
    expect(result.problem).toMatch(/altered/);
  });

  it('detects a removed entry in the middle', async () => {
    await appendMany(s, 8);
    await tamper(s, 'delete from audit_entries where seq = 4');
    expect(await s.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 4 });
  });

  it('detects reordered entries', async () => {
    await appendMany(s, 8);
    // swap the contents of 5 and 6 while keeping their sequence numbers
    await tamper(
      s,
      `update audit_entries a set action = b.action, target_id = b.target_id, before = b.before, after = b.after, hash = b.hash, prev_hash = b.prev_hash
       from audit_entries b where (a.seq, b.seq) in ((5, 6), (6, 5))`,
    );
    expect(await s.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 5 });
  });

  it('detects a re-hashed forgery through the signed checkpoints', async () => {
    await appendMany(s, 8);
    expect(await s.audit.signDueCheckpoints()).toBe(2); // entries 5 and 10
    // rewrite entry 3 and recompute every hash after it: the chain alone looks intact again
    await tamper(s, `update audit_entries set action = 'forged' where seq = 3`);
    const { entryHashForRow } = await import('../../tests/support/audit.js');
    const rows = (await s.db.query<Record<string, unknown>>('select * from audit_entries where seq >= 3 order by seq')).rows;
    let prev = (await s.db.query<{ hash: string }>('select hash from audit_entries where seq = 2')).rows[0]!.hash;
    for (const row of rows) {
      const hash = entryHashForRow({ ...row, prev_hash: prev });
      await tamper(s, 'update audit_entries set prev_hash = $1, hash = $2 where seq = $3', [prev, hash, row.seq]);
      prev = hash;
    }
    const result = await s.audit.verify();
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: 5 });
    expect(result.problem).toMatch(/signed checkpoint/);
  });

  it('detects entries removed from the end after a checkpoint', async () => {
    await appendMany(s, 7);
    expect(await s.audit.checkpointNow()).toMatchObject({ seq: 10 });
    await tamper(s, 'delete from audit_entries where seq >= 9');
    expect(await s.audit.verify()).toMatchObject({ ok: false, firstBrokenSeq: 9 });
  });

  it('refuses an on-demand checkpoint in a process without the signing key', async () => {
    const { AuditLog } = await import('./index.js');
    const keyless = new AuditLog(s.db, { checkpointEvery: 5, signingKey: null });
    await expect(keyless.checkpointNow()).rejects.toMatchObject({ code: 'not_ready' });
    expect(await keyless.signDueCheckpoints()).toBe(0);
    expect((await keyless.verify()).warning).toMatch(/no audit signing key file/);
  });

  it('asks for a checkpoint when a commit crosses a multiple of N', async () => {
    let due = 0;
    s.audit.onCheckpointDue(() => due++);
    await appendMany(s, 1); // seq 4
    expect(due).toBe(0);
    await appendMany(s, 1); // seq 5
    expect(due).toBe(1);
  });

  it('keeps one linear chain under concurrent writers', async () => {
    await Promise.all(Array.from({ length: 4 }, () => appendMany(s, 15)));
    const result = await s.audit.verify();
    expect(result).toMatchObject({ ok: true, entries: 63 });
  });

  it('rolls back the entry with the change it records', async () => {
    await expect(
      s.audit.transaction(ctx, async (_tx, record) => {
        await record({ action: 'doomed', targetType: 'thing', targetId: 'x' });
        throw new Error('change failed');
      }),
    ).rejects.toThrow('change failed');
    const { entries } = await s.audit.list({ action: 'doomed', limit: 10 });
    expect(entries).toHaveLength(0);
    expect((await s.audit.verify()).ok).toBe(true);
  });

  it('filters and pages', async () => {
    await appendMany(s, 6);
    const page1 = await s.audit.list({ action: 'thing.*', limit: 4 });
    expect(page1.entries).toHaveLength(4);
    const page2 = await s.audit.list({ action: 'thing.*', limit: 4, beforeSeq: page1.nextBeforeSeq! });
    expect(page2.entries).toHaveLength(2);
    expect(page2.nextBeforeSeq).toBeNull();
    expect((await s.audit.list({ targetId: 't3', limit: 10 })).entries.map((e) => e.target.id)).toEqual(['t3']);
  });
});

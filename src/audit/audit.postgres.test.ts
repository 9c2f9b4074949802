// The audit chain under real concurrency: several OS processes append to one PostgreSQL database at the
// same moment, and the result must still be one contiguous, linked, verifiable chain.
import { describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { migrate, openDatabase, type Database } from '../db/index.js';
import { spawnChild, runTogether } from '../../tests/support/children.js';
import { createPostgresDatabase } from '../../tests/support/db.js';
import { AuditLog } from './index.js';

const GENESIS = '0'.repeat(64);

/** Runs `writers` audit-writer processes, released together, each appending `perWriter` entries. */
async function appendFromProcesses(url: string, writers: string[], perWriter: number): Promise<void> {
  const children = writers.map((w) =>
    spawnChild('tests/support/audit-writer.ts', [url, String(perWriter), w], { AUDIT_WRITER_BARRIER: '1' }),
  );
  for (const r of await runTogether(children)) expect(r.code, r.stderr).toBe(0);
}

/** A fresh, migrated PostgreSQL database for one test; dropped afterwards. */
async function withFreshDatabase(fn: (db: Database, url: string) => Promise<void>): Promise<void> {
  const fresh = await createPostgresDatabase();
  const url = fresh.url;
  try {
    const db = await openDatabase({ url, poolSize: 4 });
    try {
      await migrate(db);
      await fn(db, url);
    } finally {
      await db.close();
    }
  } finally {
    await fresh.drop();
  }
}

describe('audit log across processes (postgres)', () => {
  it('keeps one contiguous, linked, verifiable chain when 4 processes append at once', async () => {
    await withFreshDatabase(async (db, url) => {
      const audit = new AuditLog(db, { checkpointEvery: 1000, signingKey: null });
      const ctx = { actor: systemActor('parent'), requestId: null };
      const BEFORE = 5;
      for (let i = 0; i < BEFORE; i++) {
        await audit.transaction(ctx, async (_tx, record) => {
          await record({ action: 'thing.created', targetType: 'thing', targetId: `p${i}` });
        });
      }

      const writers = ['w1', 'w2', 'w3', 'w4'];
      const PER_WRITER = 150;
      await appendFromProcesses(url, writers, PER_WRITER);

      const total = BEFORE + writers.length * PER_WRITER;
      const { rows } = await db.query<{ seq: number; prev_hash: string; hash: string; actor_id: string }>(
        'select seq, prev_hash, hash, actor_id from audit_entries order by seq',
      );
      expect(rows).toHaveLength(total);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(rows[0]!.prev_hash).toBe(GENESIS);
      for (let i = 1; i < rows.length; i++) {
        if (rows[i]!.prev_hash !== rows[i - 1]!.hash) {
          expect.fail(`entry ${rows[i]!.seq} does not link to entry ${rows[i - 1]!.seq}`);
        }
      }
      expect(new Set(rows.map((r) => r.hash)).size).toBe(total);
      const perActor = new Map<string, number>();
      for (const r of rows) perActor.set(r.actor_id, (perActor.get(r.actor_id) ?? 0) + 1);
      expect(Object.fromEntries(perActor)).toEqual({ parent: BEFORE, w1: PER_WRITER, w2: PER_WRITER, w3: PER_WRITER, w4: PER_WRITER });

      const result = await audit.verify();
      expect(result).toMatchObject({ ok: true, entries: total, headSeq: total, headHash: rows[total - 1]!.hash, firstBrokenSeq: null, problem: null });
    });
  });

  it('names the tampered entry in a chain written by several processes', async () => {
    await withFreshDatabase(async (db, url) => {
      await appendFromProcesses(url, ['a', 'b'], 25);
      const audit = new AuditLog(db, { checkpointEvery: 1000, signingKey: null });
      expect(await audit.verify()).toMatchObject({ ok: true, entries: 50 });

      // A database superuser switches the append-only triggers off and edits one entry in place.
      await db.transaction(async (tx) => {
        await tx.query('alter table audit_entries disable trigger user');
        await tx.query(`update audit_entries set after = '{"i": 999}' where seq = 37`);
        await tx.query('alter table audit_entries enable trigger user');
      });

      const result = await audit.verify();
      expect(result).toMatchObject({ ok: false, firstBrokenSeq: 37, entries: 36 });
      expect(result.problem).toMatch(/altered/);
    });
  });
});

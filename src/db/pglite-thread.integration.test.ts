// The embedded database on a worker thread (how serve and the CLI open a data folder): the same behaviour as
// in-process PGlite for what Tarmac relies on. Runs on PGlite whatever the backend under test.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './index.js';
import { openPglite } from './pglite.js';

let dir: string;
let db: Database;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tarmac-thread-'));
  db = await openPglite({ dataDir: dir, command: 'thread test' });
  await db.exec('create extension if not exists vector; create table t (id int primary key, at timestamptz, b bytea, big bigint, v vector(3), j jsonb)');
});

afterAll(async () => {
  await db?.close();
});

describe('PGlite on a worker thread', () => {
  it('runs statements and scripts, and carries dates, bytes, numbers, vectors and json both ways', async () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    const inserted = await db.query('insert into t values ($1, $2, $3, $4, $5, $6)', [1, at, Buffer.from('hi'), 2 ** 40, '[1,2,3]', JSON.stringify({ a: [1] })]);
    expect(inserted.rowCount).toBe(1);
    const { rows } = await db.query<{ id: number; at: Date; b: Uint8Array; big: number; v: string; j: unknown }>('select * from t where id = $1', [1]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.at).toEqual(at);
    expect(Buffer.from(rows[0]!.b).toString()).toBe('hi');
    expect(rows[0]).toMatchObject({ id: 1, big: 2 ** 40, v: '[1,2,3]', j: { a: [1] } });
    const script = await db.exec("insert into t (id) values (2); update t set j = '{}' where id in (1, 2); select id from t order by id");
    expect(script.rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('commits a transaction, rolls one back when its callback throws, and makes other statements wait for it', async () => {
    await db.transaction(async (tx) => {
      await tx.query('insert into t (id) values (10)');
      await tx.query('insert into t (id) values (11)');
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query('insert into t (id) values (12)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    let outside = -1;
    await db.transaction(async (tx) => {
      await tx.query('insert into t (id) values (13)');
      const counted = db.query<{ n: number }>('select count(*)::int as n from t where id >= 10').then((r) => (outside = r.rows[0]!.n));
      await new Promise((r) => setTimeout(r, 30));
      expect(outside).toBe(-1);
      await tx.query('insert into t (id) values (14)');
      void counted;
    });
    await expect.poll(() => outside).toBe(4);
    expect((await db.query<{ id: number }>('select id from t where id >= 10 order by id')).rows.map((r) => r.id)).toEqual([10, 11, 13, 14]);
  });

  it("runs a transaction's statements sent together, in order, and rolls all of them back when one fails", async () => {
    // sent without waiting: the first ones reach the thread before it has answered the begin
    await db.transaction(async (tx) => {
      await Promise.all([20, 21, 22].map((id) => tx.query('insert into t (id, big) values ($1, (select count(*) from t where id >= 20))', [id])));
    });
    expect((await db.query<{ id: number; big: number }>('select id, big from t where id >= 20 order by id')).rows).toEqual([
      { id: 20, big: 0 },
      { id: 21, big: 1 },
      { id: 22, big: 2 },
    ]);
    const failed = db.transaction(async (tx) => {
      await Promise.all([tx.query('insert into t (id) values (30)'), tx.query('insert into t (id) values (20)'), tx.query('insert into t (id) values (31)')]);
    });
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect((await db.query('select id from t where id >= 30')).rows).toEqual([]);
    // the session is free again
    expect((await db.query<{ n: number }>('select count(*)::int as n from t where id >= 20')).rows).toEqual([{ n: 3 }]);
  });

  it('keeps PostgreSQL error fields, outside and inside transactions', async () => {
    const outside = (await db.query('insert into t (id) values (1)').catch((e: unknown) => e)) as Record<string, unknown>;
    expect(outside).toBeInstanceOf(Error);
    expect(outside).toMatchObject({ message: 'duplicate key value violates unique constraint "t_pkey"', code: '23505', constraint: 't_pkey', detail: 'Key (id)=(1) already exists.' });
    const inside = await db.transaction((tx) => tx.query('insert into t (id) values (1)')).catch((e: unknown) => e);
    expect(inside).toMatchObject({ code: '23505' });
    expect((await db.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('passes change announcements on before the answer to the commit that made them', async () => {
    await db.exec("create table watched (id int); create function announce_watched() returns trigger language plpgsql as $$ begin perform pg_notify('tarmac_changes', 'watched'); return null; end $$; create trigger watched_announce after insert on watched for each statement execute function announce_watched()");
    const heard: string[] = [];
    const stop = db.watch((c) => heard.push('table' in c ? c.table : 'reset'));
    expect(db.watching).toBe(true);
    await db.transaction(async (tx) => {
      await tx.query('insert into watched values (1)');
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual(['watched']);
    stop();
    await db.query('insert into watched values (2)');
    expect(heard).toEqual(['watched']);
  });

  it('holds the lock file: a second open of the folder is refused until the first closes', async () => {
    const other = path.join(mkdtempSync(path.join(tmpdir(), 'tarmac-thread-')), 'data');
    const first = await openPglite({ dataDir: other, command: 'first' });
    // The lock belongs to this process, which may reopen its own folder; a stale lock of a dead process is ignored.
    writeFileSync(path.join(other, 'db.lock'), JSON.stringify({ pid: process.ppid, command: 'someone else', startedAt: new Date().toISOString() }));
    await expect(openPglite({ dataDir: other })).rejects.toMatchObject({ code: 'database_locked' });
    writeFileSync(path.join(other, 'db.lock'), JSON.stringify({ pid: process.pid, command: 'first', startedAt: new Date().toISOString() }));
    await first.close();
    expect(existsSync(path.join(other, 'db.lock'))).toBe(false);
    await expect(first.query('select 1')).rejects.toThrow();
  });
});

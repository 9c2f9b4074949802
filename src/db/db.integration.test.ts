// The database layer on the backend under test (PGlite by default, PostgreSQL with TARMAC_TEST_DATABASE_URL):
// both must behave the same for everything Tarmac relies on.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, openTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { bundledMigrations, migrate, pendingMigrations, type Migration } from './index.js';

function migration(id: string, sql: string): Migration {
  return { id, sql, checksum: createHash('sha256').update(sql).digest('hex') };
}

describe(`migrations (${BACKEND})`, () => {
  let t: TestDatabase | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('migrates an empty database once; a second migrate is a no-op', async () => {
    t = await openTestDatabase({ migrate: false });
    const ids = bundledMigrations().map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(await pendingMigrations(t.db)).toEqual(ids);

    expect(await migrate(t.db)).toEqual({ applied: ids });
    expect(await pendingMigrations(t.db)).toEqual([]);
    expect(await migrate(t.db)).toEqual({ applied: [] });
    expect(await pendingMigrations(t.db)).toEqual([]);

    const { rows } = await t.db.query<{ id: string; checksum: string; applied_at: Date }>('select id, checksum, applied_at from schema_migrations order by id');
    expect(rows.map((r) => ({ id: r.id, checksum: r.checksum }))).toEqual(bundledMigrations().map((m) => ({ id: m.id, checksum: m.checksum })));
    for (const r of rows) expect(r.applied_at).toBeInstanceOf(Date);
  });

  it('applies only the migrations that are new', async () => {
    t = await openTestDatabase({ migrate: false });
    const first = migration('0001_one', 'create table m_one (a int)');
    const second = migration('0002_two', 'create table m_two (b int); insert into m_two values (7)');
    expect(await migrate(t.db, [first])).toEqual({ applied: ['0001_one'] });
    expect(await pendingMigrations(t.db, [first, second])).toEqual(['0002_two']);
    expect(await migrate(t.db, [first, second])).toEqual({ applied: ['0002_two'] });
    expect((await t.db.query('select b from m_two')).rows).toEqual([{ b: 7 }]);
  });

  it('rejects a migration whose content changed after it was applied, and applies nothing', async () => {
    t = await openTestDatabase({ migrate: false });
    const original = migration('0001_m', 'create table m_changed (a int)');
    await migrate(t.db, [original]);
    const changed = migration('0001_m', 'create table m_changed (a int, b int)');
    const next = migration('0002_next', 'create table m_next (a int)');
    await expect(migrate(t.db, [changed, next])).rejects.toThrow(/0001_m was changed/);
    // The failed run rolled back: 0002 is still pending and its table does not exist.
    expect(await pendingMigrations(t.db, [original, next])).toEqual(['0002_next']);
    const { rows } = await t.db.query<{ t: string | null }>("select to_regclass('m_next')::text as t");
    expect(rows[0]!.t).toBeNull();
  });

  it('rolls back a migration run that fails part way', async () => {
    t = await openTestDatabase({ migrate: false });
    const good = migration('0001_good', 'create table m_good (a int)');
    const bad = migration('0002_bad', 'create table m_bad (a int); select * from no_such_table');
    await expect(migrate(t.db, [good, bad])).rejects.toThrow(/no_such_table/);
    expect(await pendingMigrations(t.db, [good, bad])).toEqual(['0001_good', '0002_bad']);
    const { rows } = await t.db.query<{ g: string | null; b: string | null }>("select to_regclass('m_good')::text as g, to_regclass('m_bad')::text as b");
    expect(rows[0]).toEqual({ g: null, b: null });
  });

});

// These share one (unmigrated) database; each test uses its own tables.
describe(`queries (${BACKEND})`, () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await t.close();
  });

  it('commits a transaction that resolves and rolls back one that throws', async () => {
    const db = t.db;
    await db.exec('create table tx_test (id int primary key, v text not null)');

    const result = await db.transaction(async (tx) => {
      await tx.query('insert into tx_test (id, v) values ($1, $2)', [1, 'one']);
      // the transaction sees its own writes
      return (await tx.query<{ n: number }>('select count(*)::int as n from tx_test')).rows[0]!.n;
    });
    expect(result).toBe(1);

    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.query('insert into tx_test (id, v) values ($1, $2)', [2, 'two']);
        await tx.exec("update tx_test set v = 'changed'");
        throw boom;
      }),
    ).rejects.toBe(boom);

    // a failing statement also rolls back the transaction
    await expect(
      db.transaction(async (tx) => {
        await tx.query('insert into tx_test (id, v) values ($1, $2)', [3, 'three']);
        await tx.query('insert into tx_test (id, v) values ($1, $2)', [1, 'duplicate']);
      }),
    ).rejects.toThrow();

    expect((await db.query('select id, v from tx_test order by id')).rows).toEqual([{ id: 1, v: 'one' }]);
    // the database is still usable after the rollbacks
    await db.transaction(async (tx) => {
      await tx.query('insert into tx_test (id, v) values ($1, $2)', [4, 'four']);
    });
    expect((await db.query('select id from tx_test order by id')).rows).toEqual([{ id: 1 }, { id: 4 }]);
  });

  it('returns int8 as JS numbers and timestamptz as Date', async () => {
    const db = t.db;
    await db.exec('create table types_test (id bigint primary key, at timestamptz not null, n int8)');
    const at = new Date('2024-05-06T07:08:09.123Z');
    await db.query('insert into types_test (id, at, n) values ($1, $2, $3)', [1, at, 9_007_199_254_740_991]);

    const check = (row: Record<string, unknown> | undefined): void => {
      expect(row).toBeDefined();
      expect(typeof row!.id).toBe('number');
      expect(row!.id).toBe(1);
      expect(row!.n).toBe(9_007_199_254_740_991);
      expect(row!.at).toBeInstanceOf(Date);
      expect((row!.at as Date).toISOString()).toBe(at.toISOString());
      expect(typeof row!.c).toBe('number');
      expect(row!.c).toBe(1);
      expect(row!.now).toBeInstanceOf(Date);
    };
    const sql = 'select id, at, n, (select count(*) from types_test) as c, now() as now from types_test';
    check((await db.query(sql)).rows[0]);
    check((await db.exec(sql)).rows[0]);
    await db.transaction(async (tx) => {
      check((await tx.query(sql)).rows[0]);
      check((await tx.exec(sql)).rows[0]);
    });
  });

  it('exec runs a multi-statement script and returns the last statement\'s rows', async () => {
    const result = await t.db.exec(`
      create table exec_test (id int primary key, name text);
      insert into exec_test values (1, 'a'), (2, 'b'), (3, 'c');
      update exec_test set name = upper(name) where id > 1;
      select id, name from exec_test order by id;
    `);
    expect(result.rows).toEqual([
      { id: 1, name: 'a' },
      { id: 2, name: 'B' },
      { id: 3, name: 'C' },
    ]);
    // a script that ends in a statement without rows returns none
    expect((await t.db.exec("insert into exec_test values (4, 'd'); delete from exec_test where id = 4")).rows).toEqual([]);
  });

  it('reports the rows a statement changed', async () => {
    await t.db.exec("create table rc_test (id int primary key); insert into rc_test select generate_series(1, 5)");
    expect((await t.db.query('update rc_test set id = id + 10 where id > $1', [2])).rowCount).toBe(3);
    expect((await t.db.query('delete from rc_test where id = $1', [99])).rowCount).toBe(0);
    expect((await t.db.query('delete from rc_test where id = $1', [13])).rowCount).toBe(1);
    // statements that return rows count the rows they return, on both backends
    expect((await t.db.query('select id from rc_test')).rowCount).toBe(4);
    expect((await t.db.query('insert into rc_test values (100), (101) returning id')).rowCount).toBe(2);
  });

  it('returns int8 beyond 2^53 exactly, as BigInt, on both backends', async () => {
    const { rows } = await t.db.query<{ big: unknown; small: unknown }>('select 9007199254740993::int8 as big, 42::int8 as small');
    expect(rows[0]).toEqual({ big: 9007199254740993n, small: 42 });
  });
});

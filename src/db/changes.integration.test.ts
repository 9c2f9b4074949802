// Change announcements on the backend under test: committed changes to watched tables reach the process that
// made them before the commit resolves; rolled-back ones and unwatched tables never do; ReadCache follows them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, openTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { ReadCache } from './index.js';

let t: TestDatabase;
const heard: string[] = [];

beforeAll(async () => {
  t = await openTestDatabase();
  t.db.watch((change) => heard.push('table' in change ? change.table : 'reset'));
});
afterAll(async () => t?.close());

describe(`change announcements (${BACKEND})`, () => {
  it('announces a committed change to a watched table before the commit resolves, once per table', async () => {
    expect(t.db.watching).toBe(true);
    heard.length = 0;
    await t.db.transaction(async (tx) => {
      await tx.query("insert into teams (id, name) values ('t1', 'one'), ('t2', 'two')");
      await tx.query("update teams set description = 'x' where id = 't1'");
      expect(heard).toEqual([]); // nothing before the commit
    });
    expect(heard).toEqual(['teams']);
    heard.length = 0;
    await t.db.query("update users set name = 'n' where false");
    expect(heard).toEqual(['users']); // a statement touching no row still counts
  });

  it('announces nothing for a rolled-back change or an unwatched table', async () => {
    heard.length = 0;
    const touchPrompts = (tx: { query: (sql: string) => Promise<unknown> }) => tx.query('update prompts set name = name where false');
    await expect(
      t.db.transaction(async (tx) => {
        await touchPrompts(tx);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    await t.db.query("insert into policies (name, rules) values ('p-changes', '{}'::jsonb)");
    expect(heard).toEqual([]);
    await t.db.transaction(touchPrompts);
    expect(heard).toEqual(['prompts']);
  });

  it('ReadCache serves from memory until a watched table changes, then reads again', async () => {
    let loads = 0;
    const cache = new ReadCache<string | null>(t.db, ['teams']);
    const name = (id: string) =>
      cache.get(id, async () => {
        loads++;
        return (await t.db.query<{ name: string }>('select name from teams where id = $1', [id])).rows[0]?.name ?? null;
      });
    expect(await name('t1')).toBe('one');
    expect(await name('t1')).toBe('one');
    expect(loads).toBe(1);
    await t.db.query("update users set name = 'm' where false"); // another table: kept
    expect(await name('t1')).toBe('one');
    expect(loads).toBe(1);
    await t.db.query("update teams set name = 'uno' where id = 't1'");
    expect(await name('t1')).toBe('uno');
    expect(loads).toBe(2);
  });

  it('ReadCache does not keep a value read while a change was committed', async () => {
    const cache = new ReadCache<string | null>(t.db, ['teams']);
    let loads = 0;
    const load = async () => {
      loads++;
      const name = (await t.db.query<{ name: string }>("select name from teams where id = 't2'")).rows[0]?.name ?? null;
      if (loads === 1) await t.db.query("update teams set name = 'dos' where id = 't2'"); // lands while the first read is in flight
      return name;
    };
    expect(await cache.get('t2', load)).toBe('two');
    expect(await cache.get('t2', load)).toBe('dos');
    expect(loads).toBe(2);
  });
});

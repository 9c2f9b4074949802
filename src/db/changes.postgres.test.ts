// Change announcements between processes on one PostgreSQL: a change made through one connection pool reaches
// another; when the listening connection is lost, caches are bypassed until it is back, and then start empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { openDatabase, ReadCache, type Database } from './index.js';

let t: TestDatabase;
let other: Database;
const heard: string[] = [];

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting until ${what}`);
}

beforeAll(async () => {
  t = await openTestDatabase();
  other = await openDatabase({ url: t.url, poolSize: 2 });
  other.watch((c) => heard.push('table' in c ? c.table : 'reset'));
  await t.db.query("insert into teams (id, name) values ('a', 'alpha')");
  await until(() => heard.includes('teams'), 'the other pool heard the first change');
});
afterAll(async () => {
  await other?.close();
  await t?.close();
});

/** Team a's name read through a cache on the other pool, with the number of database reads it made. */
function teamNameCache(): { name: () => Promise<string | null>; loads: () => number } {
  let reads = 0;
  const cache = new ReadCache<string | null>(other, ['teams']);
  const name = () =>
    cache.get('a', async () => {
      reads++;
      return (await other.query<{ name: string }>("select name from teams where id = 'a'")).rows[0]?.name ?? null;
    });
  return { name, loads: () => reads };
}

describe('change announcements across processes (postgres)', () => {
  it('a change committed through one pool is heard by another, whose cache then reads again', async () => {
    heard.length = 0;
    const { name, loads } = teamNameCache();
    expect(await name()).toBe('alpha');
    expect(await name()).toBe('alpha');
    expect(loads()).toBe(1);
    await t.db.query("update teams set name = 'alef' where id = 'a'");
    await until(() => heard.includes('teams'), 'the other pool heard the change');
    expect(await name()).toBe('alef');
    expect(loads()).toBe(2);
  });

  it('while the listening connection is lost, every read goes to the database; once back the cache starts empty', async () => {
    const { name, loads } = teamNameCache();
    await name();
    expect(loads()).toBe(1);
    // Ends every session of this database that listens and is idle (the dedicated listeners of both pools).
    await t.db.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and pid <> pg_backend_pid() and query ilike 'listen%' and state = 'idle'`,
    );
    await until(() => !other.watching, 'the other pool noticed the lost listener');
    await name();
    await name();
    expect(loads()).toBe(3);
    await until(() => other.watching, 'the listener reconnected');
    heard.length = 0;
    await t.db.query("update teams set name = 'alpha' where id = 'a'");
    await until(() => heard.includes('teams'), 'the change after reconnecting was heard');
    const before = loads();
    expect(await name()).toBe('alpha');
    expect(await name()).toBe('alpha');
    expect(loads()).toBe(before + 1);
  });
});

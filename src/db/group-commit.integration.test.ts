// Group commit on the backend under test (a multi-row insert as the write): rows that arrive while an insert is in
// flight share the next statement,
// every caller is answered only once its row is stored, and a bad row fails alone without losing the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, openTestDatabase, type TestDatabase } from '../../tests/support/db.js';
import { GroupCommit, InsertStatements, type Queryable } from './index.js';

let t: TestDatabase;
let statements = 0;
type Team = { id: string; name: string };
let writer: { insert: (row: Team) => Promise<void> };

beforeAll(async () => {
  t = await openTestDatabase();
  const counted: Queryable = {
    query: (sql, params) => {
      statements++;
      return t.db.query(sql, params);
    },
    exec: (sql) => t.db.exec(sql),
  };
  const texts = new InsertStatements('teams', ['id', 'name']);
  const group = new GroupCommit((rows: Team[]) => counted.query(texts.text(rows.length), rows.flatMap((r) => [r.id, r.name])), 16);
  writer = { insert: (row) => group.submit(row) };
});
afterAll(async () => t?.close());

const stored = async (prefix: string) =>
  (await t.db.query<{ id: string }>('select id from teams where id like $1 order by id', [`${prefix}%`])).rows.map((r) => r.id);

describe(`group commit (${BACKEND})`, () => {
  it('writes a lone row at once, in its own statement', async () => {
    statements = 0;
    await writer.insert({ id: 'solo', name: 'Solo' });
    expect(statements).toBe(1);
    expect(await stored('solo')).toEqual(['solo']);
  });

  it('writes concurrent rows in a few multi-row statements, at most 16 rows each, and answers after the commit', async () => {
    statements = 0;
    const ids = Array.from({ length: 40 }, (_, i) => `many-${String(i).padStart(2, '0')}`);
    await Promise.all(
      ids.map(async (id) => {
        await writer.insert({ id, name: id });
        // Answered: the row is visible to any other reader.
        expect((await t.db.query('select 1 from teams where id = $1', [id])).rowCount).toBe(1);
      }),
    );
    expect(await stored('many-')).toEqual(ids);
    // The first row goes alone; the 39 that queued behind it need at least three statements of 16.
    expect(statements).toBeGreaterThanOrEqual(4);
    expect(statements).toBeLessThanOrEqual(6);
  });

  it('fails only the bad row of a batch and stores the others', async () => {
    const rows = ['ok-1', 'solo', 'ok-2', 'ok-3'].map((id) => ({ id, name: id }));
    const results = await Promise.allSettled([writer.insert({ id: 'ok-0', name: 'ok-0' }), ...rows.map((r) => writer.insert(r))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const failure = results[2] as PromiseRejectedResult;
    expect((failure.reason as { code?: string }).code).toBe('23505'); // unique violation, PostgreSQL's code on both backends
    expect(await stored('ok-')).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3']);
  });
});

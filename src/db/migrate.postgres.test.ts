// Migrations under real concurrency: several OS processes start on one empty PostgreSQL database at the
// same moment and migrate it; exactly one of them applies each migration.
import { describe, expect, it } from 'vitest';
import { runTogether, spawnChild } from '../../tests/support/children.js';
import { createPostgresDatabase } from '../../tests/support/db.js';
import { bundledMigrations, openDatabase, pendingMigrations } from './index.js';

/** Runs `n` migrate-once processes released together; returns what each applied. */
async function migrateFromProcesses(url: string, n: number): Promise<string[][]> {
  const children = Array.from({ length: n }, () => spawnChild('tests/support/migrate-once.ts', [url], { MIGRATE_BARRIER: '1' }));
  return (await runTogether(children)).map((r) => {
    expect(r.code, r.stderr).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    expect(line, r.stdout).toBeDefined();
    return (JSON.parse(line!) as { applied: string[] }).applied;
  });
}

describe('migrations across processes (postgres)', () => {
  it('applies each migration exactly once when 3 processes migrate an empty database at once', async () => {
    const ids = bundledMigrations().map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    const fresh = await createPostgresDatabase();
    const url = fresh.url;
    try {
      const applied = await migrateFromProcesses(url, 3);
      expect(applied.flat().sort()).toEqual([...ids].sort());
      // Migrations run in one transaction, so one process applies all of them and the others none.
      expect(applied.filter((a) => a.length > 0)).toEqual([ids]);

      const db = await openDatabase({ url, poolSize: 2 });
      try {
        const { rows } = await db.query<{ id: string; n: number }>('select id, count(*) as n from schema_migrations group by id order by id');
        expect(rows).toEqual(ids.map((id) => ({ id, n: 1 })));
        const { rows: checksums } = await db.query<{ id: string; checksum: string }>('select id, checksum from schema_migrations order by id');
        expect(checksums).toEqual(bundledMigrations().map((m) => ({ id: m.id, checksum: m.checksum })));
        expect(await pendingMigrations(db)).toEqual([]);
      } finally {
        await db.close();
      }

      // A process started later finds nothing to do.
      expect(await migrateFromProcesses(url, 1)).toEqual([[]]);
    } finally {
      await fresh.drop();
    }
  });
});

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from './database.js';
import { LOCK_KEYS } from './locks.js';

/** One ordered, plain-SQL migration. */
export interface Migration {
  id: string;
  sql: string;
  checksum: string;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
const MIGRATION_LOCK_KEY = LOCK_KEYS.migrations;

let bundled: Migration[] | null = null;

/** The migrations shipped with this build, in order (read once per process). */
export function bundledMigrations(): Migration[] {
  return (bundled ??= readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(MIGRATIONS_DIR + file, 'utf8');
      return { id: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }));
}

const LEDGER = `create table if not exists schema_migrations (
  id text primary key,
  checksum text not null,
  applied_at timestamptz not null default now()
)`;

/**
 * Applies every pending migration in one transaction, under an advisory lock so that processes starting
 * together on one PostgreSQL take turns; the second finds nothing left to do.
 *
 * @example
 * const { applied } = await migrate(db);
 */
export async function migrate(db: Database, migrations = bundledMigrations()): Promise<{ applied: string[] }> {
  // The usual start finds everything applied: one read, no lock.
  if (await upToDate(db, migrations)) return { applied: [] };
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(LEDGER);
    const { rows } = await tx.query<{ id: string; checksum: string }>('select id, checksum from schema_migrations');
    const done = new Map(rows.map((r) => [r.id, r.checksum]));
    const applied: string[] = [];
    for (const m of migrations) {
      const checksum = done.get(m.id);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) throw new Error(`migration ${m.id} was changed after it was applied`);
        continue;
      }
      await tx.exec(m.sql);
      await tx.query('insert into schema_migrations (id, checksum) values ($1, $2)', [m.id, m.checksum]);
      applied.push(m.id);
    }
    return { applied };
  });
}

async function upToDate(db: Database, migrations: Migration[]): Promise<boolean> {
  const { rows: exists } = await db.query<{ t: string | null }>("select to_regclass('schema_migrations')::text as t");
  if (!exists[0]?.t) return false;
  const { rows } = await db.query<{ id: string; checksum: string }>('select id, checksum from schema_migrations');
  const done = new Map(rows.map((r) => [r.id, r.checksum]));
  return migrations.every((m) => done.get(m.id) === m.checksum);
}

/** Migrations this build knows that the database has not applied (empty when ready). */
export async function pendingMigrations(db: Database, migrations = bundledMigrations()): Promise<string[]> {
  const { rows: exists } = await db.query<{ t: string | null }>("select to_regclass('schema_migrations')::text as t");
  if (!exists[0]?.t) return migrations.map((m) => m.id);
  const { rows } = await db.query<{ id: string }>('select id from schema_migrations');
  const done = new Set(rows.map((r) => r.id));
  return migrations.filter((m) => !done.has(m.id)).map((m) => m.id);
}

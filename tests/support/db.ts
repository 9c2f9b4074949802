// Test databases: in-memory PGlite by default; a fresh database on the PostgreSQL server named by
// TARMAC_TEST_DATABASE_URL when it is set (the Postgres run of CI).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, openDatabase, type Database } from '../../src/db/index.js';

export const POSTGRES_URL = process.env.TARMAC_TEST_DATABASE_URL;
export const BACKEND = POSTGRES_URL ? 'postgres' : 'pglite';

export interface TestDatabase {
  db: Database;
  /** URL of the per-test database on PostgreSQL; undefined on PGlite. */
  url: string | undefined;
  close(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A new empty PostgreSQL database (dropped by the returned cleanup). */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!POSTGRES_URL) throw new Error('TARMAC_TEST_DATABASE_URL is not set');
  const name = `tarmac_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    url: withDatabase(POSTGRES_URL, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: POSTGRES_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A migrated database on the backend under test. */
export async function openTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  if (!POSTGRES_URL) {
    const db = await openDatabase({});
    if (options.migrate !== false) await migrate(db);
    return { db, url: undefined, close: async () => db.close() };
  }
  const { url, drop } = await createPostgresDatabase();
  const db = await openDatabase({ url, poolSize: 10 });
  if (options.migrate !== false) await migrate(db);
  return {
    db,
    url,
    close: async () => {
      await db.close();
      await drop();
    },
  };
}

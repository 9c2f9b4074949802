/**
 * The database: embedded PGlite or PostgreSQL behind one interface, and ordered migrations.
 *
 * @example
 * const db = await openDatabase({ url: process.env.TARMAC_DATABASE_URL, dataDir: './.tarmac' });
 * await migrate(db);
 */
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openPostgres } from './postgres.js';

export type { ChangeListener, Database, DatabaseKind, QueryResult, Queryable } from './database.js';
export { ReadCache } from './changes.js';
export { newId, randomId } from './ids.js';
export { LOCK_KEYS } from './locks.js';
export { GroupCommit, InsertStatements, insertStatement } from './group-commit.js';
export { bundledMigrations, migrate, pendingMigrations, type Migration } from './migrate.js';
export { embeddedLockOwner, type EmbeddedLockOwner } from './pglite.js';

export interface OpenDatabaseOptions {
  /** `postgres://` URL; absent means embedded PGlite. */
  url?: string | undefined;
  /** Folder of the embedded database; absent (with no url) means in memory. */
  dataDir?: string | undefined;
  poolSize?: number;
  /** What the opening process is, recorded in the embedded lock file. */
  command?: string;
}

/** Opens PostgreSQL when a URL is given, else the embedded PGlite database. */
export function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres({ url: options.url, poolSize: options.poolSize ?? 10 });
  return openPglite({ dataDir: options.dataDir, command: options.command ?? 'tarmac' });
}

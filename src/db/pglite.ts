import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { TarmacError } from '../errors/index.js';
import { CHANGE_CHANNEL, ChangeFeed } from './changes.js';
import type { ChangeListener, Database, QueryResult, Queryable } from './database.js';
import { SESSION_SETTINGS } from './pglite-protocol.js';
import { openPgliteThread } from './pglite-thread.js';

/** Lock file that keeps a second process from opening the same embedded database. */
export interface EmbeddedLockOwner {
  pid: number;
  command: string;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process that holds the embedded database in `dataDir`, or null when nobody does. */
export function embeddedLockOwner(dataDir: string): EmbeddedLockOwner | null {
  const file = path.join(dataDir, 'db.lock');
  let owner: EmbeddedLockOwner;
  try {
    owner = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedLockOwner;
  } catch {
    return null;
  }
  if (owner.pid === process.pid || !isAlive(owner.pid)) return null;
  return owner;
}

function acquireLock(dataDir: string, command: string): () => void {
  const file = path.join(dataDir, 'db.lock');
  const owner = embeddedLockOwner(dataDir);
  if (owner) {
    throw new TarmacError(
      'database_locked',
      `the embedded database in ${dataDir} is in use by process ${owner.pid} (${owner.command}); stop it or point the CLI at it with TARMAC_URL`,
      owner,
    );
  }
  const mine: EmbeddedLockOwner = { pid: process.pid, command, startedAt: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(mine), { mode: 0o600 });
  return () => {
    try {
      const current = JSON.parse(readFileSync(file, 'utf8')) as EmbeddedLockOwner;
      if (current.pid === process.pid) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

class PgliteQueryable implements Queryable {
  constructor(protected readonly target: PGlite | Transaction) {}

  async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.target.query<R>(sql, params ? [...params] : undefined);
    // Statements that return rows count them; others report the rows they changed (as node-postgres does).
    return { rows: result.rows, rowCount: result.fields.length > 0 ? result.rows.length : (result.affectedRows ?? 0) };
  }

  async exec(sql: string): Promise<QueryResult<Record<string, unknown>>> {
    const results = await this.target.exec(sql);
    const last = results[results.length - 1];
    return { rows: (last?.rows ?? []), rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
  }
}

class PgliteDatabase extends PgliteQueryable implements Database {
  readonly kind = 'pglite' as const;
  private readonly feed = new ChangeFeed();

  constructor(
    private readonly db: PGlite,
    private readonly release: () => void,
  ) {
    super(db);
  }

  /** Listens for change announcements; PGlite delivers its own session's before the commit resolves. */
  async start(): Promise<this> {
    await this.db.exec(SESSION_SETTINGS);
    await this.db.listen(CHANGE_CHANNEL, (table) => this.feed.emit({ table }));
    this.feed.live = true;
    return this;
  }

  get watching(): boolean {
    return this.feed.live;
  }

  watch(listener: ChangeListener): () => void {
    return this.feed.watch(listener);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new PgliteQueryable(tx)));
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
    this.release();
  }
}

/**
 * Opens the embedded database. With a `dataDir` the data lives in `dataDir/pglite`, a lock file keeps other
 * processes out, and the database runs on its own worker thread unless `thread` is false; without one it lives
 * in memory on the calling thread (tests).
 */
export async function openPglite(options: { dataDir?: string; command?: string; thread?: boolean }): Promise<Database> {
  // pgvector ships with the embedded database; vector search uses it when an embedding provider is configured.
  const extensions = { vector };
  if (!options.dataDir) return new PgliteDatabase(await PGlite.create({ extensions }), () => undefined).start();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const release = acquireLock(options.dataDir, options.command ?? 'tarmac');
  try {
    if (options.thread !== false) return await openPgliteThread(options.dataDir, release);
    const db = await PGlite.create(path.join(options.dataDir, 'pglite'), { extensions });
    return await new PgliteDatabase(db, release).start();
  } catch (err) {
    release();
    throw err;
  }
}

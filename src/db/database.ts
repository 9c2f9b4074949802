/** Result of one SQL statement. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Something that runs SQL: the database itself or an open transaction. */
export interface Queryable {
  /** One statement with `$1…` parameters. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A script of several statements without parameters; returns the last statement's rows. */
  exec(sql: string): Promise<QueryResult<Record<string, unknown>>>;
}

export type DatabaseKind = 'pglite' | 'postgres';

/** A committed change to a watched table, or `reset` when changes may have been missed. */
export type ChangeListener = (change: { table: string } | { reset: true }) => void;

/**
 * The one database interface of Tarmac: embedded PGlite or PostgreSQL behind the same calls.
 *
 * @example
 * await db.transaction(async (tx) => {
 *   await tx.query('insert into teams (id, name) values ($1, $2)', [id, name]);
 * });
 */
export interface Database extends Queryable {
  readonly kind: DatabaseKind;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` after each committed change to a watched table (see migration 0034), from this process or
   * any other on the same database; a change made through this process is announced before its commit resolves.
   * Returns the function that stops listening.
   */
  watch(listener: ChangeListener): () => void;
  /** Whether changes are announced now; while not, nothing derived from watched tables may be cached. */
  readonly watching: boolean;
  /** Closes every connection; pending work finishes first. */
  close(): Promise<void>;
}

/** Postgres type OIDs whose parsing is aligned between PGlite and node-postgres. */
export const INT8_OID = 20;

import type { Queryable } from './database.js';

/**
 * The text of an insert of `rows` rows into `table`, numbering the parameters row by row.
 *
 * @example
 * insertStatement('teams', ['id', 'name'], 2); // insert into teams (id, name) values ($1, $2), ($3, $4)
 */
export function insertStatement(table: string, columns: readonly string[], rows = 1): string {
  const width = columns.length;
  const tuples = Array.from({ length: rows }, (_, r) => `(${columns.map((_, c) => `$${r * width + c + 1}`).join(', ')})`);
  return `insert into ${table} (${columns.join(', ')}) values ${tuples.join(', ')}`;
}

interface Waiting<Row> {
  row: Row;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Inserts rows of one table as they come, in as few statements as concurrency allows (group commit). A row
 * arriving while no insert is in flight is written at once; rows arriving while one is in flight wait for it and
 * then go together in one multi-row insert. Each caller's promise settles when its own row is committed, so
 * nothing is acknowledged before it is stored. A statement is atomic: when a batch fails, none of it was
 * written, and its rows are retried one by one so that a bad row fails alone.
 *
 * @example
 * const writer = new GroupInsert(db, 'teams', ['id', 'name'], (t: { id: string; name: string }) => [t.id, t.name]);
 * await Promise.all([writer.insert({ id: 'a', name: 'A' }), writer.insert({ id: 'b', name: 'B' })]);
 */
export class GroupInsert<Row> {
  private queue: Waiting<Row>[] = [];
  private writing = false;
  private readonly statements = new Map<number, string>();

  constructor(
    private readonly db: Queryable,
    private readonly table: string,
    private readonly columns: readonly string[],
    private readonly values: (row: Row) => unknown[],
    /** Rows per statement at most (parameters stay far below PostgreSQL's 65,535). */
    private readonly maxRows = 64,
  ) {}

  /** Resolves once the row is committed; rejects with the database's error for this row alone. */
  insert(row: Row): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ row, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxRows);
        try {
          await this.write(batch.map((w) => w.row));
          for (const w of batch) w.resolve();
        } catch (err) {
          if (batch.length === 1) batch[0]?.reject(err);
          else for (const w of batch) await this.write([w.row]).then(w.resolve, w.reject);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private write(rows: Row[]): Promise<unknown> {
    return this.db.query(this.statement(rows.length), rows.flatMap(this.values));
  }

  private statement(count: number): string {
    let sql = this.statements.get(count);
    if (!sql) {
      sql = insertStatement(this.table, this.columns, count);
      this.statements.set(count, sql);
    }
    return sql;
  }
}

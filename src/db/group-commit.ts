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

interface Waiting<Item> {
  item: Item;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Writes items as they come, in as few commits as concurrency allows (group commit). An item arriving while no
 * write is in flight is written at once; items arriving while one is in flight wait for it and then go together
 * in one `write`. Each caller's promise settles when its own item is committed, so nothing is acknowledged before
 * it is stored. `write` must be atomic (one statement, or one transaction): when a batch fails, none of it was
 * written, and its items are retried one by one so that a bad item fails alone.
 *
 * @example
 * const runs = new GroupCommit((batch: Run[]) => db.transaction(async (tx) => writeAll(tx, batch)));
 * await Promise.all([runs.submit(a), runs.submit(b)]);
 */
export class GroupCommit<Item> {
  private queue: Waiting<Item>[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: Item[]) => Promise<unknown>,
    /** Items per write at most. */
    private readonly maxItems = 64,
  ) {}

  /** Resolves once the item is committed; rejects with the database's error for this item alone. */
  submit(item: Item): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxItems);
        try {
          await this.write(batch.map((w) => w.item));
          for (const w of batch) w.resolve();
        } catch (err) {
          if (batch.length === 1) batch[0]?.reject(err);
          else for (const w of batch) await this.write([w.item]).then(w.resolve, w.reject);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

/** Multi-row inserts of one table, their text kept per row count. */
export class InsertStatements {
  private readonly texts = new Map<number, string>();

  constructor(
    private readonly table: string,
    private readonly columns: readonly string[],
  ) {}

  text(rows: number): string {
    let sql = this.texts.get(rows);
    if (!sql) {
      sql = insertStatement(this.table, this.columns, rows);
      this.texts.set(rows, sql);
    }
    return sql;
  }
}

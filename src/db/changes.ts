import type { ChangeListener, Database } from './database.js';

/** The channel on which triggers (migration 0034) announce committed changes, with the table as payload. */
export const CHANGE_CHANNEL = 'tarmac_changes';

/** Listeners of one database's change announcements, and whether announcements are arriving now. */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  /** False while announcements may be missed (PostgreSQL listener disconnected): caches must not be used then. */
  live = false;

  watch(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: { table: string } | { reset: true }): void {
    for (const listener of this.listeners) listener(change);
  }

  /** Announcements stopped: whatever was cached may now go stale without notice. */
  down(): void {
    this.live = false;
    this.emit({ reset: true });
  }

  /** Announcements resumed: anything cached before may have missed a change. */
  up(): void {
    this.emit({ reset: true });
    this.live = true;
  }
}

/**
 * Reads cached in this process until a committed change to one of `tables` (from any process) is announced.
 * While the database cannot announce changes, every read goes to the database. A read that raced with a change
 * is returned but not kept. Bounded: past `max` entries the cache starts over.
 *
 * @example
 * const byName = new ReadCache<UseCaseRow | null>(db, ['use_cases']);
 * const row = await byName.get(name, () => repo.findUseCase(db, name));
 */
export class ReadCache<V> {
  private readonly entries = new Map<string, V>();
  private generation = 0;

  constructor(
    private readonly db: Database,
    tables: readonly string[],
    private readonly max = 1000,
  ) {
    const watched = new Set(tables);
    db.watch((change) => {
      if ('reset' in change || watched.has(change.table)) this.clear();
    });
  }

  async get(key: string, load: () => Promise<V>): Promise<V> {
    if (!this.db.watching) return load();
    if (this.entries.has(key)) return this.entries.get(key) as V;
    const generation = this.generation;
    const value = await load();
    if (generation === this.generation && this.db.watching) {
      if (this.entries.size >= this.max) this.entries.clear();
      this.entries.set(key, value);
    }
    return value;
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}

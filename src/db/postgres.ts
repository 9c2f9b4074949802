import pg from 'pg';
import { TarmacError } from '../errors/index.js';
import { CHANGE_CHANNEL, ChangeFeed } from './changes.js';
import { INT8_OID, type ChangeListener, type Database, type QueryResult, type Queryable } from './database.js';

// Align with PGlite: int8 values (counts, sequence numbers) arrive as numbers, and as BigInt beyond 2^53.
const parseInt8 = (value: string): number | bigint => {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : BigInt(value);
};
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID ? parseInt8 : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

class PgQueryable implements Queryable {
  constructor(protected readonly client: pg.Pool | pg.PoolClient) {}

  async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const result = await this.client.query({ text: sql, values: params ? [...params] : undefined, types });
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
  }

  async exec(sql: string): Promise<QueryResult<Record<string, unknown>>> {
    const result = (await this.client.query({ text: sql, types })) as pg.QueryResult | pg.QueryResult[];
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return { rows: (last?.rows ?? []) as Record<string, unknown>[], rowCount: last?.rowCount ?? 0 };
  }
}

/**
 * Hears change announcements on a connection of its own, reconnecting after a loss (every second). While it is
 * disconnected the feed is down, so caches are bypassed; once back, they start empty.
 */
class ChangeListenerConnection {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly options: pg.ClientConfig,
    private readonly feed: ChangeFeed,
    private readonly own: ReadonlySet<number>,
  ) {}

  async connect(): Promise<void> {
    const client = new pg.Client(this.options);
    // Changes made through this process's own connections were announced there already.
    client.on('notification', (n) => this.own.has(n.processId) || this.feed.emit({ table: n.payload ?? '' }));
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    try {
      await client.connect();
      await client.query(`listen ${CHANGE_CHANNEL}`);
    } catch {
      await client.end().catch(() => undefined);
      this.lost(client);
      return;
    }
    if (this.stopped) return void (await client.end().catch(() => undefined));
    this.client = client;
    this.feed.up();
  }

  private lost(client: pg.Client): void {
    if (this.client !== null && this.client !== client) return;
    this.client = null;
    if (this.feed.live) this.feed.down();
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = null;
    this.feed.live = false;
    await client?.end().catch(() => undefined);
  }
}

class PostgresDatabase extends PgQueryable implements Database {
  readonly kind = 'postgres' as const;

  constructor(
    private readonly pool: pg.Pool,
    private readonly feed: ChangeFeed,
    private readonly listener: ChangeListenerConnection,
  ) {
    super(pool);
  }

  get watching(): boolean {
    return this.feed.live;
  }

  watch(listener: ChangeListener): () => void {
    return this.feed.watch(listener);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new PgQueryable(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.listener.stop();
    await this.pool.end();
  }
}

/** Connects to PostgreSQL and checks the connection once. */
export async function openPostgres(options: { url: string; poolSize?: number; applicationName?: string }): Promise<Database> {
  const config = { connectionString: options.url, application_name: options.applicationName ?? 'tarmac' };
  const feed = new ChangeFeed();
  const own = new Set<number>();
  // Every pooled connection listens to its own changes: one committed through it is announced before its commit
  // resolves. Others' changes come through the dedicated listener, so each is announced once. The pool hands a
  // connection out only once its LISTEN is done, so no query ever runs beside it on one connection.
  const onConnect = async (client: pg.ClientBase): Promise<void> => {
    const pid = (client as pg.ClientBase & { processID: number }).processID;
    own.add(pid);
    client.on('notification', (n) => n.processId === pid && feed.emit({ table: n.payload ?? '' }));
    await client.query(`listen ${CHANGE_CHANNEL}`).catch(() => undefined);
  };
  // pg-pool awaits the hook's promise, though its types say it returns nothing.
  const poolConfig: Omit<pg.PoolConfig, 'onConnect'> & { onConnect: typeof onConnect } = { ...config, max: options.poolSize ?? 10, onConnect };
  const pool = new pg.Pool(poolConfig);
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  pool.on('remove', (client) => own.delete((client as pg.PoolClient & { processID: number }).processID));
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new TarmacError('not_ready', `cannot connect to PostgreSQL: ${(err as Error).message}`);
  }
  const listener = new ChangeListenerConnection(config, feed, own);
  await listener.connect();
  return new PostgresDatabase(pool, feed, listener);
}

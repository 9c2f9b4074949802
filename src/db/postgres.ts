import pg from 'pg';
import { TarmacError } from '../errors/index.js';
import { INT8_OID, type Database, type QueryResult, type Queryable } from './database.js';

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

class PostgresDatabase extends PgQueryable implements Database {
  readonly kind = 'postgres' as const;

  constructor(private readonly pool: pg.Pool) {
    super(pool);
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
    await this.pool.end();
  }
}

/** Connects to PostgreSQL and checks the connection once. */
export async function openPostgres(options: { url: string; poolSize?: number; applicationName?: string }): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'tarmac',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new TarmacError('not_ready', `cannot connect to PostgreSQL: ${(err as Error).message}`);
  }
  return new PostgresDatabase(pool);
}

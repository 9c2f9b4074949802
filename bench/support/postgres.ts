// PostgreSQL for benchmarks: TARMAC_BENCH_DATABASE_URL when set, else a throwaway server from scripts/pg-temp.sh that
// is stopped when the process exits, however it exits.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, progress, ROOT } from './common.js';

export interface BenchPostgres {
  /** URL of the server's maintenance database (new databases are created through it). */
  url: string;
  /** Where it came from: `env` (TARMAC_BENCH_DATABASE_URL) or `pg-temp`. */
  source: 'env' | 'pg-temp';
  stop(): void;
}

/** The server to benchmark against; a throwaway one unless TARMAC_BENCH_DATABASE_URL names one. */
export async function benchPostgres(): Promise<BenchPostgres> {
  const given = process.env.TARMAC_BENCH_DATABASE_URL;
  if (given) return { url: given, source: 'env', stop: () => undefined };
  const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-pg-'));
  const script = path.join(ROOT, 'scripts', 'pg-temp.sh');
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    progress(`stopping the throwaway PostgreSQL server in ${dir}`);
    spawnSync('bash', [script, 'stop', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  // Synchronous, so it also runs from an 'exit' handler: on errors, on Ctrl-C, on SIGTERM.
  process.on('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const port = await freePort();
  progress(`starting a throwaway PostgreSQL server (scripts/pg-temp.sh start ${dir} ${port})`);
  const started = spawnSync('bash', [script, 'start', dir, String(port)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (started.status !== 0) {
    stop();
    throw new Error(`scripts/pg-temp.sh start failed: ${started.stderr}`);
  }
  return { url: started.stdout.trim(), source: 'pg-temp', stop };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the server; `drop` removes it. */
export async function createBenchDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tarmac_bench_${randomBytes(5).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`create database ${name}`));
  return {
    url: withDatabase(serverUrl, name),
    drop: () => admin(serverUrl, (c) => c.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

/** The server's settings that decide commit cost, for the record. */
export async function commitSettings(url: string): Promise<Record<string, string>> {
  return admin(url, async (c) => {
    const { rows } = await c.query<{ name: string; setting: string }>(
      "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'server_version') order by name",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  });
}

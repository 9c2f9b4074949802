// Migrations under real concurrency: several OS processes start on one empty PostgreSQL database at the
// same moment and migrate it; exactly one of them applies each migration.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../tests/support/db.js';
import { bundledMigrations, openDatabase, pendingMigrations } from './index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Child {
  ready: Promise<void>;
  go(): void;
  done: Promise<ChildResult>;
  kill(): void;
}

/** Starts `node --import tsx tests/support/migrate-once.ts URL`, stopped at its start barrier. */
function spawnMigrator(url: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/support/migrate-once.ts', url], {
    cwd: ROOT,
    env: { ...process.env, MIGRATE_BARRIER: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  let failReady: (err: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (/^ready$/m.test(stdout)) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code) => {
      failReady(new Error(`migrate-once exited (${code}) before it was ready: ${stderr}`));
      resolve({ code, stdout, stderr });
    });
  });
  return {
    ready,
    done,
    go: () => child.stdin.end('go\n'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs `n` migrate-once processes released together; returns what each applied. */
async function migrateFromProcesses(url: string, n: number): Promise<string[][]> {
  const children = Array.from({ length: n }, () => spawnMigrator(url));
  try {
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const results = await Promise.all(children.map((c) => c.done));
    return results.map((r) => {
      expect(r.code, r.stderr).toBe(0);
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      expect(line, r.stdout).toBeDefined();
      return (JSON.parse(line!) as { applied: string[] }).applied;
    });
  } finally {
    for (const c of children) c.kill();
  }
}

describe('migrations across processes (postgres)', () => {
  it('applies each migration exactly once when 3 processes migrate an empty database at once', async () => {
    const ids = bundledMigrations().map((m) => m.id);
    expect(ids.length).toBeGreaterThan(0);
    const fresh = await createPostgresDatabase();
    const url = fresh.url;
    try {
      const applied = await migrateFromProcesses(url, 3);
      expect(applied.flat().sort()).toEqual([...ids].sort());
      // Migrations run in one transaction, so one process applies all of them and the others none.
      expect(applied.filter((a) => a.length > 0)).toEqual([ids]);

      const db = await openDatabase({ url, poolSize: 2 });
      try {
        const { rows } = await db.query<{ id: string; n: number }>('select id, count(*) as n from schema_migrations group by id order by id');
        expect(rows).toEqual(ids.map((id) => ({ id, n: 1 })));
        const { rows: checksums } = await db.query<{ id: string; checksum: string }>('select id, checksum from schema_migrations order by id');
        expect(checksums).toEqual(bundledMigrations().map((m) => ({ id: m.id, checksum: m.checksum })));
        expect(await pendingMigrations(db)).toEqual([]);
      } finally {
        await db.close();
      }

      // A process started later finds nothing to do.
      expect(await migrateFromProcesses(url, 1)).toEqual([[]]);
    } finally {
      await fresh.drop();
    }
  });
});

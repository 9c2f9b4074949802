// Audit log: appends per second (one transaction per entry) on embedded PGlite with 1 writer and on PostgreSQL with 1
// and 4 writer processes, and the time AuditLog.verify() takes over 100,000 entries on both.
// Baselines measured in the same run: plain one-row commits with no chain (the database's own commit rate).
//   npm run bench -- audit [--runs 3] [--pglite-appends 2000] [--per-writer 1000] [--verify-entries 100000]
// PostgreSQL: TARMAC_BENCH_DATABASE_URL when set, else a throwaway server from scripts/pg-temp.sh.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { systemActor } from '../src/access/index.js';
import { AuditLog } from '../src/audit/index.js';
import { migrate, openDatabase, type Database } from '../src/db/index.js';
import { fillAuditChain } from './support/audit-chain.js';
import { emit, intArg, median, progress, ROOT, round } from './support/common.js';
import { benchPostgres, commitSettings, createBenchDatabase } from './support/postgres.js';

const RUNS = intArg('runs', 3);
const PGLITE_APPENDS = intArg('pglite-appends', 2000);
const PER_WRITER = intArg('per-writer', 1000);
const VERIFY_ENTRIES = intArg('verify-entries', 100_000);
const TARGETS = { pg_appends_per_s_4_writers: 500, verify_100k_ms: 5000 };

const PLAIN_TABLE = `create table bench_plain (
  id bigserial primary key, at timestamptz not null default now(), actor_id text not null, action text not null,
  target_id text not null, after jsonb)`;

type Mode = 'audit' | 'plain';

interface WriterResult {
  id: number;
  count: number;
  startedAt: number;
  finishedAt: number;
  perSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

interface WritersResult {
  perSecond: number;
  wallMs: number;
  writers: WriterResult[];
}

// Writers still running when the benchmark ends early are killed with it.
const liveWriters = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of liveWriters) child.kill('SIGKILL');
});

/** Starts `n` writer processes, lets them go together, and returns total entries / (last finish − first start). */
async function runWriters(url: string, n: number, count: number, mode: Mode): Promise<WritersResult> {
  const writerScript = path.join(ROOT, 'bench', 'support', 'audit-writer.ts');
  const children = Array.from({ length: n }, (_, i) =>
    spawn(process.execPath, ['--import', 'tsx', writerScript, '--url', url, '--count', String(count), '--mode', mode, '--id', String(i + 1)], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  for (const child of children) {
    liveWriters.add(child);
    child.once('exit', () => liveWriters.delete(child));
  }
  try {
    const outputs = children.map((child) => {
      const lines = createInterface({ input: child.stdout });
      const messages: unknown[] = [];
      const waiters: ((m: unknown) => void)[] = [];
      lines.on('line', (line) => {
        const message = JSON.parse(line) as unknown;
        const waiter = waiters.shift();
        if (waiter) waiter(message);
        else messages.push(message);
      });
      const exit = once(child, 'exit').then(([code]) => {
        if (code !== 0) throw new Error(`audit writer exited with ${String(code)}`);
      });
      const next = (): Promise<unknown> =>
        messages.length > 0
          ? Promise.resolve(messages.shift())
          : Promise.race([new Promise<unknown>((resolve) => waiters.push(resolve)), exit.then(() => Promise.reject(new Error('audit writer ended early')))]);
      return { next, exit };
    });
    await Promise.all(outputs.map((o) => o.next()));
    for (const child of children) child.stdin.end('go\n');
    const writers = (await Promise.all(outputs.map((o) => o.next()))) as WriterResult[];
    await Promise.all(outputs.map((o) => o.exit));
    const wallMs = Math.max(...writers.map((w) => w.finishedAt)) - Math.min(...writers.map((w) => w.startedAt));
    const total = writers.reduce((sum, w) => sum + w.count, 0);
    return { perSecond: (total * 1000) / wallMs, wallMs, writers };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

async function expectIntactChain(db: Database, entries: number): Promise<void> {
  const result = await new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: null }).verify();
  if (!result.ok || result.entries !== entries) {
    throw new Error(`audit chain check failed: ${JSON.stringify({ ok: result.ok, entries: result.entries, expected: entries, problem: result.problem })}`);
  }
}

/** Appends per second on an on-disk PGlite database, in process, each entry in its own transaction; and the plain baseline. */
async function pgliteAppends(count: number): Promise<{ audit: number; plain: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-audit-pglite-'));
  const db = await openDatabase({ dataDir: dir, command: 'bench audit' });
  try {
    await migrate(db);
    await db.exec(PLAIN_TABLE);
    const audit = new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: null });
    const ctx = { actor: systemActor('bench-writer-1'), requestId: null };
    const append = (i: number) =>
      audit.transaction(ctx, async (_tx, record) => {
        await record({ action: 'bench.appended', targetType: 'bench', targetId: `1-${i}`, after: { writer: 1, i, name: `entry ${i} of writer 1` } });
      });
    const WARM_UP = 20;
    for (let i = 0; i < WARM_UP; i++) await append(-i);
    let started = performance.now();
    for (let i = 0; i < count; i++) await append(i);
    const auditPerSecond = (count * 1000) / (performance.now() - started);
    await expectIntactChain(db, count + WARM_UP);
    started = performance.now();
    for (let i = 0; i < count; i++) {
      await db.transaction(async (tx) => {
        await tx.query('insert into bench_plain (actor_id, action, target_id, after) values ($1, $2, $3, $4)', [
          'bench-writer-1',
          'bench.appended',
          `1-${i}`,
          JSON.stringify({ writer: 1, i, name: `entry ${i} of writer 1` }),
        ]);
      });
    }
    return { audit: auditPerSecond, plain: (count * 1000) / (performance.now() - started) };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Fills VERIFY_ENTRIES chained entries, checks verify() is ok, and returns each run's verify() time. */
async function verifyTimes(db: Database, runs: number): Promise<{ fillMs: number; verifyMs: number[] }> {
  await migrate(db);
  let started = performance.now();
  await fillAuditChain(db, VERIFY_ENTRIES);
  const fillMs = performance.now() - started;
  const audit = new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: null });
  const verifyMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    started = performance.now();
    const result = await audit.verify();
    verifyMs.push(performance.now() - started);
    if (!result.ok || result.entries !== VERIFY_ENTRIES) throw new Error(`verify() failed: ${JSON.stringify(result)}`);
  }
  return { fillMs, verifyMs };
}

const loadAtStart = round(loadavg()[0]!, 2);
const pgliteAudit: number[] = [];
const pglitePlain: number[] = [];
const pg1: WritersResult[] = [];
const pg4: WritersResult[] = [];
const plain1: WritersResult[] = [];
const plain4: WritersResult[] = [];

for (let run = 1; run <= RUNS; run++) {
  const r = await pgliteAppends(PGLITE_APPENDS);
  pgliteAudit.push(r.audit);
  pglitePlain.push(r.plain);
  progress(`PGlite run ${run}/${RUNS}: ${round(r.audit)} appends/s (plain commits ${round(r.plain)}/s)`);
}

const server = await benchPostgres();
let settings: Record<string, string> = {};
let pgVerify: { fillMs: number; verifyMs: number[] };
try {
  settings = await commitSettings(server.url);
  for (let run = 1; run <= RUNS; run++) {
    const database = await createBenchDatabase(server.url);
    const db = await openDatabase({ url: database.url, poolSize: 2 });
    try {
      await migrate(db);
      await db.exec(PLAIN_TABLE);
      pg1.push(await runWriters(database.url, 1, PER_WRITER, 'audit'));
      pg4.push(await runWriters(database.url, 4, PER_WRITER, 'audit'));
      plain1.push(await runWriters(database.url, 1, PER_WRITER, 'plain'));
      plain4.push(await runWriters(database.url, 4, PER_WRITER, 'plain'));
      await expectIntactChain(db, PER_WRITER * 5);
    } finally {
      await db.close();
      await database.drop();
    }
    progress(
      `PostgreSQL run ${run}/${RUNS}: audit ${round(pg1.at(-1)!.perSecond)}/s (1 writer), ${round(pg4.at(-1)!.perSecond)}/s (4 writers); ` +
        `plain commits ${round(plain1.at(-1)!.perSecond)}/s (1), ${round(plain4.at(-1)!.perSecond)}/s (4)`,
    );
  }
  const database = await createBenchDatabase(server.url);
  const db = await openDatabase({ url: database.url, poolSize: 2 });
  try {
    pgVerify = await verifyTimes(db, RUNS);
  } finally {
    await db.close();
    await database.drop();
  }
  progress(`PostgreSQL verify of ${VERIFY_ENTRIES}: ${pgVerify.verifyMs.map((x) => round(x, 0)).join(', ')} ms (fill ${round(pgVerify.fillMs, 0)} ms)`);
} finally {
  server.stop();
}

const pgliteDir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-audit-pglite-'));
let pgliteVerify: { fillMs: number; verifyMs: number[] };
try {
  const db = await openDatabase({ dataDir: pgliteDir, command: 'bench audit' });
  try {
    pgliteVerify = await verifyTimes(db, RUNS);
  } finally {
    await db.close();
  }
} finally {
  rmSync(pgliteDir, { recursive: true, force: true });
}
progress(`PGlite verify of ${VERIFY_ENTRIES}: ${pgliteVerify.verifyMs.map((x) => round(x, 0)).join(', ')} ms (fill ${round(pgliteVerify.fillMs, 0)} ms)`);

const rate = (xs: WritersResult[]) => median(xs.map((x) => x.perSecond));
const rates = (xs: WritersResult[]) => xs.map((x) => round(x.perSecond));
const p99 = (xs: WritersResult[]) => median(xs.flatMap((x) => x.writers.map((w) => w.latencyMs.p99)));
const p50 = (xs: WritersResult[]) => median(xs.flatMap((x) => x.writers.map((w) => w.latencyMs.p50)));
emit({
  bench: 'audit',
  pglite_appends_per_s_1_writer: round(median(pgliteAudit)),
  pg_appends_per_s_1_writer: round(rate(pg1)),
  pg_appends_per_s_4_writers: round(rate(pg4)),
  verify_100k_ms_pg: round(median(pgVerify.verifyMs), 0),
  verify_100k_ms_pglite: round(median(pgliteVerify.verifyMs), 0),
  targets: TARGETS,
  runs: {
    pglite_appends_per_s_1_writer: pgliteAudit.map((x) => round(x)),
    pg_appends_per_s_1_writer: rates(pg1),
    pg_appends_per_s_4_writers: rates(pg4),
    verify_ms_pg: pgVerify.verifyMs.map((x) => round(x, 0)),
    verify_ms_pglite: pgliteVerify.verifyMs.map((x) => round(x, 0)),
  },
  baseline: {
    pglite_plain_commits_per_s_1_writer: round(median(pglitePlain)),
    pg_plain_commits_per_s_1_writer: round(rate(plain1)),
    pg_plain_commits_per_s_4_writers: round(rate(plain4)),
    pg_plain_commits_per_s_4_writers_runs: rates(plain4),
  },
  ratio: {
    pglite_appends_over_plain: round(median(pgliteAudit) / median(pglitePlain), 2),
    pg_appends_over_plain_1_writer: round(rate(pg1) / rate(plain1), 2),
    pg_appends_over_plain_4_writers: round(rate(pg4) / rate(plain4), 2),
    pg_4_writers_over_1_writer: round(rate(pg4) / rate(pg1), 2),
  },
  latency_ms: {
    pg_append_p50_1_writer: round(p50(pg1), 2),
    pg_append_p99_1_writer: round(p99(pg1), 2),
    pg_append_p50_4_writers: round(p50(pg4), 2),
    pg_append_p99_4_writers: round(p99(pg4), 2),
    pg_plain_p50_4_writers: round(p50(plain4), 2),
  },
  fill_ms: { pg: round(pgVerify.fillMs, 0), pglite: round(pgliteVerify.fillMs, 0) },
  sizes: { pglite_appends: PGLITE_APPENDS, per_writer: PER_WRITER, verify_entries: VERIFY_ENTRIES, runs: RUNS },
  postgres: { source: server.source, ...settings },
  loadavg_1m_at_start: loadAtStart,
  node: process.version,
});

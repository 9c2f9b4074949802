// Startup: time from spawning `node bin/tarmac.mjs serve` (embedded PGlite) to GET /readyz answering 200, cold (new
// data folder: migrations, admin key, demo seed) and warm (same folder again), and the time SIGTERM takes to stop it.
// Baselines measured in the same run: a bare `node -e 0`, importing the built app, and PGlite.create on the warm folder
// (and on a new folder, which is PGlite's own initdb, for the cold figure). Then the footprint at rest: CPU time per
// second and RSS of a started server doing nothing, on PGlite (with what PGlite alone takes) and, with
// BENCH_DATABASE_URL (or --postgres: a throwaway server from scripts/pg-temp.sh), on PostgreSQL.
//   npm run bench -- startup [--runs 5] [--idle-seconds 60] [--idle-runs 3] [--idle-only] [--no-build] [--postgres]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { emit, flag, freePort, intArg, median, progress, ROOT, round } from './support/common.js';
import { benchPostgres, createBenchDatabase } from './support/postgres.js';

const RUNS = intArg('runs', 5);
// A whole minute, so that the per-minute scheduled jobs weigh in every sample as they do over a day.
const IDLE_S = intArg('idle-seconds', 60);
const IDLE_RUNS = intArg('idle-runs', 3);
// At rest means after start-up's aftermath (pg-boss's first checks, JIT, V8's garbage collections after the load).
const SETTLE_MS = 30_000;
const TARGET_IDLE_CPU_MS_PER_S = 5;
const TARGET_POSTGRES_RSS_MB = 150;
const TARGET_WARM_MS = 1500;
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 10;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than src/ (or always with --build, never with --no-build). */
function ensureBuilt(): void {
  if (flag('no-build')) return;
  const entry = path.join(ROOT, 'dist', 'cli', 'run.js');
  const stale = !existsSync(entry) || statSync(entry).mtimeMs < newestMtime(path.join(ROOT, 'src'));
  if (!stale && !flag('build')) return;
  progress('building dist/ (npm run build)');
  const result = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  if (result.status !== 0) throw new Error('npm run build failed');
}

/** GET url; resolves with the status code, or 0 when nothing answers. */
function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ServeSample {
  readyMs: number;
  stopMs: number;
}

/** One start of the real server on `dataDir`: ms to the first 200 from /readyz, then ms from SIGTERM to exit. */
async function serveOnce(dataDir: string): Promise<ServeSample> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, TARMAC_DATA_DIR: dataDir, TARMAC_PORT: String(port), TARMAC_HOST: '127.0.0.1' };
  delete env.TARMAC_DATABASE_URL;
  delete env.TARMAC_CONFIG;
  const output: Buffer[] = [];
  const started = performance.now();
  const child = spawn(process.execPath, ['bin/tarmac.mjs', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
  const failed = (why: string) => new Error(`${why}; server output:\n${Buffer.concat(output).toString('utf8').slice(-4000)}`);
  try {
    const url = `http://127.0.0.1:${port}/readyz`;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw failed(`server exited (${child.exitCode ?? child.signalCode}) before it was ready`);
      if ((await getStatus(url)) === 200) break;
      if (performance.now() - started > READY_TIMEOUT_MS) throw failed(`not ready after ${READY_TIMEOUT_MS} ms`);
      await sleep(POLL_MS);
    }
    const readyMs = performance.now() - started;
    const stopping = performance.now();
    child.kill('SIGTERM');
    const code = await exited(child);
    const stopMs = performance.now() - stopping;
    if (code !== 0) throw failed(`server exited with ${code} after SIGTERM`);
    return { readyMs, stopMs };
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
}

/** CPU time (user + system, every thread) a process has used, in ms, from /proc. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

interface IdleSample {
  cpuMsPerS: number;
  rssMb: number;
}

/**
 * Starts the server on `dataDir` (or `databaseUrl`), lets it settle, then samples its CPU time over IDLE_S seconds
 * and its RSS (with `sample` false it only starts and stops, to create the folder).
 */
async function idleOnce(dataDir: string, databaseUrl?: string, sample = true): Promise<IdleSample> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, TARMAC_DATA_DIR: dataDir, TARMAC_PORT: String(port), TARMAC_HOST: '127.0.0.1', TARMAC_SEED_DEMO: 'false' };
  delete env.TARMAC_CONFIG;
  if (databaseUrl) env.TARMAC_DATABASE_URL = databaseUrl;
  else delete env.TARMAC_DATABASE_URL;
  const child = spawn(process.execPath, ['bin/tarmac.mjs', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'inherit'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  try {
    const started = performance.now();
    while ((await getStatus(`http://127.0.0.1:${port}/readyz`)) !== 200) {
      if (child.exitCode !== null || performance.now() - started > READY_TIMEOUT_MS) throw new Error('the server did not become ready');
      await sleep(50);
    }
    if (!sample) {
      child.kill('SIGTERM');
      await exited(child);
      return { cpuMsPerS: 0, rssMb: 0 };
    }
    await sleep(SETTLE_MS);
    const before = cpuMs(child.pid!);
    const from = performance.now();
    await sleep(IDLE_S * 1000);
    const used = cpuMs(child.pid!) - before;
    const figures = { cpuMsPerS: used / ((performance.now() - from) / 1000), rssMb: rssMb(child.pid!) };
    child.kill('SIGTERM');
    await exited(child);
    return figures;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
  }
}

/** A script that prints its RSS in MB before and after opening PGlite on `dir`. */
function pgliteRss(dir: string): string {
  const rss = 'process.memoryUsage().rss / 1048576';
  return `const before = ${rss}; const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(${JSON.stringify(dir)}); await db.query('select 1');
    process.stdout.write(JSON.stringify({ before, after: ${rss} })); await db.close();`;
}

function nodeJson(script: string): Promise<{ before: number; after: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return exited(child).then((code) => {
    if (code !== 0) throw new Error(`node -e exited with ${code}`);
    return JSON.parse(out) as { before: number; after: number };
  });
}

/**
 * Runs `node -e script`; resolves with ms from spawn to the first line the child prints (its own "done" mark),
 * or to its exit when `mark` is false.
 */
async function nodeOnce(script: string, mark: boolean): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let markedAt: number | null = null;
  child.stdout.once('data', () => {
    markedAt = performance.now();
  });
  const code = await exited(child);
  const endedAt = performance.now();
  if (code !== 0) throw new Error(`node -e ${script} exited with ${code}`);
  if (mark && markedAt === null) throw new Error(`node -e ${script} printed nothing`);
  return (mark ? markedAt! : endedAt) - started;
}

/** A script that opens PGlite on `dir` (creating it when new), prints a line once open, then closes it. */
function pgliteCreate(dir: string): string {
  return `import('@electric-sql/pglite').then((m) => m.PGlite.create(${JSON.stringify(dir)})).then((db) => { process.stdout.write('open\\n'); return db.close(); })`;
}

// Servers still running when the benchmark ends early (an error, Ctrl-C, SIGTERM) are killed, temp folders removed.
const running = new Set<ChildProcess>();
const root = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-startup-'));
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

ensureBuilt();
const loadAtStart = round(loadavg()[0]!, 2);
const cold: number[] = [];
const warm: number[] = [];
const stop: number[] = [];
const bareNode: number[] = [];
const importApp: number[] = [];
const pgliteOpen: number[] = [];
const pgliteOpenCold: number[] = [];
// One round first that is not recorded: it warms the OS file cache for node_modules and dist/.
for (let iteration = 0; iteration <= (flag('idle-only') ? -1 : RUNS); iteration++) {
  const recorded = iteration > 0;
  const dataDir = path.join(root, `data-${iteration}`);
  const c = await serveOnce(dataDir);
  const w = await serveOnce(dataDir);
  const pgliteDir = path.join(dataDir, 'pglite');
  const p = await nodeOnce(pgliteCreate(pgliteDir), true);
  const freshDir = path.join(root, `fresh-${iteration}`);
  const pc = await nodeOnce(pgliteCreate(freshDir), true);
  rmSync(freshDir, { recursive: true, force: true });
  const n = await nodeOnce('0', false);
  const i = await nodeOnce(`await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'app', 'index.js')).href)})`, false);
  rmSync(dataDir, { recursive: true, force: true });
  progress(
    `${recorded ? `run ${iteration}/${RUNS}` : 'warm-up (not recorded)'}: cold ${round(c.readyMs)} ms, warm ${round(w.readyMs)} ms, ` +
      `stop ${round(c.stopMs)}/${round(w.stopMs)} ms, PGlite.create ${round(p)} ms (new folder ${round(pc)} ms), node -e 0 ${round(n)} ms, import app ${round(i)} ms`,
  );
  if (!recorded) continue;
  cold.push(c.readyMs);
  warm.push(w.readyMs);
  stop.push(c.stopMs, w.stopMs);
  pgliteOpen.push(p);
  pgliteOpenCold.push(pc);
  bareNode.push(n);
  importApp.push(i);
}

// The footprint at rest: the server started on a warm folder (and on PostgreSQL when asked), doing nothing.
const idlePglite: IdleSample[] = [];
const pgliteAlone: number[] = [];
const idleDir = path.join(root, 'idle');
await idleOnce(idleDir, undefined, false);
for (let i = 0; i < IDLE_RUNS; i++) {
  idlePglite.push(await idleOnce(idleDir));
  const m = await nodeJson(pgliteRss(path.join(idleDir, 'pglite')));
  pgliteAlone.push(m.after - m.before);
  progress(`idle on PGlite: ${round(idlePglite[i]!.cpuMsPerS)} ms CPU/s, RSS ${round(idlePglite[i]!.rssMb)} MB (PGlite alone adds ${round(pgliteAlone[i]!)} MB)`);
}
const idlePostgres: IdleSample[] = [];
if (process.env.BENCH_DATABASE_URL || process.env.TARMAC_BENCH_DATABASE_URL || flag('postgres')) {
  const server = process.env.BENCH_DATABASE_URL ?? (await benchPostgres()).url;
  const database = await createBenchDatabase(server);
  try {
    for (let i = 0; i < IDLE_RUNS; i++) {
      idlePostgres.push(await idleOnce(path.join(root, `idle-pg-${i}`), database.url));
      progress(`idle on PostgreSQL: ${round(idlePostgres[i]!.cpuMsPerS)} ms CPU/s, RSS ${round(idlePostgres[i]!.rssMb)} MB`);
    }
  } finally {
    await database.drop();
  }
}
const idleFigures = (samples: IdleSample[]) =>
  samples.length === 0
    ? null
    : {
        cpu_ms_per_s_median: round(median(samples.map((x) => x.cpuMsPerS)), 1),
        cpu_ms_per_s: samples.map((x) => round(x.cpuMsPerS, 1)),
        rss_mb_median: round(median(samples.map((x) => x.rssMb)), 0),
        rss_mb: samples.map((x) => round(x.rssMb, 0)),
      };

const r = (xs: number[]) => xs.map((x) => round(x, 0));
emit({
  bench: 'startup',
  cold_ms_median: round(median(cold), 0),
  warm_ms_median: round(median(warm), 0),
  cold_ms: r(cold),
  warm_ms: r(warm),
  stop_ms_median: round(median(stop), 0),
  target_warm_ms: TARGET_WARM_MS,
  stop_ms: r(stop),
  baseline_pglite_create_warm_ms_median: round(median(pgliteOpen), 0),
  baseline_pglite_create_warm_ms: r(pgliteOpen),
  warm_over_pglite_create: round(median(warm) / median(pgliteOpen), 2),
  baseline_pglite_create_new_dir_ms_median: round(median(pgliteOpenCold), 0),
  cold_over_pglite_create_new_dir: round(median(cold) / median(pgliteOpenCold), 2),
  baseline_node_ms_median: round(median(bareNode), 0),
  baseline_import_app_ms_median: round(median(importApp), 0),
  idle_seconds: IDLE_S,
  idle_pglite: idleFigures(idlePglite),
  // What opening PGlite adds to a bare node process's RSS: the embedded database's share of idle_pglite.
  idle_pglite_database_rss_mb_median: round(median(pgliteAlone), 0),
  idle_pglite_rest_rss_mb_median: round(median(idlePglite.map((x) => x.rssMb)) - median(pgliteAlone), 0),
  idle_postgres: idleFigures(idlePostgres),
  target_idle_cpu_ms_per_s: TARGET_IDLE_CPU_MS_PER_S,
  target_idle_postgres_rss_mb: TARGET_POSTGRES_RSS_MB,
  runs: RUNS,
  loadavg_1m_at_start: loadAtStart,
  node: process.version,
});

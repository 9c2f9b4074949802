// Startup: time from spawning `node bin/tarmac.mjs serve` (embedded PGlite) to GET /readyz answering 200, cold (new
// data folder: migrations, admin key, demo seed) and warm (same folder again), and the time SIGTERM takes to stop it.
// Baselines measured in the same run: a bare `node -e 0`, importing the built app, and PGlite.create on the warm folder
// (and on a new folder, which is PGlite's own initdb, for the cold figure).
//   npm run bench -- startup [--runs 5] [--no-build]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { emit, flag, freePort, intArg, median, progress, ROOT, round } from './support/common.js';

const RUNS = intArg('runs', 5);
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
for (let iteration = 0; iteration <= RUNS; iteration++) {
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
  runs: RUNS,
  loadavg_1m_at_start: loadAtStart,
  node: process.version,
});

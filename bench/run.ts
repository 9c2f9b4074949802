// Governed-run overhead: the time a run spends outside the model call (authorise, context as the end user,
// prompt, guard, decision, recording), with the demo workspace and local/extractive.
//
//   npm run bench -- run [--runs N] [--levels 1,20,100] [--servers N]
//   BENCH_DATABASE_URL=postgres://… npm run bench -- run …     (a new database on that server, dropped afterwards)
//
// Prints p50 and p95 of the overhead at each concurrency level: the time the caller waits for a run minus the
// run's model span (read from its record once the phase is over, so the bench's reads do not queue beside the
// runs). Beside them: the overhead the run records for itself (its `total` span minus `model`), which cannot
// include the write of that record; runs per second; and what a run costs whatever the load.
//
// In process (the default) the bench calls `runs.run` and counts the SQL statements the process sends (the runs'
// own and the background writers', e.g. traces) and its CPU time per run (both threads with PGlite). With
// `--servers N` it starts N `tarmac serve` processes on the same database instead and spreads the runs over them
// through `POST /api/v1/usecases/:usecase/runs`; it then reports the servers' CPU time per run and, on PostgreSQL,
// the database's committed transactions per run (from pg_stat_database). PGlite is embedded in one process: there
// `--servers` runs one server, and the output says so.
//
// Every run's question is distinct (a number is appended), so no cache of repeated text flatters the figures,
// and every question is one the demo use case delivers (a run held for review writes a review task and an audit
// entry besides its record; `decisions` shows what each level decided).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openServices } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { createBenchDatabase } from './support/postgres.js';
import { emit, flag, intArg, median, progress, quantile, ROOT, round, stringArg } from './support/common.js';

const RUNS = intArg('runs', 200);
const LEVELS = (stringArg('levels', '1,20,100') ?? '').split(',').map(Number);
const WANTED_SERVERS = flag('servers') ? intArg('servers', 1) : 0;
const loadAtStart = round(loadavg()[0] ?? 0, 2);
const QUESTIONS = [
  'What is the maximum roof age for a standard homeowners policy?',
  'Do wood-burning stoves need an inspection?',
  'How high must a pool fence be?',
  'What happens when a home is vacant for more than 60 days?',
];
const USE_CASE = 'underwriting-assistant';
const question = (i: number) => `${QUESTIONS[i % QUESTIONS.length]!} (${i})`;
/** A run's decision, a delivered run sampled for review (it opens a review task) told apart. */
const decisionOf = (r: { decision?: unknown; status?: unknown; reasons?: unknown }): string =>
  (r.reasons as { code: string }[] | undefined)?.some((x) => x.code === 'sampled_for_review') ? 'delivered_sampled_for_review' : String(r.decision ?? r.status);

interface Done {
  runId: string;
  waited: number;
  decision: string;
}
interface Spans {
  recorded: number;
  overhead: number;
  model: number;
}

/** What one level measured, beside the latencies. */
interface Costs {
  wallMs: number;
  extra: Record<string, number>;
}

function summary(done: Done[], samples: Spans[], costs: Costs): Record<string, unknown> {
  const overhead = samples.map((s) => s.overhead);
  const recorded = samples.map((s) => s.recorded);
  const decisions: Record<string, number> = {};
  for (const d of done) decisions[d.decision] = (decisions[d.decision] ?? 0) + 1;
  return {
    p50_ms: round(median(overhead), 2),
    p95_ms: round(quantile(overhead, 0.95), 2),
    recorded_p50_ms: round(median(recorded), 2),
    recorded_p95_ms: round(quantile(recorded, 0.95), 2),
    model_p50_ms: round(median(samples.map((s) => s.model)), 2),
    runs_per_s: round((samples.length / costs.wallMs) * 1000, 0),
    ...Object.fromEntries(Object.entries(costs.extra).map(([k, v]) => [k, round(v / samples.length, 2)])),
    runs: samples.length,
    decisions,
  };
}

function overheadOf(d: Done, spans: { name: string; ms: number }[]): Spans {
  const total = spans.find((s) => s.name === 'total')?.ms ?? 0;
  const model = spans.find((s) => s.name === 'model')?.ms ?? 0;
  return { recorded: total - model, overhead: d.waited - model, model };
}

/** Runs `RUNS` runs with `concurrency` callers, each starting its next run when its last one answered. */
async function closedLoop(concurrency: number, once: (i: number) => Promise<Done>): Promise<{ done: Done[]; wallMs: number }> {
  const done: Done[] = [];
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < RUNS) done.push(await once(next++));
    }),
  );
  return { done, wallMs: performance.now() - began };
}

const database = process.env.BENCH_DATABASE_URL ? await createBenchDatabase(process.env.BENCH_DATABASE_URL) : null;
const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-run-'));
const meta = { bench: 'run', database: database ? 'postgres' : 'pglite', loadavg_1m_at_start: loadAtStart, runs_per_level: RUNS };
const targets = { pglite_c20_p50_ms: 20, postgres_c20_p50_ms: 15, postgres_c100_2_servers_runs_per_s: 1500 };

async function inProcess(): Promise<void> {
  const config = loadConfig({ TARMAC_DATA_DIR: dir, TARMAC_LOG_LEVEL: 'warn', ...(database ? { TARMAC_DATABASE_URL: database.url } : {}) });
  const services = await openServices(config, { command: 'bench run' });
  try {
    for (const name of services.seededSources) {
      const row = await services.sources.byRef(name);
      if (row) await services.sources.syncAs({ actor: { type: 'system', id: 'bench' } }, row);
    }
    const admin = await services.identity.authenticate(readFileSync(path.join(dir, 'admin-key'), 'utf8').trim());
    const key = await services.identity.createKey({ principal: admin }, { name: 'bench', user: 'analyst@demo.tarmac.local' });
    const analyst = await services.identity.authenticate(key.token);
    // Counts the statements the process sends, the runs' own and the background writers' (traces, budgets).
    let statements = 0;
    const db = services.db;
    const query = db.query.bind(db);
    const transaction = db.transaction.bind(db);
    db.query = (sql, params) => {
      statements++;
      return query(sql, params);
    };
    db.transaction = (fn) => {
      statements += 2; // begin, commit
      return transaction((tx) =>
        fn({
          query: (sql, params) => {
            statements++;
            return tx.query(sql, params);
          },
          exec: (sql) => {
            statements++;
            return tx.exec(sql);
          },
        }),
      );
    };
    const once = async (i: number): Promise<Done> => {
      const started = performance.now();
      const r = await services.runs.run({ principal: analyst, requestId: `bench-${i}` }, USE_CASE, { input: question(i) });
      return { runId: r.runId, waited: performance.now() - started, decision: decisionOf(r) };
    };
    for (let i = 0; i < 10; i++) await once(i); // warm-up
    const levels: Record<string, unknown> = {};
    for (const concurrency of LEVELS) {
      progress(`${RUNS} runs at concurrency ${concurrency}, in process`);
      await services.gateway.flush();
      statements = 0;
      const cpu = process.cpuUsage();
      const threads = threadCpuMs();
      const { done, wallMs } = await closedLoop(concurrency, once);
      await services.gateway.flush();
      const used = process.cpuUsage(cpu);
      const threadsAfter = threadCpuMs();
      const ran = statements;
      const { rows } = await query<{ id: string; spans: { name: string; ms: number }[] }>('select id, spans from runs where id = any($1::text[])', [done.map((d) => d.runId)]);
      const byId = new Map(rows.map((r) => [r.id, r.spans]));
      levels[`concurrency_${concurrency}`] = summary(done, done.map((d) => overheadOf(d, byId.get(d.runId) ?? [])), {
        wallMs,
        extra: {
          sql_per_run: ran,
          cpu_ms_per_run: (used.user + used.system) / 1000,
          main_thread_cpu_ms_per_run: threadsAfter.main - threads.main,
          other_threads_cpu_ms_per_run: threadsAfter.others - threads.others,
        },
      });
    }
    emit({ ...meta, mode: 'in_process', servers: 1, ...levels, targets, node: process.version });
  } finally {
    await services.gateway.close();
    await services.db.close();
  }
}

/** CPU time (user + system, every thread) a process has used, in ms, from /proc. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time of this process's main thread and of all its other threads (the embedded database's among them), in ms. */
function threadCpuMs(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    if (Number(tid) === process.pid) main += ms;
    else others += ms;
  }
  return { main, others };
}

function listening(child: ChildProcess): Promise<string> {
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`tarmac serve exited with ${code}: ${out}`)));
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function call(url: string, method: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: { authorization: `Bearer ${token}`, ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data ? (JSON.parse(data) as Record<string, unknown>) : {} }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

async function committedTransactions(): Promise<number> {
  if (!database) return 0;
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    // Backends report their counts when idle, at most once a second: wait for the last ones.
    await new Promise((r) => setTimeout(r, 1500));
    const { rows } = await client.query<{ n: string }>('select xact_commit::text as n from pg_stat_database where datname = current_database()');
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

async function overHttp(servers: number): Promise<void> {
  const children: ChildProcess[] = [];
  const start = async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/run.ts'), 'serve', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, TARMAC_DATA_DIR: dir, TARMAC_LOG_LEVEL: 'warn', TARMAC_DATABASE_URL: database?.url ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return listening(child);
  };
  try {
    // The first server installs the database and seeds the demo; the others join it.
    const urls = [await start()];
    for (let i = 1; i < servers; i++) urls.push(await start());
    const admin = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
    const base = urls[0]!;
    const { json: listed } = await call(`${base}/api/v1/sources`, 'GET', admin);
    for (const s of listed.sources as { name: string }[]) await call(`${base}/api/v1/sources/${s.name}/sync`, 'POST', admin);
    const { json: key } = await call(`${base}/api/v1/keys`, 'POST', admin, { name: 'bench', user: 'analyst@demo.tarmac.local' });
    const token = key.token as string;
    const once = async (i: number): Promise<Done> => {
      const started = performance.now();
      const { status, json } = await call(`${urls[i % urls.length]!}/api/v1/usecases/${USE_CASE}/runs`, 'POST', token, { input: question(i) });
      if (status !== 200 && status !== 202) throw new Error(`run ${i}: ${status} ${JSON.stringify(json)}`);
      return { runId: json.runId as string, waited: performance.now() - started, decision: decisionOf(json) };
    };
    for (let i = 0; i < 10 * servers; i++) await once(i); // warm-up
    const levels: Record<string, unknown> = {};
    for (const concurrency of LEVELS) {
      progress(`${RUNS} runs at concurrency ${concurrency}, over ${servers} server process(es)`);
      const xactBefore = await committedTransactions();
      const cpuBefore = children.reduce((s, c) => s + cpuMs(c.pid!), 0);
      const { done, wallMs } = await closedLoop(concurrency, once);
      const cpu = children.reduce((s, c) => s + cpuMs(c.pid!), 0) - cpuBefore;
      const xact = (await committedTransactions()) - xactBefore;
      const samples: Spans[] = [];
      for (let i = 0; i < done.length; i += 20) {
        const part = await Promise.all(done.slice(i, i + 20).map((d) => call(`${base}/api/v1/runs/${d.runId}`, 'GET', admin).then(({ json }) => overheadOf(d, json.spans as { name: string; ms: number }[]))));
        samples.push(...part);
      }
      levels[`concurrency_${concurrency}`] = summary(done, samples, { wallMs, extra: { server_cpu_ms_per_run: cpu, ...(database ? { db_transactions_per_run: xact } : {}) } });
    }
    emit({
      ...meta,
      mode: 'http',
      servers,
      ...(servers < WANTED_SERVERS ? { servers_note: `PGlite is embedded in one process: ${WANTED_SERVERS} servers asked, 1 run` } : {}),
      ...levels,
      targets,
      node: process.version,
    });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))));
  }
}

try {
  if (WANTED_SERVERS === 0) await inProcess();
  else await overHttp(database ? WANTED_SERVERS : 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await database?.drop();
}

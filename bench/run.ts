// Governed-run overhead: the time a run spends outside the model call (authorise, context as the end user,
// prompt, guard, decision, recording), on embedded PGlite with the demo workspace and local/extractive.
//
//   npm run bench -- run [--runs N]
//
// Prints p50 and p95 of the overhead at concurrency 1 and 20: the time the caller waits for `runs.run` minus the
// run's model span (read from its record once the phase is over, so the bench's reads do not queue beside the
// runs). Beside them: the overhead the run records for itself (its `total` span minus `model`), which cannot
// include the write of that record; runs per second; and what a run costs the process whatever the load: SQL
// statements (the runs' own and the background writers', e.g. traces) and CPU milliseconds per run (both threads:
// the server's and the embedded database's). Every run's question is distinct (a number is appended: a word such
// as "ticket", which no passage holds, would lower answer relevance and send runs to review), so no cache of
// repeated text flatters the figures. At concurrency 20 runs queue for the two threads, so a run's
// latency is about 20 runs' worth of the busier thread's time.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { openServices } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { emit, median, progress, quantile, round } from './support/common.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('--runs', 200);
const loadAtStart = round(loadavg()[0] ?? 0, 2);
const QUESTIONS = [
  'What is the maximum roof age for a standard homeowners policy?',
  'Do wood-burning stoves need an inspection?',
  'How high must a pool fence be?',
  'Which dog breeds are declined?',
  'What happens when a home is vacant for more than 60 days?',
];

const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-run-'));
const config = loadConfig({ TARMAC_DATA_DIR: dir, TARMAC_LOG_LEVEL: 'warn' });
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
  const once = async (i: number) => {
    const started = performance.now();
    const { runId } = await services.runs.run({ principal: analyst, requestId: `bench-${i}` }, 'underwriting-assistant', { input: `${QUESTIONS[i % QUESTIONS.length]!} (${i})` });
    return { runId, waited: performance.now() - started };
  };
  // The runs' recorded spans, read once a phase is over so the bench's own reads do not queue beside the runs.
  const spansOf = async (done: { runId: string; waited: number }[]) => {
    const { rows } = await query<{ id: string; spans: { name: string; ms: number }[] }>('select id, spans from runs where id = any($1::text[])', [done.map((d) => d.runId)]);
    const byId = new Map(rows.map((r) => [r.id, r.spans]));
    return done.map(({ runId, waited }) => {
      const spans = byId.get(runId) ?? [];
      const total = spans.find((s) => s.name === 'total')?.ms ?? 0;
      const model = spans.find((s) => s.name === 'model')?.ms ?? 0;
      return { recorded: total - model, overhead: waited - model, model };
    });
  };
  for (let i = 0; i < 10; i++) await once(i); // warm-up
  const measure = async (concurrency: number) => {
    const done: { runId: string; waited: number }[] = [];
    let next = 0;
    await services.gateway.flush();
    statements = 0;
    const cpu = process.cpuUsage();
    const began = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < RUNS) done.push(await once(next++));
      }),
    );
    const wall = performance.now() - began;
    await services.gateway.flush();
    const used = process.cpuUsage(cpu);
    const ran = statements;
    const samples = await spansOf(done);
    const overhead = samples.map((s) => s.overhead);
    const recorded = samples.map((s) => s.recorded);
    return {
      p50_ms: round(median(overhead), 2),
      p95_ms: round(quantile(overhead, 0.95), 2),
      recorded_p50_ms: round(median(recorded), 2),
      recorded_p95_ms: round(quantile(recorded, 0.95), 2),
      model_p50_ms: round(median(samples.map((s) => s.model)), 2),
      runs_per_s: round((samples.length / wall) * 1000, 0),
      sql_per_run: round(ran / samples.length, 2),
      cpu_ms_per_run: round((used.user + used.system) / 1000 / samples.length, 2),
      runs: samples.length,
    };
  };
  progress(`${RUNS} runs at concurrency 1`);
  const c1 = await measure(1);
  progress(`${RUNS} runs at concurrency 20`);
  const c20 = await measure(20);
  emit({ bench: 'run', loadavg_1m_at_start: loadAtStart, concurrency_1: c1, concurrency_20: c20, targets: { p50_ms: 20, p95_ms: 60 }, node: process.version });
} finally {
  await services.gateway.close();
  await services.db.close();
  rmSync(dir, { recursive: true, force: true });
}

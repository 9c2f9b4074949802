// eval-throughput: an eval run of N cases x T trials of the demo use case on local/extractive, embedded PGlite.
//
//   npm run bench -- eval-throughput [--cases 1000] [--trials 5] [--concurrency 8] [--overhead-cases 1000]
//
// Prints case-trials per second of two such runs (and their median), the eval machinery's own time per
// case-trial outside the governed run (a third run at concurrency 1, so wall time minus the time spent inside
// the run's steps is the machinery's: scheduling, scoring, storing trials, progress checks, the summary), and the
// time of comparing the first two runs (paired bootstrap, 2,000 resamples per metric).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openServices } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { emit, intArg, median, progress, round } from './support/common.js';

const CASES = intArg('cases', 1000);
const TRIALS = intArg('trials', 5);
const CONCURRENCY = intArg('concurrency', 8);
const OVERHEAD_CASES = intArg('overhead-cases', 1000);
const loadAtStart = round(loadavg()[0] ?? 0, 2);

const demo = readFileSync(new URL('../examples/evals/underwriting.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as { id: string; input: string; expected: string; expectedDocuments: string[]; tags: string[]; assertions: unknown[] });

/** N distinct cases cycled from the demo's: each question carries its number, so no cache of repeated text helps. */
const cases = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => {
    const c = demo[i % demo.length]!;
    return { ...c, id: `${prefix}-${i}`, input: `${c.input.replace(/\?$/, '')} (${i})?` };
  });

const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-eval-'));
const config = loadConfig({ TARMAC_DATA_DIR: dir, TARMAC_LOG_LEVEL: 'warn' });
const services = await openServices(config, { command: 'bench eval-throughput' });
try {
  for (const name of services.seededSources) {
    const row = await services.sources.byRef(name);
    if (row) await services.sources.syncAs({ actor: { type: 'system', id: 'bench' } }, row);
  }
  const admin = await services.identity.authenticate(readFileSync(path.join(dir, 'admin-key'), 'utf8').trim());
  const key = await services.identity.createKey({ principal: admin }, { name: 'bench', user: 'analyst@demo.tarmac.local' });
  const caller = { principal: await services.identity.authenticate(key.token) };
  const { evals } = services;
  await evals.createDataset(caller, { name: 'bench-cases', team: 'underwriting' }, cases(CASES, 'c'));
  await evals.createDataset(caller, { name: 'bench-overhead', team: 'underwriting' }, cases(OVERHEAD_CASES, 'o'));

  // The time spent inside the governed run's steps, summed over trials.
  let inside = 0;
  const trial = services.runs.trial.bind(services.runs);
  services.runs.trial = async (...args) => {
    const t = performance.now();
    try {
      return await trial(...args);
    } finally {
      inside += performance.now() - t;
    }
  };

  const timed = async (dataset: string, trials: number, concurrency: number) => {
    inside = 0;
    const started = performance.now();
    const run = await evals.start(caller, { useCase: 'underwriting-assistant', dataset, trials, concurrency });
    await evals.idle();
    const ms = performance.now() - started;
    const detail = await evals.get(caller, run.id);
    if (detail.status !== 'completed') throw new Error(`eval run ${run.id} ended ${detail.status}`);
    return { id: run.id, ms, inside, trials: detail.progress.done, errors: detail.progress.errors, passRate: detail.summary?.passRate.mean ?? null };
  };

  const rates: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    progress(`${CASES} cases x ${TRIALS} trials at concurrency ${CONCURRENCY} (${i + 1}/2)`);
    const r = await timed('bench-cases', TRIALS, CONCURRENCY);
    rates.push((r.trials / r.ms) * 1000);
    ids.push(r.id);
    progress(`  ${round(r.ms / 1000, 1)} s, ${round((r.trials / r.ms) * 1000, 1)} case-trials/s, ${r.errors} errors, pass rate ${r.passRate}`);
  }
  progress(`${OVERHEAD_CASES} cases x 1 trial at concurrency 1: the machinery's time outside the run`);
  const o = await timed('bench-overhead', 1, 1);
  const overhead = (o.ms - o.inside) / o.trials;

  progress('comparing the two runs');
  const t = performance.now();
  const cmp = await evals.compare(caller, ids[0]!, ids[1]!);
  const compareMs = performance.now() - t;

  emit({
    bench: 'eval-throughput',
    loadavg_1m_at_start: loadAtStart,
    backend: services.db.kind,
    cases: CASES,
    trials: TRIALS,
    concurrency: CONCURRENCY,
    case_trials_per_s: rates.map((r) => round(r, 1)),
    case_trials_per_s_median: round(median(rates), 1),
    overhead_ms_per_case_trial: round(overhead, 3),
    inside_run_ms_per_case_trial: round(o.inside / o.trials, 3),
    compare_ms: round(compareMs, 1),
    compare_metrics: cmp.metrics.length,
    compare_changed: cmp.metrics.filter((m) => m.verdict === 'improved' || m.verdict === 'regressed').map((m) => m.metric),
    targets: { case_trials_per_s: 150, overhead_ms_per_case_trial: 1, compare_ms: 2000 },
    node: process.version,
  });
} finally {
  await services.registry.close();
  await services.db.close();
  rmSync(dir, { recursive: true, force: true });
}

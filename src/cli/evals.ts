import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { TarmacError } from '../errors/index.js';
import { DATASET_FORMATS, type DatasetFormat, type EvalRunDetail, type EvalRunView, type GateReport } from '../evals/index.js';
import { EVAL_METRIC_CODES } from '../metrics/index.js';
import type { TarmacClient } from './client.js';

interface Helpers {
  out: (text: string) => void;
  err: (text: string) => void;
  withClient: <T>(fn: (client: TarmacClient) => Promise<T>) => Promise<T>;
  table: (rows: string[][]) => string;
  /** Ends the command with this exit code. */
  exit: (code: number) => never;
}

const FINISHED = ['completed', 'cancelled', 'failed'];

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? 'n/a' : x.toFixed(digits));

/** One progress line of an eval run: a bar of the trials done, errors, and the time left. */
function progressLine(v: EvalRunView): string {
  const width = 20;
  const filled = v.progress.total === 0 ? 0 : Math.round((v.progress.done / v.progress.total) * width);
  const eta = v.progress.etaSeconds === null ? '' : ` · ${v.progress.etaSeconds}s left`;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${v.progress.done}/${v.progress.total} trials · ${v.progress.errors} errors${eta}`;
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c).replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/gu, '');

/**
 * JUnit XML of an eval run: one test case per dataset case (a failure unless every trial passed, pass^k) and,
 * with a gate, one for the gate.
 */
export function junitXml(run: EvalRunDetail, gate: GateReport | null): string {
  const cases = run.cases.map((c) => {
    const failed = c.trials === 0 || c.passed < c.trials;
    const details = c.results
      .filter((r) => !r.passed)
      .map((r) => `trial ${r.trial}: ${r.error ?? r.assertions.filter((a) => !a.passed).map((a) => `${a.type}: ${a.detail}`).join('; ')}`)
      .join('\n');
    const time = ((c.metrics.latency_ms ?? 0) / 1000).toFixed(3);
    return `    <testcase classname="tarmac.eval.${xml(run.useCase)}" name="${xml(c.caseId)}" time="${time}">${failed ? `\n      <failure message="passed ${c.passed} of ${c.trials} trials">${xml(details)}</failure>\n    ` : ''}</testcase>`;
  });
  if (gate) {
    const problems = [...gate.failures, ...gate.inconclusive].map((f) => f.message).join('\n');
    cases.push(`    <testcase classname="tarmac.gate" name="gate ${xml(run.useCase)}" time="0">${gate.result === 'pass' ? '' : `\n      <failure message="gate ${gate.result}">${xml(problems)}</failure>\n    `}</testcase>`);
  }
  const failures = cases.filter((c) => c.includes('<failure')).length;
  const time = (run.summary?.wallSeconds ?? 0).toFixed(3);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tarmac eval" tests="${cases.length}" failures="${failures}" time="${time}">`,
    `  <testsuite name="${xml(`${run.dataset} v${run.datasetVersion} on ${run.useCase}`)}" tests="${cases.length}" failures="${failures}" time="${time}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function printSummary(h: Helpers, run: EvalRunDetail | EvalRunView): void {
  const s = run.summary;
  h.out(`eval run ${run.id}: ${run.status} · ${run.useCase} on ${run.dataset} v${run.datasetVersion} · prompt v${run.config.promptVersion} · route ${run.config.route} · ${run.trials} trials per case`);
  if (!s) return;
  h.out(`pass rate ${fmt(s.passRate.mean)} (95% ${fmt(s.passRate.low)}…${fmt(s.passRate.high)}) · pass^k ${fmt(s.passAll)} · flaky cases ${fmt(s.flakiness)} · errors ${s.errors} · cost $${s.costUsd.toFixed(6)} · ${fmt(s.wallSeconds, 1)} s`);
  // In the order the metrics are defined (stored summaries come back with their keys reordered).
  const rows = EVAL_METRIC_CODES.flatMap((metric) => {
    const i = s.metrics[metric];
    return i ? [[metric, fmt(i.mean), `${fmt(i.low)}…${fmt(i.high)}`, String(i.cases)]] : [];
  });
  h.out(h.table([['METRIC', 'MEAN', '95% INTERVAL', 'CASES'], ...rows]));
  for (const note of s.notAvailable) h.err(`note: ${note}`);
  const record = 'judgeRecord' in run ? run.judgeRecord : null;
  if (record) {
    h.out(`judge ${record.model}: self-consistency ${fmt(record.selfConsistency.agreement)} over ${record.selfConsistency.answers} answers · against reviewers: accuracy ${fmt(record.humanAgreement.accuracy)}, kappa ${fmt(record.humanAgreement.kappa)} over ${record.humanAgreement.verdicts} verdicts`);
  }
}

function printGate(h: Helpers, gate: GateReport): void {
  h.out(`gate: ${gate.result}${gate.evalRun ? ` (eval run ${gate.evalRun})` : ''}`);
  for (const f of gate.failures) h.out(`  fail: ${f.message}`);
  for (const f of gate.inconclusive) h.out(`  inconclusive: ${f.message}${f.casesNeeded ? ` (about ${f.casesNeeded} cases would decide it)` : ''}`);
  for (const note of gate.notes) h.out(`  note: ${note}`);
}

/** `tarmac dataset …` and `tarmac eval …`. */
export function addEvalCommands(program: Command, h: Helpers): void {
  const dataset = program.command('dataset').description('Eval datasets: labelled cases with immutable versions');
  dataset
    .command('list')
    .description('Datasets you can read')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const list = await h.withClient((c) => c.listDatasets());
      if (opts.json) return h.out(JSON.stringify(list, null, 2));
      h.out(h.table([['DATASET', 'VERSION', 'CASES', 'UPDATED'], ...list.map((d) => [d.name, String(d.version), String(d.caseCount), d.updatedAt])]));
    });
  dataset
    .command('import')
    .description('Make a new version of a dataset from a JSONL or CSV file (creating the dataset with --team)')
    .argument('<name>', 'the dataset')
    .argument('<file>', 'a .jsonl or .csv file of cases')
    .option('--team <team>', 'create the dataset in this team when it does not exist')
    .addOption(new Option('--format <format>', 'file format (default: from the file name)').choices([...DATASET_FORMATS]))
    .option('--note <note>', 'what changed in this version')
    .option('--json', 'machine-readable output')
    .action(async (name: string, file: string, opts: { team?: string; format?: DatasetFormat; note?: string; json?: boolean }) => {
      const format: DatasetFormat = opts.format ?? (path.extname(file).toLowerCase() === '.csv' ? 'csv' : 'jsonl');
      const content = readFileSync(file, 'utf8');
      const version = await h.withClient(async (c) => {
        if (opts.team && !(await c.listDatasets()).some((d) => d.name === name)) await c.createDataset(name, opts.team, '');
        return c.importDataset(name, content, format, opts.note);
      });
      if (opts.json) return h.out(JSON.stringify(version, null, 2));
      h.out(`dataset ${version.dataset} version ${version.version}: ${version.caseCount} cases`);
      for (const w of version.warnings) h.err(`warning: ${w}`);
    });
  dataset
    .command('export')
    .description("Print a version's cases as JSONL or CSV")
    .argument('<name>', 'the dataset')
    .option('--version <n>', 'the version (default: the current one)')
    .addOption(new Option('--format <format>', 'file format').choices([...DATASET_FORMATS]).default('jsonl'))
    .action(async (name: string, opts: { version?: string; format: DatasetFormat }) => {
      const text = await h.withClient((c) => c.exportDataset(name, opts.version ? Number(opts.version) : undefined, opts.format));
      h.out(text.trimEnd());
    });

  const evals = program.command('eval').description('Eval runs: a use case configuration scored on a dataset, with intervals and gates');
  evals
    .command('run')
    .description('Evaluate a use case on a dataset and wait for the result (progress on standard error)')
    .argument('<dataset>', 'the dataset (its current version unless --dataset-version)')
    .requiredOption('--use-case <name>', 'the use case to evaluate')
    .option('--trials <n>', 'trials per case', '3')
    .option('--concurrency <n>', 'trials at once', '4')
    .option('--dataset-version <n>', 'a dataset version other than the current one')
    .option('--prompt-version <n>', "a prompt version other than the one the use case's label points to")
    .option('--route <route>', "a model route other than the use case's")
    .option('--as <user>', 'assemble context as this evaluation user (act_as keys and platform admins)')
    .option('--gate', "hold the result against the use case's gate: exit 1 unless it passes")
    .option('--junit <file>', 'write JUnit XML here (one test case per dataset case, and the gate)')
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { useCase: string; trials: string; concurrency: string; datasetVersion?: string; promptVersion?: string; route?: string; as?: string; gate?: boolean; junit?: string; json?: boolean }) => {
      const int = (v: string | undefined, flag: string) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new TarmacError('validation_failed', `${flag} must be a whole number of at least 1`);
        return n;
      };
      const body = {
        useCase: opts.useCase,
        dataset: name,
        trials: int(opts.trials, '--trials'),
        concurrency: int(opts.concurrency, '--concurrency'),
        ...(opts.datasetVersion ? { datasetVersion: int(opts.datasetVersion, '--dataset-version') } : {}),
        config: { ...(opts.promptVersion ? { promptVersion: int(opts.promptVersion, '--prompt-version') } : {}), ...(opts.route ? { route: opts.route } : {}), ...(opts.as ? { as: opts.as } : {}) },
      };
      const { run, gate } = await h.withClient(async (c) => {
        const started = await c.startEval(body);
        let last = '';
        for (;;) {
          const now = await c.getEval(started.id);
          const line = progressLine(now);
          if (line !== last && !opts.json) h.err(line);
          last = line;
          if (FINISHED.includes(now.status)) return { run: now, gate: opts.gate ? await c.evalGate(now.id) : null };
          await new Promise((r) => setTimeout(r, 500));
        }
      });
      if (opts.junit) writeFileSync(opts.junit, junitXml(run, gate));
      if (opts.json) h.out(JSON.stringify({ run, gate }, null, 2));
      else {
        printSummary(h, run);
        if (gate) printGate(h, gate);
      }
      if (run.status !== 'completed' || (gate && gate.result !== 'pass')) h.exit(1);
    });
  evals
    .command('show')
    .description('An eval run: its summary, and with --cases every case')
    .argument('<id>', 'the eval run')
    .option('--cases', 'list every case with its pass rate')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { cases?: boolean; json?: boolean }) => {
      const run = await h.withClient((c) => c.getEval(id));
      if (opts.json) return h.out(JSON.stringify(run, null, 2));
      if (!FINISHED.includes(run.status)) h.err(progressLine(run));
      printSummary(h, run);
      if (opts.cases) h.out(h.table([['CASE', 'PASSED', 'ERRORS', 'INPUT'], ...run.cases.map((c) => [c.caseId, `${c.passed}/${c.trials}`, String(c.errors), c.input.replace(/\s+/g, ' ').slice(0, 60)])]));
    });
  evals
    .command('list')
    .description('Eval runs, newest first')
    .option('--use-case <name>', 'only this use case')
    .option('--dataset <name>', 'only this dataset')
    .option('--json', 'machine-readable output')
    .action(async (opts: { useCase?: string; dataset?: string; json?: boolean }) => {
      const list = await h.withClient((c) => c.listEvals({ useCase: opts.useCase, dataset: opts.dataset }));
      if (opts.json) return h.out(JSON.stringify(list, null, 2));
      h.out(
        h.table([
          ['EVAL RUN', 'STATUS', 'USE CASE', 'DATASET', 'PROMPT', 'ROUTE', 'PASS RATE', 'CREATED'],
          ...list.map((r) => [r.id, r.status, r.useCase, `${r.dataset} v${r.datasetVersion}`, `v${r.config.promptVersion}`, r.config.route, fmt(r.summary?.passRate.mean), r.createdAt]),
        ]),
      );
    });
  evals
    .command('compare')
    .description('B against A on the same dataset version: the paired difference of each metric and its verdict')
    .argument('<a>', 'the baseline eval run')
    .argument('<b>', 'the candidate eval run')
    .option('--json', 'machine-readable output')
    .action(async (a: string, b: string, opts: { json?: boolean }) => {
      const cmp = await h.withClient((c) => c.compareEvals(a, b));
      if (opts.json) return h.out(JSON.stringify(cmp, null, 2));
      h.out(`${cmp.b} against ${cmp.a} on ${cmp.dataset} v${cmp.datasetVersion}, ${cmp.cases} cases`);
      h.out(h.table([['METRIC', 'A', 'B', 'B − A', '95% INTERVAL', 'VERDICT'], ...cmp.metrics.map((m) => [m.metric, fmt(m.a), fmt(m.b), fmt(m.difference.difference), `${fmt(m.difference.low)}…${fmt(m.difference.high)}`, m.verdict])]));
      for (const c of cmp.regressed.slice(0, 20)) h.out(`regressed ${c.caseId}: pass rate ${fmt(c.passRate.a, 2)} → ${fmt(c.passRate.b, 2)}\n  A: ${(c.answer.a ?? '').slice(0, 160)}\n  B: ${(c.answer.b ?? '').slice(0, 160)}`);
      for (const c of cmp.improved.slice(0, 20)) h.out(`improved ${c.caseId}: pass rate ${fmt(c.passRate.a, 2)} → ${fmt(c.passRate.b, 2)}`);
    });
}

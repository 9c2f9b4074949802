import type { Queryable } from '../db/index.js';
import type { z } from 'zod';
import type { AssertionOutcome, EvalCase, EvalStatus } from './evals.schema.js';

export interface DatasetRow {
  id: string;
  team_id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
  /** The latest version (0 before the first). */
  version: number;
  case_count: number;
}

const DATASET = `select d.*, coalesce(v.version, 0)::int as version, coalesce(v.case_count, 0)::int as case_count
  from eval_datasets d
  left join lateral (select version, case_count from eval_dataset_versions where dataset_id = d.id order by version desc limit 1) v on true`;

export async function findDataset(q: Queryable, ref: string): Promise<DatasetRow | null> {
  return (await q.query<DatasetRow>(`${DATASET} where d.id = $1 or d.name = $1`, [ref])).rows[0] ?? null;
}

export async function listDatasets(q: Queryable, teamIds: string[] | null): Promise<DatasetRow[]> {
  if (!teamIds) return (await q.query<DatasetRow>(`${DATASET} order by d.name`)).rows;
  return (await q.query<DatasetRow>(`${DATASET} where d.team_id = any($1) order by d.name`, [teamIds])).rows;
}

export async function insertDataset(q: Queryable, d: { id: string; team_id: string; name: string; description: string }): Promise<void> {
  await q.query('insert into eval_datasets (id, team_id, name, description) values ($1, $2, $3, $4)', [d.id, d.team_id, d.name, d.description]);
}

export async function updateDescription(q: Queryable, id: string, description: string): Promise<void> {
  await q.query('update eval_datasets set description = $2, updated_at = now() where id = $1', [id, description]);
}

export interface VersionRow {
  dataset_id: string;
  version: number;
  cases: EvalCase[];
  case_count: number;
  note: string;
  created_by: string | null;
  created_at: Date;
}

export async function findVersion(q: Queryable, datasetId: string, version: number): Promise<VersionRow | null> {
  return (await q.query<VersionRow>('select * from eval_dataset_versions where dataset_id = $1 and version = $2', [datasetId, version])).rows[0] ?? null;
}

export async function listVersions(q: Queryable, datasetId: string): Promise<Omit<VersionRow, 'cases'>[]> {
  return (
    await q.query<Omit<VersionRow, 'cases'>>('select dataset_id, version, case_count, note, created_by, created_at from eval_dataset_versions where dataset_id = $1 order by version', [datasetId])
  ).rows;
}

/** The next version, numbered after the latest; the dataset row is locked so concurrent writers queue. */
export async function insertVersion(q: Queryable, v: { datasetId: string; cases: EvalCase[]; note: string; createdBy: string | null }): Promise<number> {
  await q.query('select id from eval_datasets where id = $1 for update', [v.datasetId]);
  const { rows } = await q.query<{ version: number }>(
    `insert into eval_dataset_versions (dataset_id, version, cases, case_count, note, created_by)
     select $1, coalesce(max(version), 0) + 1, $2::jsonb, $3, $4, $5 from eval_dataset_versions where dataset_id = $1
     returning version`,
    [v.datasetId, JSON.stringify(v.cases), v.cases.length, v.note, v.createdBy],
  );
  await q.query('update eval_datasets set updated_at = now() where id = $1', [v.datasetId]);
  return rows[0]!.version;
}

export interface EvalRunRow {
  id: string;
  team_id: string;
  use_case_id: string;
  dataset_id: string;
  dataset_version: number;
  config: Record<string, unknown>;
  trials: number;
  concurrency: number;
  status: EvalStatus;
  trigger: 'manual' | 'schedule';
  total: number;
  key_id: string | null;
  user_id: string | null;
  summary: Record<string, unknown> | null;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export async function insertEvalRun(q: Queryable, r: Omit<EvalRunRow, 'created_at' | 'started_at' | 'finished_at' | 'summary' | 'error' | 'status'>): Promise<void> {
  await q.query(
    `insert into eval_runs (id, team_id, use_case_id, dataset_id, dataset_version, config, trials, concurrency, status, total, key_id, user_id, trigger)
     values ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $12)`,
    [r.id, r.team_id, r.use_case_id, r.dataset_id, r.dataset_version, JSON.stringify(r.config), r.trials, r.concurrency, r.total, r.key_id, r.user_id, r.trigger],
  );
}

/** When the newest scheduled eval run of a use case was started; null before the first. */
export async function lastScheduled(q: Queryable, useCaseId: string): Promise<Date | null> {
  return (await q.query<{ at: Date | null }>("select max(created_at) as at from eval_runs where use_case_id = $1 and trigger = 'schedule'", [useCaseId])).rows[0]?.at ?? null;
}

/** The completed scheduled runs of a use case on a dataset version before `before`, newest first. */
export async function scheduledBefore(q: Queryable, r: { useCaseId: string; datasetId: string; datasetVersion: number; before: Date; limit: number }): Promise<EvalRunRow[]> {
  return (
    await q.query<EvalRunRow>(
      `select * from eval_runs where use_case_id = $1 and dataset_id = $2 and dataset_version = $3 and trigger = 'schedule'
         and status = 'completed' and created_at < $4 order by created_at desc limit $5`,
      [r.useCaseId, r.datasetId, r.datasetVersion, r.before, r.limit],
    )
  ).rows;
}

export interface AlertRow {
  id: string;
  kind: 'eval_drift' | 'online_drift';
  team_id: string;
  use_case_id: string;
  eval_run_id: string | null;
  metric: string;
  detail: Record<string, unknown>;
  created_at: Date;
}

export async function insertAlert(q: Queryable, a: Omit<AlertRow, 'created_at'>): Promise<void> {
  await q.query('insert into eval_alerts (id, kind, team_id, use_case_id, eval_run_id, metric, detail) values ($1, $2, $3, $4, $5, $6, $7)', [
    a.id,
    a.kind,
    a.team_id,
    a.use_case_id,
    a.eval_run_id,
    a.metric,
    JSON.stringify(a.detail),
  ]);
}

/** Records an alert unless one with its id exists; true when it was recorded. */
export async function insertAlertOnce(q: Queryable, a: Omit<AlertRow, 'created_at'>): Promise<boolean> {
  const { rows } = await q.query<{ id: string }>(
    'insert into eval_alerts (id, kind, team_id, use_case_id, eval_run_id, metric, detail) values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing returning id',
    [a.id, a.kind, a.team_id, a.use_case_id, a.eval_run_id, a.metric, JSON.stringify(a.detail)],
  );
  return rows.length > 0;
}

export async function listAlerts(q: Queryable, f: { teamIds: string[] | null; useCaseId?: string | undefined; limit: number }): Promise<AlertRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.teamIds) where.push(`team_id = any($${params.push(f.teamIds)})`);
  if (f.useCaseId) where.push(`use_case_id = $${params.push(f.useCaseId)}`);
  params.push(f.limit);
  return (await q.query<AlertRow>(`select * from eval_alerts${where.length ? ` where ${where.join(' and ')}` : ''} order by created_at desc, id desc limit $${params.length}`, params)).rows;
}

export async function findEvalRun(q: Queryable, id: string): Promise<EvalRunRow | null> {
  return (await q.query<EvalRunRow>('select * from eval_runs where id = $1', [id])).rows[0] ?? null;
}

export async function listEvalRuns(q: Queryable, f: { teamIds: string[] | null; useCaseId?: string | undefined; datasetId?: string | undefined; status?: string | undefined; limit: number }): Promise<EvalRunRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.teamIds) where.push(`team_id = any($${params.push(f.teamIds)})`);
  if (f.useCaseId) where.push(`use_case_id = $${params.push(f.useCaseId)}`);
  if (f.datasetId) where.push(`dataset_id = $${params.push(f.datasetId)}`);
  if (f.status) where.push(`status = $${params.push(f.status)}`);
  params.push(f.limit);
  return (await q.query<EvalRunRow>(`select * from eval_runs${where.length ? ` where ${where.join(' and ')}` : ''} order by created_at desc, id desc limit $${params.length}`, params)).rows;
}

/** Eval runs a worker should be running: queued, or running when the worker that had them stopped. */
export async function unfinishedEvalRuns(q: Queryable): Promise<string[]> {
  return (await q.query<{ id: string }>("select id from eval_runs where status in ('queued', 'running', 'cancelling') order by created_at")).rows.map((r) => r.id);
}

/** Moves a run from one of `from` to `to`; false when it was not in one of them. */
export async function moveStatus(q: Queryable, id: string, from: EvalStatus[], to: EvalStatus, extra: { summary?: unknown; error?: string | null } = {}): Promise<boolean> {
  const { rows } = await q.query<{ id: string }>(
    `update eval_runs set status = $3,
       started_at = case when $3 = 'running' then coalesce(started_at, now()) else started_at end,
       finished_at = case when $3 in ('completed', 'cancelled', 'failed') then now() else finished_at end,
       summary = coalesce($4::jsonb, summary), error = coalesce($5, error)
     where id = $1 and status = any($2) returning id`,
    [id, from, to, extra.summary === undefined ? null : JSON.stringify(extra.summary), extra.error ?? null],
  );
  return rows.length > 0;
}

export async function statusOf(q: Queryable, id: string): Promise<EvalStatus | null> {
  return (await q.query<{ status: EvalStatus }>('select status from eval_runs where id = $1', [id])).rows[0]?.status ?? null;
}

export interface TrialRow {
  case_id: string;
  trial: number;
  status: 'ok' | 'error';
  result: StoredTrial;
  created_at: Date;
}

/** What is kept of one trial: its answer and decision, its metric values, its assertion outcomes. */
export interface StoredTrial {
  answer: string | null;
  decision: string | null;
  error: string | null;
  metrics: Record<string, number>;
  passed: boolean;
  assertions: z.output<typeof AssertionOutcome>[];
  promptVersion: number | null;
  model: string | null;
  judge: { score: number | null; error: string | null } | null;
}

/** Writes finished trials; a trial already stored (a resumed run redoing it) is kept as it was. */
export async function insertTrials(q: Queryable, runId: string, trials: { caseId: string; trial: number; status: 'ok' | 'error'; result: StoredTrial }[]): Promise<void> {
  if (trials.length === 0) return;
  await q.query(
    `insert into eval_trials (eval_run_id, case_id, trial, status, result)
     select $1, t.case_id, t.trial, t.status, t.result
     from jsonb_to_recordset($2::jsonb) as t(case_id text, trial int, status text, result jsonb)
     on conflict (eval_run_id, case_id, trial) do nothing`,
    [runId, JSON.stringify(trials.map((t) => ({ case_id: t.caseId, trial: t.trial, status: t.status, result: t.result })))],
  );
}

export async function trialsOf(q: Queryable, runId: string): Promise<TrialRow[]> {
  return (await q.query<TrialRow>('select case_id, trial, status, result, created_at from eval_trials where eval_run_id = $1 order by case_id, trial', [runId])).rows;
}

export async function trialKeys(q: Queryable, runId: string): Promise<Set<string>> {
  const { rows } = await q.query<{ case_id: string; trial: number }>('select case_id, trial from eval_trials where eval_run_id = $1', [runId]);
  return new Set(rows.map((r) => `${r.case_id}\u0000${r.trial}`));
}

export async function progressOf(q: Queryable, runId: string): Promise<{ done: number; errors: number; first: Date | null; last: Date | null }> {
  const { rows } = await q.query<{ done: number; errors: number; first: Date | null; last: Date | null }>(
    "select count(*)::int as done, (count(*) filter (where status = 'error'))::int as errors, min(created_at) as first, max(created_at) as last from eval_trials where eval_run_id = $1",
    [runId],
  );
  return rows[0] ?? { done: 0, errors: 0, first: null, last: null };
}

/** The newest completed eval runs of a use case on a dataset version, newest first. */
export async function completedRuns(q: Queryable, useCaseId: string, datasetId: string, datasetVersion: number, since: Date): Promise<EvalRunRow[]> {
  return (
    await q.query<EvalRunRow>(
      "select * from eval_runs where use_case_id = $1 and dataset_id = $2 and dataset_version = $3 and status = 'completed' and finished_at >= $4 order by finished_at desc",
      [useCaseId, datasetId, datasetVersion, since],
    )
  ).rows;
}

/** Trials a rubric judge model scored: the eval run, the case, the answer and the score. */
export async function judgedTrials(q: Queryable, model: string, teamIds: string[] | null): Promise<{ eval_run_id: string; case_id: string; answer: string | null; score: number }[]> {
  return (
    await q.query<{ eval_run_id: string; case_id: string; answer: string | null; score: number }>(
      `select t.eval_run_id, t.case_id, t.result->>'answer' as answer, (t.result->'judge'->>'score')::float8 as score
       from eval_trials t join eval_runs r on r.id = t.eval_run_id
       where r.config->'judge'->>'model' = $1 and t.result->'judge'->>'score' is not null and ($2::text[] is null or r.team_id = any($2))
       limit 100000`,
      [model, teamIds],
    )
  ).rows;
}

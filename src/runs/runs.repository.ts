import { InsertStatements, type Queryable } from '../db/index.js';
import type { Reason } from './reasons.js';

export interface RunRow {
  id: string;
  use_case_id: string;
  team_id: string;
  user_id: string | null;
  key_id: string | null;
  request_id: string | null;
  input: string;
  variables: Record<string, string>;
  status: 'completed' | 'failed' | 'cancelled';
  decision: 'delivered' | 'flagged' | 'held_for_review' | 'blocked' | null;
  reasons: Reason[];
  answer: string | null;
  released: boolean;
  citations: unknown[];
  groundedness: unknown;
  relevance: unknown;
  manifest: unknown;
  spans: { name: string; ms: number }[];
  prompt: string | null;
  prompt_version: number | null;
  route: string | null;
  model: string | null;
  gateway_run_id: string | null;
  cost_usd: number;
  tokens_in: number;
  tokens_out: number;
  latency_ms: number;
  error: string | null;
  created_at: Date;
}

const COLUMNS = [
  'id', 'use_case_id', 'team_id', 'user_id', 'key_id', 'request_id', 'input', 'variables', 'status', 'decision', 'reasons', 'answer',
  'released', 'citations', 'groundedness', 'relevance', 'manifest', 'spans', 'prompt', 'prompt_version', 'route', 'model', 'gateway_run_id',
  'cost_usd', 'tokens_in', 'tokens_out', 'latency_ms', 'error',
] as const;
const JSON_COLUMNS = new Set(['variables', 'reasons', 'citations', 'groundedness', 'relevance', 'manifest', 'spans']);

const INSERT_RUNS = new InsertStatements('runs', COLUMNS);
const values = (run: Omit<RunRow, 'created_at'>): unknown[] => COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(run[c] ?? null) : run[c]));

/** Inserts runs in one statement (atomic by itself, or inside the caller's transaction). */
export async function insertRuns(q: Queryable, runs: Omit<RunRow, 'created_at'>[]): Promise<void> {
  await q.query(INSERT_RUNS.text(runs.length), runs.flatMap(values));
}

export async function findRun(q: Queryable, id: string): Promise<RunRow | null> {
  return (await q.query<RunRow>('select * from runs where id = $1', [id])).rows[0] ?? null;
}

export interface RunFilter {
  useCaseIds?: string[] | undefined;
  decision?: string | undefined;
  userId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Visible to this user (their own runs) or these teams (their use cases); null = everything. */
  visible: { userId: string | null; teamIds: string[] } | null;
  before?: Date | undefined;
  limit: number;
}

export async function listRuns(q: Queryable, f: RunFilter): Promise<RunRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    let text = sql;
    for (const v of values) {
      params.push(v);
      text = text.replace('?', `$${params.length}`);
    }
    where.push(text);
  };
  if (f.useCaseIds) add('use_case_id = any(?)', f.useCaseIds);
  if (f.decision) add('decision = ?', f.decision);
  if (f.userId) add('user_id = ?', f.userId);
  if (f.since) add('created_at >= ?', f.since);
  if (f.until) add('created_at < ?', f.until);
  if (f.before) add('created_at < ?', f.before);
  if (f.visible) add('(user_id = ? or team_id = any(?))', f.visible.userId, f.visible.teamIds);
  params.push(f.limit);
  return (
    await q.query<RunRow>(`select * from runs ${where.length ? `where ${where.join(' and ')}` : ''} order by created_at desc limit $${params.length}`, params)
  ).rows;
}

export async function insertFeedback(q: Queryable, f: { runId: string; userId: string | null; rating: number | null; comment: string | null; correction: string | null }): Promise<void> {
  await q.query('insert into run_feedback (run_id, user_id, rating, comment, correction) values ($1, $2, $3, $4, $5)', [f.runId, f.userId, f.rating, f.comment, f.correction]);
}

export async function feedbackOf(q: Queryable, runId: string): Promise<{ user_id: string | null; rating: number | null; comment: string | null; correction: string | null; created_at: Date }[]> {
  return (await q.query<{ user_id: string | null; rating: number | null; comment: string | null; correction: string | null; created_at: Date }>('select user_id, rating, comment, correction, created_at from run_feedback where run_id = $1 order by id', [runId])).rows;
}

export async function upsertOutcome(q: Queryable, o: { runId: string; outcome: string; timeSpentSeconds: number | null; by: string | null }): Promise<void> {
  await q.query(
    `insert into run_outcomes (run_id, outcome, time_spent_seconds, recorded_by) values ($1, $2, $3, $4)
     on conflict (run_id) do update set outcome = excluded.outcome, time_spent_seconds = excluded.time_spent_seconds, recorded_by = excluded.recorded_by, created_at = now()`,
    [o.runId, o.outcome, o.timeSpentSeconds, o.by],
  );
}

export async function outcomeOf(q: Queryable, runId: string): Promise<{ outcome: string; time_spent_seconds: number | null; recorded_by: string | null; created_at: Date } | null> {
  return (await q.query<{ outcome: string; time_spent_seconds: number | null; recorded_by: string | null; created_at: Date }>('select outcome, time_spent_seconds, recorded_by, created_at from run_outcomes where run_id = $1', [runId])).rows[0] ?? null;
}

/** One completed run's production signals, for monitoring their distributions. */
export interface RunSignal {
  at: Date;
  decision: string | null;
  groundedness: number | null;
  top_score: number | null;
}

/** The signals of a use case's completed runs in [from, to), oldest first, at most `limit`. */
export async function runSignals(q: Queryable, useCaseId: string, from: Date, to: Date, limit: number): Promise<RunSignal[]> {
  return (
    await q.query<RunSignal>(
      `select created_at as at, decision, (groundedness->>'score')::float8 as groundedness, (manifest->'chunks'->0->>'score')::float8 as top_score
       from runs where use_case_id = $1 and status = 'completed' and created_at >= $2 and created_at < $3
       order by created_at limit $4`,
      [useCaseId, from, to, limit],
    )
  ).rows;
}

/** Runs whose groundedness a judge model scored: its score and the threshold it was held against. */
export async function judgedRuns(q: Queryable, model: string, teamIds: string[] | null, limit: number): Promise<{ id: string; score: number; threshold: number }[]> {
  return (
    await q.query<{ id: string; score: number; threshold: number }>(
      `select id, (groundedness->'judge'->>'score')::float8 as score, (groundedness->>'threshold')::float8 as threshold from runs
       where groundedness->'judge'->>'model' = $1 and groundedness->'judge'->>'score' is not null and ($2::text[] is null or team_id = any($2))
       order by created_at desc limit $3`,
      [model, teamIds, limit],
    )
  ).rows;
}

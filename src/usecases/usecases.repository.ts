import type { Queryable } from '../db/index.js';
import type { Cohort, RiskPosture, Stage } from './usecases.schema.js';

export interface UseCaseRow {
  id: string;
  name: string;
  team_id: string;
  owner_user_id: string;
  description: string;
  stage: Stage;
  resume_stage: Stage | null;
  risk_tier: 'low' | 'medium' | 'high' | 'critical';
  posture: RiskPosture;
  context: Record<string, unknown>;
  prompt: string;
  prompt_label: string;
  route: string;
  cohort: Cohort;
  kpis: unknown[];
  kill_criteria: unknown[];
  gate: unknown;
  eval_schedule: unknown;
  created_at: Date;
  updated_at: Date;
}

export type UseCaseFields = Omit<UseCaseRow, 'created_at' | 'updated_at' | 'resume_stage'>;

export async function findUseCase(q: Queryable, ref: string): Promise<UseCaseRow | null> {
  return (await q.query<UseCaseRow>('select * from use_cases where id = $1 or name = $1', [ref])).rows[0] ?? null;
}

/** Use case names by id, for listings that show names beside stored ids. */
export async function useCaseNames(q: Queryable, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const { rows } = await q.query<{ id: string; name: string }>('select id, name from use_cases where id = any($1)', [ids]);
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** A use case with its owner's email, in one round trip (every run reads it fresh, for the stop button). */
export async function findUseCaseForRun(q: Queryable, ref: string): Promise<(UseCaseRow & { owner_email: string | null }) | null> {
  const { rows } = await q.query<UseCaseRow & { owner_email: string | null }>(
    'select uc.*, u.email as owner_email from use_cases uc left join users u on u.id = uc.owner_user_id where uc.id = $1 or uc.name = $1',
    [ref],
  );
  return rows[0] ?? null;
}

export async function listUseCases(q: Queryable, teamIds: string[] | null): Promise<UseCaseRow[]> {
  if (!teamIds) return (await q.query<UseCaseRow>('select * from use_cases order by name')).rows;
  return (await q.query<UseCaseRow>('select * from use_cases where team_id = any($1) order by name', [teamIds])).rows;
}

/** Every use case (background checks that go over them all). */
export async function allUseCases(q: Queryable): Promise<UseCaseRow[]> {
  return listUseCases(q, null);
}

/** Use cases with an eval schedule. */
export async function scheduledUseCases(q: Queryable): Promise<UseCaseRow[]> {
  return (await q.query<UseCaseRow>('select * from use_cases where eval_schedule is not null order by name')).rows;
}

/** Use cases that run a prompt under a label (the gate of a label move reads them). */
export async function useCasesRunning(q: Queryable, prompt: string, label: string): Promise<UseCaseRow[]> {
  return (await q.query<UseCaseRow>('select * from use_cases where prompt = $1 and prompt_label = $2 order by name', [prompt, label])).rows;
}

const json = (v: unknown) => JSON.stringify(v);

export async function insertUseCase(q: Queryable, u: UseCaseFields): Promise<UseCaseRow> {
  return (
    await q.query<UseCaseRow>(
      `insert into use_cases (id, name, team_id, owner_user_id, description, stage, risk_tier, posture, context, prompt, prompt_label,
         route, cohort, kpis, kill_criteria, gate, eval_schedule)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) returning *`,
      [u.id, u.name, u.team_id, u.owner_user_id, u.description, u.stage, u.risk_tier, json(u.posture), json(u.context), u.prompt, u.prompt_label, u.route, json(u.cohort), json(u.kpis), json(u.kill_criteria), u.gate === null ? null : json(u.gate), u.eval_schedule === null ? null : json(u.eval_schedule)],
    )
  ).rows[0] as UseCaseRow;
}

/** Replaces everything but the identity and the stage (stages change through {@link setStage}). */
export async function updateUseCase(q: Queryable, u: Omit<UseCaseFields, 'stage' | 'name' | 'team_id'>): Promise<UseCaseRow> {
  return (
    await q.query<UseCaseRow>(
      `update use_cases set owner_user_id = $2, description = $3, risk_tier = $4, posture = $5, context = $6, prompt = $7,
         prompt_label = $8, route = $9, cohort = $10, kpis = $11, kill_criteria = $12, gate = $13, eval_schedule = $14, updated_at = now()
       where id = $1 returning *`,
      [u.id, u.owner_user_id, u.description, u.risk_tier, json(u.posture), json(u.context), u.prompt, u.prompt_label, u.route, json(u.cohort), json(u.kpis), json(u.kill_criteria), u.gate === null ? null : json(u.gate), u.eval_schedule === null ? null : json(u.eval_schedule)],
    )
  ).rows[0] as UseCaseRow;
}

export async function setStage(q: Queryable, id: string, stage: Stage, resumeStage: Stage | null): Promise<UseCaseRow> {
  return (
    await q.query<UseCaseRow>('update use_cases set stage = $2, resume_stage = $3, updated_at = now() where id = $1 returning *', [id, stage, resumeStage])
  ).rows[0] as UseCaseRow;
}


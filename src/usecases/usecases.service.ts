import { createHash } from 'node:crypto';
import { type AuditContext, type Caller, hasTeamRole, type Principal, requireScope, requireTeamRole, roleIn } from '../access/index.js';
import { canonicalJson, type AuditLog, type RecordAudit } from '../audit/index.js';
import { type Database, newId, type Queryable, ReadCache } from '../db/index.js';
import { parseInput, TarmacError } from '../errors/index.js';
import { findTeam, findUser, membersOfTeam } from '../identity/index.js';
import { missingSources } from '../sources/index.js';
import * as repo from './usecases.repository.js';
import { contextSourceRefs, EvalSchedule, Gate, RiskPosture, UseCaseSpec, type Stage, type UseCase } from './usecases.schema.js';

/**
 * The promotion gate a use case's stage change passes (the evals capability): null when no gate applies, what
 * an override waived, or a thrown `gate_failed`.
 */
export interface StageGate {
  checkStage(q: Queryable, useCase: { id: string; name: string; gate: Gate | null }, stage: Stage, override: string | null): Promise<Record<string, unknown> | null>;
}

/** The person a run is for: its user and the teams they belong to. */
export interface EndUser {
  userId: string;
  teamIds: string[];
  /** A platform admin running for themselves: passes the rollout cohort (not a pause). */
  admin?: boolean;
  /** Known already (the run resolved it): saves reading the user for a cohort of emails. */
  email?: string | undefined;
}

async function view(q: Queryable, row: repo.UseCaseRow): Promise<UseCase> {
  return viewWith(row, (await findUser(q, row.owner_user_id))?.email ?? '');
}

function viewWith(row: repo.UseCaseRow, ownerEmail: string): UseCase {
  return {
    id: row.id,
    name: row.name,
    teamId: row.team_id,
    owner: { userId: row.owner_user_id, email: ownerEmail },
    description: row.description,
    stage: row.stage,
    resumeStage: row.resume_stage,
    riskTier: row.risk_tier,
    // Postures stored before a setting existed read with its default.
    posture: RiskPosture.parse(row.posture),
    context: row.context,
    prompt: row.prompt,
    promptLabel: row.prompt_label,
    route: row.route,
    cohort: row.cohort,
    kpis: row.kpis as UseCase['kpis'],
    killCriteria: row.kill_criteria as UseCase['killCriteria'],
    gate: row.gate === null ? null : Gate.parse(row.gate),
    evalSchedule: row.eval_schedule === null ? null : EvalSchedule.parse(row.eval_schedule),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** The stored fields of a spec, as compared and written. */
function fields(spec: UseCaseSpec, ownerId: string) {
  return {
    owner_user_id: ownerId,
    description: spec.description ?? '',
    risk_tier: spec.riskTier,
    posture: spec.posture,
    context: spec.context,
    prompt: spec.prompt,
    prompt_label: spec.promptLabel,
    route: spec.route,
    cohort: spec.cohort,
    kpis: spec.kpis,
    kill_criteria: spec.killCriteria,
    gate: spec.gate ?? null,
    eval_schedule: spec.evalSchedule ?? null,
  };
}

type Fields = ReturnType<typeof fields>;

const auditable = (row: repo.UseCaseRow | null): Fields | null =>
  row
    ? {
        owner_user_id: row.owner_user_id,
        description: row.description,
        risk_tier: row.risk_tier,
        posture: row.posture,
        context: row.context as Fields['context'],
        prompt: row.prompt,
        prompt_label: row.prompt_label,
        route: row.route,
        cohort: row.cohort,
        kpis: row.kpis as Fields['kpis'],
        kill_criteria: row.kill_criteria as Fields['kill_criteria'],
        gate: row.gate as Fields['gate'],
        eval_schedule: row.eval_schedule as Fields['eval_schedule'],
      }
    : null;

/** The stored fields a spec would change, with their current and new values (empty when none). */
export function changedFields(row: repo.UseCaseRow, spec: UseCaseSpec, ownerId: string): { path: string; from: unknown; to: unknown }[] {
  const now = auditable(row) as Fields;
  const next = fields(spec, ownerId);
  return (Object.keys(next) as (keyof Fields)[])
    .filter((k) => canonicalJson(now[k]) !== canonicalJson(next[k]))
    .map((k) => ({ path: k, from: now[k], to: next[k] }));
}

/**
 * The accountable owner must be an owner of the team. Resolves the team and owner of a spec, or throws
 * `not_found` / `validation_failed` naming the field.
 */
async function resolveSpec(q: Queryable, spec: UseCaseSpec): Promise<{ teamId: string; ownerId: string }> {
  const team = await findTeam(q, spec.team);
  if (!team) throw new TarmacError('not_found', `team ${spec.team} does not exist`);
  const owner = await findUser(q, spec.owner);
  if (!owner) throw new TarmacError('validation_failed', `owner ${spec.owner} is not a Tarmac user`, { issues: [{ path: 'owner', message: 'unknown user' }] });
  const member = (await membersOfTeam(q, team.id)).find((m) => m.user_id === owner.id);
  if (member?.role !== 'owner') {
    throw new TarmacError('validation_failed', `the accountable owner ${spec.owner} must be an owner of team ${spec.team}`, {
      issues: [{ path: 'owner', message: 'must be an owner of the team' }],
    });
  }
  await checkContextSources(q, spec, []);
  return { teamId: team.id, ownerId: owner.id };
}

/**
 * Throws `validation_failed` naming each source the context recipe names that does not exist (`declared`:
 * sources about to be created in the same change, as in a `tarmac.yaml`).
 */
export async function checkContextSources(q: Queryable, spec: UseCaseSpec, declared: string[]): Promise<void> {
  const refs = contextSourceRefs(spec.context).filter((r) => !declared.includes(r.ref));
  const missing = await missingSources(q, [...new Set(refs.map((r) => r.ref))]);
  const issues = refs.filter((r) => missing.has(r.ref)).map((r) => ({ path: r.path, message: `unknown source ${r.ref}` }));
  if (issues.length > 0) {
    throw new TarmacError('validation_failed', `the context recipe of ${spec.name} names unknown source(s): ${[...missing].join(', ')}`, { issues });
  }
}

/** Use-case writes inside a caller's transaction, each with its audit entry (config as code uses it). */
export class UseCaseWriter {
  constructor(
    private readonly tx: Queryable,
    private readonly record: RecordAudit,
    /** Stage changes a declaration makes pass this gate (config as code is held to it like the API). */
    private readonly gate: StageGate | null = null,
  ) {}

  /** Creates the use case, or updates what the spec changes; a paused use case stays paused. */
  async declare(spec: UseCaseSpec): Promise<repo.UseCaseRow> {
    const { teamId, ownerId } = await resolveSpec(this.tx, spec);
    const current = await repo.findUseCase(this.tx, spec.name);
    if (!current) {
      const row = await repo.insertUseCase(this.tx, { id: newId('uc'), name: spec.name, team_id: teamId, stage: spec.stage, ...fields(spec, ownerId) });
      await this.record({ action: 'usecase.created', targetType: 'use_case', targetId: row.id, teamId, after: { stage: row.stage, ...auditable(row) } });
      return row;
    }
    if (current.team_id !== teamId) throw new TarmacError('conflict', `use case ${spec.name} belongs to another team; a use case does not move between teams`);
    let row = current;
    if (changedFields(current, spec, ownerId).length > 0) {
      row = await repo.updateUseCase(this.tx, { id: current.id, ...fields(spec, ownerId) });
      await this.record({ action: 'usecase.updated', targetType: 'use_case', targetId: row.id, teamId, before: auditable(current), after: auditable(row) });
    }
    if (current.stage !== spec.stage && current.stage !== 'paused' && current.stage !== 'retired') {
      const gate = this.gate ? await this.gate.checkStage(this.tx, { id: row.id, name: row.name, gate: row.gate === null ? null : Gate.parse(row.gate) }, spec.stage, null) : null;
      row = await this.stage(row, spec.stage, 'declared in configuration', gate);
    }
    return row;
  }

  async stage(row: repo.UseCaseRow, stage: Stage, reason: string, gate: Record<string, unknown> | null = null): Promise<repo.UseCaseRow> {
    if (row.stage === stage) return row;
    const resume = stage === 'paused' ? (row.stage === 'paused' ? row.resume_stage : row.stage) : null;
    const next = await repo.setStage(this.tx, row.id, stage, resume);
    await this.record({
      action: stage === 'paused' ? 'usecase.paused' : row.stage === 'paused' ? 'usecase.resumed' : 'usecase.stage_changed',
      targetType: 'use_case',
      targetId: row.id,
      teamId: row.team_id,
      before: { stage: row.stage },
      after: { stage, reason, ...(gate ? { gate } : {}) },
    });
    return next;
  }
}

/** Whether a user falls in the percentage share of a rollout: a stable hash of use case and user, 0…100. */
export function inPercentCohort(useCaseId: string, userId: string, percent: number): boolean {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  const h = createHash('sha256').update(`${useCaseId}:${userId}`).digest().readUInt32BE(0);
  return (h / 0x1_0000_0000) * 100 < percent;
}

/**
 * The use-case registry: one accountable owner per use case, a stage with audited changes, the stop button
 * (`paused` takes effect at once, since every run reads the stage from the database), and the rollout cohort
 * of `pilot` and `limited`.
 *
 * @example
 * await usecases.pause(caller, 'underwriting-assistant', 'wrong answers reported');
 * await usecases.authorizeRun(useCase, endUser); // throws use_case_paused
 */
export class UseCaseService {
  // Use cases as runs read them, kept until a use case or user changes in any process: a pause is announced to
  // every process as it commits, so the stop button still takes effect at once.
  private readonly forRunCache: ReadCache<Awaited<ReturnType<typeof repo.findUseCaseForRun>>>;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
  ) {
    this.forRunCache = new ReadCache(db, ['use_cases', 'users']);
  }

  private gate: StageGate | null = null;

  /** Stage changes to limited and production pass this gate from now on. */
  connectGate(gate: StageGate): void {
    this.gate = gate;
  }

  private write<T>(caller: Caller, fn: (w: UseCaseWriter) => Promise<T>): Promise<T> {
    const ctx: AuditContext = { actor: caller.principal.actor, requestId: caller.requestId ?? null };
    return this.audit.transaction(ctx, (tx, record) => fn(new UseCaseWriter(tx, record)));
  }

  private async visible(principal: Principal, ref: string): Promise<repo.UseCaseRow> {
    const row = await repo.findUseCase(this.db, ref);
    if (!row || !hasTeamRole(principal, row.team_id, 'viewer')) throw new TarmacError('not_found', `use case ${ref} does not exist`);
    return row;
  }

  async list(caller: Caller): Promise<UseCase[]> {
    const p = caller.principal;
    const rows = await repo.listUseCases(this.db, p.isAdmin ? null : Object.keys(p.roles).filter((t) => roleIn(p, t) !== null));
    return Promise.all(rows.map((r) => view(this.db, r)));
  }

  async get(caller: Caller, ref: string): Promise<UseCase> {
    return view(this.db, await this.visible(caller.principal, ref));
  }

  /** Creates or updates a use case from its spec (team builders; changing the owner needs a team owner). */
  async declare(caller: Caller, input: unknown): Promise<UseCase> {
    requireScope(caller.principal, 'write');
    const spec = parseInput(UseCaseSpec, input, 'use case');
    const team = await findTeam(this.db, spec.team);
    if (!team || !hasTeamRole(caller.principal, team.id, 'viewer')) throw new TarmacError('not_found', `team ${spec.team} does not exist`);
    requireTeamRole(caller.principal, team.id, 'builder');
    const current = await repo.findUseCase(this.db, spec.name);
    if (current) {
      const owner = await findUser(this.db, spec.owner);
      if (owner && owner.id !== current.owner_user_id) requireTeamRole(caller.principal, team.id, 'owner');
      if (spec.stage !== current.stage) requireTeamRole(caller.principal, team.id, 'owner');
    }
    const row = await this.write(caller, (w) => w.declare(spec));
    return view(this.db, row);
  }

  /** Moves a use case to `pilot`, `limited`, `production` or `retired` (team owners and admins). */
  async setStage(caller: Caller, ref: string, stage: Exclude<Stage, 'paused'>, reason: string, options: { overrideGate?: boolean | undefined } = {}): Promise<UseCase> {
    requireScope(caller.principal, 'write');
    const row = await this.visible(caller.principal, ref);
    requireTeamRole(caller.principal, row.team_id, 'owner');
    if (row.stage === 'retired') throw new TarmacError('use_case_retired', `use case ${row.name} is retired`);
    const gate = row.stage === stage || !this.gate ? null : await this.gate.checkStage(this.db, await view(this.db, row), stage, options.overrideGate ? reason : null);
    return view(this.db, await this.write(caller, (w) => w.stage(row, stage, reason, gate)));
  }

  /** The stop button: takes effect for the next run in every process. Team builders, owners and admins. */
  async pause(caller: Caller, ref: string, reason: string): Promise<UseCase> {
    requireScope(caller.principal, 'write');
    const row = await this.visible(caller.principal, ref);
    requireTeamRole(caller.principal, row.team_id, 'builder');
    if (row.stage === 'retired') throw new TarmacError('use_case_retired', `use case ${row.name} is retired`);
    return view(this.db, await this.write(caller, (w) => w.stage(row, 'paused', reason)));
  }

  /** Back to the stage it had before the pause: team owners and admins only. */
  async resume(caller: Caller, ref: string, reason: string): Promise<UseCase> {
    requireScope(caller.principal, 'write');
    const row = await this.visible(caller.principal, ref);
    requireTeamRole(caller.principal, row.team_id, 'owner');
    if (row.stage !== 'paused') throw new TarmacError('conflict', `use case ${row.name} is not paused (it is ${row.stage})`);
    return view(this.db, await this.write(caller, (w) => w.stage(row, row.resume_stage ?? 'pilot', reason)));
  }

  /** The use case a run names, read fresh from the database so that a pause anywhere applies at once. */
  async forRun(ref: string): Promise<UseCase> {
    const row = await this.forRunCache.get(ref, () => repo.findUseCaseForRun(this.db, ref));
    if (!row) throw new TarmacError('not_found', `use case ${ref} does not exist`);
    return viewWith(row, row.owner_email ?? '');
  }

  /**
   * Whether `user` may run the use case now: not when paused (503 `use_case_paused`) or retired; in `pilot` and
   * `limited` only the team's members and the cohort (users, teams, or a stable percentage of users).
   */
  async authorizeRun(useCase: UseCase, user: EndUser): Promise<void> {
    if (useCase.stage === 'paused') throw new TarmacError('use_case_paused', `use case ${useCase.name} is paused; its owner resumes it`);
    if (useCase.stage === 'retired') throw new TarmacError('use_case_retired', `use case ${useCase.name} is retired`);
    if (useCase.stage === 'production' || user.admin) return;
    if (user.teamIds.includes(useCase.teamId)) return;
    const email = user.email ?? (await findUser(this.db, user.userId))?.email;
    if (email && useCase.cohort.users.map((u) => u.toLowerCase()).includes(email)) return;
    for (const name of useCase.cohort.teams) {
      const team = await findTeam(this.db, name);
      if (team && user.teamIds.includes(team.id)) return;
    }
    if (inPercentCohort(useCase.id, user.userId, useCase.cohort.percent)) return;
    throw new TarmacError('not_in_rollout', `use case ${useCase.name} is in ${useCase.stage}; you are not in its rollout cohort`);
  }
}

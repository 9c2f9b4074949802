import { performance } from 'node:perf_hooks';
import cronParser from 'cron-parser';
import { type AuditContext, type Caller, hasTeamRole, type Principal, requireScope, requireTeamRole, roleIn, systemActor } from '../access/index.js';
import { canonicalJson, type AuditLog, type RecordAudit } from '../audit/index.js';
import { type Database, newId, type Queryable } from '../db/index.js';
import { isTarmacError, parseInput, TarmacError } from '../errors/index.js';
import type { GatewayService } from '../gateway/index.js';
import { findTeam, type IdentityService } from '../identity/index.js';
import { EVAL_METRICS, type EvalMetric } from '../metrics/index.js';
import { findPrompt, promptLabels, promptVersions } from '../prompts/index.js';
import { ContextRecipe, type RetrievalService } from '../retrieval/index.js';
import type { ReviewService } from '../review/index.js';
import type { RunService, TrialResult } from '../runs/index.js';
import { missingDocuments } from '../sources/index.js';
import { allUseCases, EvalSchedule, findUseCase, Gate, parseThreshold, scheduledUseCases, useCaseNames, useCasesRunning, type Stage, type UseCaseRow, type UseCaseService } from '../usecases/index.js';
import { exportCases, normaliseCases, parseCases, type DatasetFormat } from './datasets.js';
import * as repo from './evals.repository.js';
import {
  DatasetSpec,
  EvalRunInput,
  type CaseChange,
  type CaseSummary,
  type Comparison,
  type Dataset,
  type DatasetDetail,
  type DatasetVersion,
  type EvalCase,
  type EvalAlert,
  type EvalConfig,
  type EvalRunDetail,
  type EvalRunView,
  type EvalSummary,
  type GateFailure,
  type GateReport,
  type JudgeRecord,
  type MetricComparison,
  type MonitorReport,
  type OnlineSignal,
  type ResolvedConfig,
  type Verdict,
} from './evals.schema.js';
import { failedTrialMetrics, scoreTrial } from './score.js';
import { bootstrapMean, casesNeeded, ksTest, pairedBootstrap, proportionTest, resamplePlan, seedOf, type Interval, type PairedInterval } from './stats.js';

const RESAMPLES = 2000;
/** The system actor scheduled eval runs are started and run as. */
const SCHEDULER = 'eval-scheduler';
const DAY_MS = 86_400_000;

/** How a created eval run reaches a worker: a job queue in the server, at once in process otherwise. */
export type EvalDispatch = (evalRunId: string) => Promise<void>;

export interface EvalDeps {
  audit: AuditLog;
  review: ReviewService;
  /** Semantic similarity of answers to expected answers, when an embedding provider is configured. */
  retrieval?: Pick<RetrievalService, 'similarity'>;
  identity: IdentityService;
  usecases: UseCaseService;
  runs: RunService;
  gateway: GatewayService;
  onError?: (err: unknown, what: string) => void;
  now?: () => Date;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const finite = (x: number) => (Number.isFinite(x) ? x : null);

function datasetView(r: repo.DatasetRow): Dataset {
  return { id: r.id, name: r.name, teamId: r.team_id, description: r.description, version: r.version, caseCount: r.case_count, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString() };
}

/** A judge's reply: a score in [0, 1]; anything else is a judge error, never a score of zero. */
function parseRubricVerdict(text: string): number | null {
  const match = /\{[\s\S]*\}/.exec(text);
  if (!match) return null;
  try {
    const value = JSON.parse(match[0]) as { score?: unknown };
    return typeof value.score === 'number' && value.score >= 0 && value.score <= 1 ? value.score : null;
  } catch {
    return null;
  }
}

/**
 * Evaluation: datasets with immutable versions, eval runs that put each case through the governed run's steps
 * N times (never from a cache, never recorded as production), metrics with bootstrap intervals, paired
 * comparisons, and the promotion gate.
 *
 * @example
 * const run = await evals.start(caller, { useCase: 'uw', dataset: 'uw-cases', trials: 3 });
 * const detail = await evals.get(caller, run.id);
 */
export class EvalService {
  private dispatcher: EvalDispatch;
  private readonly inProcess = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly deps: EvalDeps,
  ) {
    this.dispatcher = async (id) => {
      const work = this.execute(id)
        .catch((err: unknown) => this.deps.onError?.(err, 'eval run failed'))
        .finally(() => this.inProcess.delete(work));
      this.inProcess.add(work);
    };
  }

  /** Eval runs go to this dispatcher from now on (the server's job queue). */
  dispatchWith(dispatch: EvalDispatch): void {
    this.dispatcher = dispatch;
  }

  /** Waits for eval runs executing in this process (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inProcess.size > 0) await Promise.all([...this.inProcess]);
  }

  /** Stops executing: trials in flight finish and are kept; the runs stay `running` for the next worker. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  /** Eval runs not finished: queued, or left running by a worker that stopped. */
  async unfinished(): Promise<string[]> {
    return repo.unfinishedEvalRuns(this.db);
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private write<T>(caller: Caller, fn: (tx: Database | Parameters<Parameters<AuditLog['transaction']>[1]>[0], record: RecordAudit) => Promise<T>): Promise<T> {
    const ctx: AuditContext = { actor: caller.principal.actor, requestId: caller.requestId ?? null };
    return this.deps.audit.transaction(ctx, fn);
  }

  // ── datasets ─────────────────────────────────────────────────────────────────────────────────

  private async visibleDataset(principal: Principal, ref: string): Promise<repo.DatasetRow> {
    const row = await repo.findDataset(this.db, ref);
    if (!row || !hasTeamRole(principal, row.team_id, 'viewer')) throw new TarmacError('not_found', `dataset ${ref} does not exist`);
    return row;
  }

  async listDatasets(caller: Caller): Promise<Dataset[]> {
    const p = caller.principal;
    return (await repo.listDatasets(this.db, p.isAdmin ? null : Object.keys(p.roles).filter((t) => roleIn(p, t) !== null))).map(datasetView);
  }

  async getDataset(caller: Caller, ref: string): Promise<DatasetDetail> {
    const row = await this.visibleDataset(caller.principal, ref);
    const versions = await repo.listVersions(this.db, row.id);
    return {
      ...datasetView(row),
      versions: versions.map((v) => ({ dataset: row.name, version: v.version, caseCount: v.case_count, note: v.note, createdBy: v.created_by, createdAt: v.created_at.toISOString() })),
    };
  }

  /** Creates a dataset (team builders), with a first version when cases are given. */
  async createDataset(caller: Caller, input: unknown, cases?: unknown[]): Promise<Dataset> {
    requireScope(caller.principal, 'write');
    const spec = parseInput(DatasetSpec, input, 'dataset');
    const team = await findTeam(this.db, spec.team);
    if (!team || !hasTeamRole(caller.principal, team.id, 'viewer')) throw new TarmacError('not_found', `team ${spec.team} does not exist`);
    requireTeamRole(caller.principal, team.id, 'builder');
    if (await repo.findDataset(this.db, spec.name)) throw new TarmacError('conflict', `a dataset named ${spec.name} already exists`);
    const normalised = cases ? normaliseCases(cases.map((value, i) => ({ line: i + 1, value })), 'api') : null;
    const id = newId('ds');
    await this.write(caller, async (tx, record) => {
      await repo.insertDataset(tx, { id, team_id: team.id, name: spec.name, description: spec.description });
      await record({ action: 'dataset.created', targetType: 'dataset', targetId: id, teamId: team.id, after: { name: spec.name, description: spec.description } });
      if (normalised) await this.addVersionIn(tx, record, { id, team_id: team.id, name: spec.name }, normalised, 'created', caller.principal.userId);
    });
    return datasetView((await repo.findDataset(this.db, id))!);
  }

  private async addVersionIn(tx: Parameters<Parameters<AuditLog['transaction']>[1]>[0], record: RecordAudit, ds: { id: string; team_id: string; name: string }, cases: EvalCase[], note: string, by: string | null): Promise<number> {
    const version = await repo.insertVersion(tx, { datasetId: ds.id, cases, note, createdBy: by });
    await record({ action: 'dataset.version_created', targetType: 'dataset', targetId: ds.id, teamId: ds.team_id, after: { version, cases: cases.length, note } });
    return version;
  }

  /**
   * A dataset as `tarmac.yaml` declares it (its cases a JSONL file's text): what would change, and how to write
   * it; null when it is as declared. Same cases (ids, order and every field) make no new version.
   */
  async planDataset(
    q: Queryable,
    declared: { name: string; team: string; description: string },
    text: string,
    where: string,
  ): Promise<{ op: 'create' | 'update'; fields: { path: string; from: unknown; to: unknown }[]; write(tx: Queryable, record: RecordAudit): Promise<void> } | null> {
    let cases: EvalCase[];
    try {
      cases = normaliseCases(parseCases(text, 'jsonl'), 'config');
    } catch (err) {
      if (isTarmacError(err)) throw new TarmacError(err.code, `${where}: ${err.message}`, err.details, { cause: err });
      throw err;
    }
    const current = await repo.findDataset(q, declared.name);
    const latest = current && current.version > 0 ? await repo.findVersion(q, current.id, current.version) : null;
    const sameCases = latest !== null && canonicalJson(latest.cases) === canonicalJson(cases);
    const fields: { path: string; from: unknown; to: unknown }[] = [];
    if (current && current.description !== declared.description) fields.push({ path: 'description', from: current.description, to: declared.description });
    if (!sameCases) fields.push({ path: 'version', from: current?.version ?? null, to: (current?.version ?? 0) + 1 });
    if (current && fields.length === 0) return null;
    return {
      op: current ? 'update' : 'create',
      fields,
      write: async (tx, record) => {
        const team = await findTeam(tx, declared.team);
        if (!team) throw new TarmacError('not_found', `team ${declared.team} does not exist`);
        let row = await repo.findDataset(tx, declared.name);
        if (row && row.team_id !== team.id) throw new TarmacError('conflict', `dataset ${declared.name} belongs to another team; a dataset does not move between teams`);
        if (!row) {
          const id = newId('ds');
          await repo.insertDataset(tx, { id, team_id: team.id, name: declared.name, description: declared.description });
          await record({ action: 'dataset.created', targetType: 'dataset', targetId: id, teamId: team.id, after: { name: declared.name, description: declared.description } });
          row = (await repo.findDataset(tx, id))!;
        } else if (row.description !== declared.description) {
          await repo.updateDescription(tx, row.id, declared.description);
        }
        if (!sameCases) await this.addVersionIn(tx, record, row, cases, `applied from ${where}`, null);
      },
    };
  }

  /** Expected documents that name no indexed document. */
  private async warningsOf(cases: EvalCase[]): Promise<string[]> {
    const refs = [...new Set(cases.flatMap((c) => c.expectedDocuments))];
    const missing = await missingDocuments(this.db, refs);
    return [...missing].slice(0, 100).map((ref) => `expected document ${ref} matches no indexed document: its cases get no retrieval metrics`);
  }

  private async newVersion(caller: Caller, ref: string, cases: EvalCase[], note: string): Promise<DatasetVersion> {
    requireScope(caller.principal, 'write');
    const row = await this.visibleDataset(caller.principal, ref);
    requireTeamRole(caller.principal, row.team_id, 'builder');
    const version = await this.write(caller, (tx, record) => this.addVersionIn(tx, record, row, cases, note, caller.principal.userId));
    const v = (await repo.findVersion(this.db, row.id, version))!;
    return { dataset: row.name, version, caseCount: v.case_count, note: v.note, createdBy: v.created_by, createdAt: v.created_at.toISOString(), warnings: await this.warningsOf(cases) };
  }

  /** A new version from a file (JSONL or CSV): the file holds the whole version; a bad line imports nothing. */
  async importVersion(caller: Caller, ref: string, text: string, format: DatasetFormat, note = ''): Promise<DatasetVersion> {
    const cases = normaliseCases(parseCases(text, format), 'import');
    if (cases.length === 0) throw new TarmacError('validation_failed', 'the file holds no cases', { issues: [{ path: 'file', message: 'no cases' }] });
    return this.newVersion(caller, ref, cases, note || `imported ${format}`);
  }

  /** A new version: the current cases with these added (a case with an existing id replaces it) and removed. */
  async editCases(caller: Caller, ref: string, change: { add?: unknown[] | undefined; remove?: string[] | undefined; note?: string | undefined }): Promise<DatasetVersion> {
    const row = await this.visibleDataset(caller.principal, ref);
    const current = row.version > 0 ? (await repo.findVersion(this.db, row.id, row.version))!.cases : [];
    const added = normaliseCases((change.add ?? []).map((value, i) => ({ line: i + 1, value })), 'api');
    const removed = new Set(change.remove ?? []);
    const unknown = [...removed].filter((id) => !current.some((c) => c.id === id));
    if (unknown.length > 0) throw new TarmacError('not_found', `dataset ${row.name} has no case ${unknown.join(', ')}`);
    const replaced = new Set(added.map((c) => c.id));
    const cases = [...current.filter((c) => !removed.has(c.id) && !replaced.has(c.id)), ...added];
    return this.newVersion(caller, ref, cases, change.note ?? `${added.length} added or edited, ${removed.size} removed`);
  }

  /** A reviewer's edited answer, or the run's feedback correction, becomes a case linked to the run. */
  async caseFromRun(caller: Caller, ref: string, input: { runId: string; tags?: string[] | undefined; expectedDocuments?: string[] | undefined }): Promise<DatasetVersion> {
    const run = await this.deps.runs.get(caller, input.runId);
    const correction = [...run.feedback].reverse().find((f) => f.correction)?.correction ?? null;
    const expected = correction ?? (run.review?.status === 'edited' ? run.answer : null);
    if (expected === null) {
      throw new TarmacError('validation_failed', `run ${input.runId} has no corrected answer: a reviewer's edit or a feedback correction makes one`, { issues: [{ path: 'runId', message: 'no correction' }] });
    }
    const ds = await this.visibleDataset(caller.principal, ref);
    const useCase = await findUseCase(this.db, run.useCase);
    if (useCase && useCase.team_id !== ds.team_id) throw new TarmacError('validation_failed', `run ${input.runId} is of another team's use case than dataset ${ds.name}`, { issues: [{ path: 'runId', message: 'another team' }] });
    return this.editCases(caller, ref, {
      add: [
        {
          id: `run:${run.runId}`,
          input: run.input,
          variables: run.variables,
          expected,
          expectedDocuments: input.expectedDocuments ?? [],
          tags: input.tags ?? [],
          origin: { kind: 'run', runId: run.runId, note: correction !== null ? 'feedback correction' : 'reviewer edit' },
        },
      ],
      note: `case from run ${run.runId}`,
    });
  }

  async exportVersion(caller: Caller, ref: string, version: number | undefined, format: DatasetFormat): Promise<string> {
    const row = await this.visibleDataset(caller.principal, ref);
    const v = await repo.findVersion(this.db, row.id, version ?? row.version);
    if (!v) throw new TarmacError('not_found', `dataset ${row.name} has no version ${version ?? row.version}`);
    return exportCases(v.cases, format);
  }

  async casesOf(caller: Caller, ref: string, version?: number): Promise<{ dataset: string; version: number; cases: EvalCase[] }> {
    const row = await this.visibleDataset(caller.principal, ref);
    const v = await repo.findVersion(this.db, row.id, version ?? row.version);
    if (!v) throw new TarmacError('not_found', `dataset ${row.name} has no version ${version ?? row.version}`);
    return { dataset: row.name, version: v.version, cases: v.cases };
  }

  // ── eval runs ────────────────────────────────────────────────────────────────────────────────

  /** The configuration a use case runs now: its label's prompt version, its route, its context recipe. */
  private async currentConfig(q: Queryable, uc: UseCaseRow): Promise<{ promptVersion: number; route: string; context: Record<string, unknown> }> {
    const prompt = await findPrompt(q, uc.prompt);
    const label = prompt ? (await promptLabels(q, prompt.id)).find((l) => l.label === uc.prompt_label) : undefined;
    if (!prompt || !label) throw new TarmacError('validation_failed', `use case ${uc.name} has no prompt version to evaluate: prompt ${uc.prompt} has no label ${uc.prompt_label}`, { issues: [{ path: 'config.promptVersion', message: 'required' }] });
    return { promptVersion: label.version, route: uc.route, context: uc.context };
  }

  private async resolveConfig(uc: UseCaseRow, config: EvalConfig): Promise<ResolvedConfig> {
    const prompt = await findPrompt(this.db, uc.prompt);
    const promptVersion = config.promptVersion;
    if (promptVersion !== undefined) {
      if (!prompt || !(await promptVersions(this.db, prompt.id)).some((v) => v.version === promptVersion)) {
        throw new TarmacError('validation_failed', `prompt ${uc.prompt} has no version ${promptVersion}`, { issues: [{ path: 'config.promptVersion', message: 'no such version' }] });
      }
    }
    const current = promptVersion === undefined ? await this.currentConfig(this.db, uc) : null;
    const context = config.context ? (parseInput(ContextRecipe, config.context, 'config.context') as Record<string, unknown>) : uc.context;
    return { promptVersion: promptVersion ?? current!.promptVersion, route: config.route ?? uc.route, context, as: config.as ?? null };
  }

  /** Starts an eval run (team builders of the use case); it runs in the background. */
  async start(caller: Caller, body: unknown): Promise<EvalRunView> {
    requireScope(caller.principal, 'write');
    const input = parseInput(EvalRunInput, body, 'eval run');
    const uc = await findUseCase(this.db, input.useCase);
    if (!uc || !hasTeamRole(caller.principal, uc.team_id, 'viewer')) throw new TarmacError('not_found', `use case ${input.useCase} does not exist`);
    requireTeamRole(caller.principal, uc.team_id, 'builder');
    const ds = await this.visibleDataset(caller.principal, input.dataset);
    const version = input.datasetVersion ?? ds.version;
    const v = version > 0 ? await repo.findVersion(this.db, ds.id, version) : null;
    if (!v) throw new TarmacError('not_found', `dataset ${ds.name} has no version ${version}`);
    if (v.case_count === 0) throw new TarmacError('validation_failed', `dataset ${ds.name} version ${version} has no cases`, { issues: [{ path: 'dataset', message: 'no cases' }] });
    if (input.config.as !== undefined && !caller.principal.isAdmin && !caller.principal.scopes.includes('act_as')) {
      throw new TarmacError('forbidden', 'evaluating as another user needs a key with the act_as scope');
    }
    if (!caller.principal.userId && input.config.as === undefined) {
      throw new TarmacError('validation_failed', 'a team key evaluates on behalf of a user: set config.as', { issues: [{ path: 'config.as', message: 'required for team keys' }] });
    }
    const config = await this.resolveConfig(uc, input.config);
    const id = newId('ev');
    await this.write(caller, async (tx, record) => {
      await repo.insertEvalRun(tx, {
        id,
        team_id: uc.team_id,
        use_case_id: uc.id,
        dataset_id: ds.id,
        dataset_version: version,
        config: { ...config, judge: input.judge ?? null },
        trials: input.trials,
        concurrency: input.concurrency,
        total: v.case_count * input.trials,
        key_id: caller.principal.keyId,
        user_id: caller.principal.userId,
        trigger: 'manual',
      });
      await record({ action: 'eval.started', targetType: 'eval_run', targetId: id, teamId: uc.team_id, after: { useCase: uc.name, dataset: ds.name, version, trials: input.trials, config } });
    });
    // The answer describes the run as created; a worker may take it up at once.
    const created = await this.view((await repo.findEvalRun(this.db, id))!);
    await this.dispatcher(id);
    return created;
  }

  private async visibleRun(principal: Principal, id: string): Promise<repo.EvalRunRow> {
    const row = await repo.findEvalRun(this.db, id);
    if (!row || !hasTeamRole(principal, row.team_id, 'viewer')) throw new TarmacError('not_found', `eval run ${id} does not exist`);
    return row;
  }

  /** Cancels an eval run (team builders): trials in flight finish, finished ones are kept. */
  async cancel(caller: Caller, id: string): Promise<EvalRunView> {
    requireScope(caller.principal, 'write');
    const row = await this.visibleRun(caller.principal, id);
    requireTeamRole(caller.principal, row.team_id, 'builder');
    if (!(await repo.moveStatus(this.db, id, ['queued'], 'cancelled', { summary: await this.summarise(row) })) && !(await repo.moveStatus(this.db, id, ['running'], 'cancelling'))) {
      const now = await repo.statusOf(this.db, id);
      if (now !== 'cancelling') throw new TarmacError('conflict', `eval run ${id} is ${now ?? 'gone'}; only a queued or running eval run can be cancelled`);
    }
    return this.view((await repo.findEvalRun(this.db, id))!);
  }

  async get(caller: Caller, id: string): Promise<EvalRunDetail> {
    const row = await this.visibleRun(caller.principal, id);
    const [view, trials, cases] = await Promise.all([this.view(row), repo.trialsOf(this.db, id), this.casesOfRun(row)]);
    const byCase = new Map<string, repo.TrialRow[]>();
    for (const t of trials) byCase.set(t.case_id, [...(byCase.get(t.case_id) ?? []), t]);
    return {
      ...view,
      judgeRecord: view.judge ? await this.judgeRecordFor(view.judge.model, [row.team_id]) : null,
      cases: cases.map((c) => ({
        ...caseSummary(c, byCase.get(c.id) ?? []),
        results: (byCase.get(c.id) ?? []).map((t) => ({ trial: t.trial, status: t.status, answer: t.result.answer, decision: t.result.decision, error: t.result.error, passed: t.result.passed, metrics: t.result.metrics, assertions: t.result.assertions })),
      })),
    };
  }

  async list(caller: Caller, filter: { useCase?: string | undefined; dataset?: string | undefined; status?: string | undefined; limit: number }): Promise<EvalRunView[]> {
    const p = caller.principal;
    const uc = filter.useCase ? await findUseCase(this.db, filter.useCase) : null;
    if (filter.useCase && !uc) throw new TarmacError('not_found', `use case ${filter.useCase} does not exist`);
    const ds = filter.dataset ? await this.visibleDataset(p, filter.dataset) : null;
    const rows = await repo.listEvalRuns(this.db, { teamIds: p.isAdmin ? null : Object.keys(p.roles), useCaseId: uc?.id, datasetId: ds?.id, status: filter.status, limit: filter.limit });
    return Promise.all(rows.map((r) => this.view(r)));
  }

  private async casesOfRun(row: repo.EvalRunRow, q: Queryable = this.db): Promise<EvalCase[]> {
    return (await repo.findVersion(q, row.dataset_id, row.dataset_version))?.cases ?? [];
  }

  private async view(row: repo.EvalRunRow): Promise<EvalRunView> {
    const [uc, ds, progress] = await Promise.all([findUseCase(this.db, row.use_case_id), repo.findDataset(this.db, row.dataset_id), repo.progressOf(this.db, row.id)]);
    const { judge, ...config } = row.config as unknown as ResolvedConfig & { judge: { model: string; rubric: string } | null };
    let eta: number | null = null;
    if (row.status === 'running' && progress.done > 0 && row.started_at) {
      const elapsed = (this.now().getTime() - row.started_at.getTime()) / 1000;
      eta = finite(Math.round(((row.total - progress.done) * elapsed) / progress.done));
    }
    return {
      id: row.id,
      useCase: uc?.name ?? row.use_case_id,
      dataset: ds?.name ?? row.dataset_id,
      datasetVersion: row.dataset_version,
      config,
      judge: judge ?? null,
      trials: row.trials,
      concurrency: row.concurrency,
      status: row.status,
      trigger: row.trigger,
      progress: { done: progress.done, total: row.total, errors: progress.errors, etaSeconds: eta },
      summary: (row.summary as EvalSummary | null) ?? (row.status === 'running' || row.status === 'cancelling' ? await this.summarise(row) : null),
      error: row.error,
      createdBy: row.user_id,
      createdAt: row.created_at.toISOString(),
      startedAt: iso(row.started_at),
      finishedAt: iso(row.finished_at),
    };
  }

  /**
   * Executes an eval run as a worker: every (case, trial) not yet stored, `concurrency` at a time. A resumed
   * run skips what is stored; a cancelled one stops taking trials and keeps what finished.
   */
  async execute(id: string): Promise<void> {
    const row = await repo.findEvalRun(this.db, id);
    if (!row || !['queued', 'running', 'cancelling'].includes(row.status)) return;
    if (row.status === 'cancelling') {
      await repo.moveStatus(this.db, id, ['cancelling'], 'cancelled', { summary: await this.summarise(row) });
      return;
    }
    await repo.moveStatus(this.db, id, ['queued', 'running'], 'running');
    let caller: Caller;
    try {
      // A scheduled run acts for the use case's owner as they are now; another, for the key that started it.
      const principal =
        row.key_id === null
          ? await this.deps.identity.principalOfUser(row.user_id ?? '', SCHEDULER).then((p) => {
              if (!p) throw new TarmacError('forbidden', 'the owner this scheduled eval run acts for is no longer an enabled user');
              return p;
            })
          : await this.deps.identity.principalOfKey(row.key_id);
      if (!hasTeamRole(principal, row.team_id, 'builder')) throw new TarmacError('forbidden', 'the key that started this eval run is no longer a builder of the use case\'s team');
      caller = { principal, requestId: id };
    } catch (err) {
      await repo.moveStatus(this.db, id, ['running'], 'failed', { error: isTarmacError(err) ? `${err.code}: ${err.message}` : String(err), summary: await this.summarise(row) });
      return;
    }
    const config = row.config as unknown as ResolvedConfig & { judge: { model: string; rubric: string } | null };
    const cases = await this.casesOfRun(row);
    const missing = await missingDocuments(this.db, [...new Set(cases.flatMap((c) => c.expectedDocuments))]);
    const done = await repo.trialKeys(this.db, id);
    const work: { c: EvalCase; trial: number }[] = [];
    for (const c of cases) for (let t = 1; t <= row.trials; t++) if (!done.has(`${c.id}\u0000${t}`)) work.push({ c, trial: t });

    const pending: Parameters<typeof repo.insertTrials>[2] = [];
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      const batch = pending.splice(0, pending.length);
      flushing = flushing.then(() => repo.insertTrials(this.db, id, batch));
      return flushing;
    };
    let next = 0;
    let cancelled = false;
    let lastCheck = performance.now();
    const worker = async () => {
      while (next < work.length && !cancelled && !this.stopping.signal.aborted) {
        const item = work[next++]!;
        pending.push(await this.runTrial(caller, row, config, item.c, item.trial, missing));
        if (pending.length >= 16) await flush();
        if (performance.now() - lastCheck > 500) {
          lastCheck = performance.now();
          await flush();
          if ((await repo.statusOf(this.db, id)) !== 'running') cancelled = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(row.concurrency, Math.max(1, work.length)) }, worker));
    await flush();
    if (this.stopping.signal.aborted && !cancelled) return;
    const status = await repo.statusOf(this.db, id);
    const fresh = (await repo.findEvalRun(this.db, id))!;
    if (status === 'cancelling') await repo.moveStatus(this.db, id, ['cancelling'], 'cancelled', { summary: await this.summarise(fresh) });
    else if (await repo.moveStatus(this.db, id, ['running'], 'completed', { summary: await this.summarise(fresh) })) {
      if (fresh.trigger === 'schedule') await this.checkDrift((await repo.findEvalRun(this.db, id))!);
    }
  }

  // ── judges ───────────────────────────────────────────────────────────────────────────────────

  /** A judge model's reliability over the caller's teams (all, for admins). */
  async judgeRecord(caller: Caller, model: string): Promise<JudgeRecord> {
    const p = caller.principal;
    return this.judgeRecordFor(model, p.isAdmin ? null : Object.keys(p.roles));
  }

  /**
   * Self-consistency: over answers judged at least twice (repeated trials of one case with the same answer text),
   * the share of verdict pairs that agree. Agreement with people: over production runs the model judged that a
   * reviewer also decided, accuracy and Cohen's kappa of its verdicts (score at or above the posture's
   * threshold: approve) against the reviewers' (approved or edited: approve; rejected: reject).
   */
  private async judgeRecordFor(model: string, teamIds: string[] | null): Promise<JudgeRecord> {
    const groups = new Map<string, boolean[]>();
    for (const t of await repo.judgedTrials(this.db, model, teamIds)) {
      const key = `${t.eval_run_id}\u0000${t.case_id}\u0000${t.answer ?? ''}`;
      groups.set(key, [...(groups.get(key) ?? []), t.score >= 0.5]);
    }
    let pairs = 0;
    let agreeing = 0;
    let answers = 0;
    for (const verdicts of groups.values()) {
      if (verdicts.length < 2) continue;
      answers++;
      const yes = verdicts.filter(Boolean).length;
      const no = verdicts.length - yes;
      pairs += (verdicts.length * (verdicts.length - 1)) / 2;
      agreeing += (yes * (yes - 1)) / 2 + (no * (no - 1)) / 2;
    }
    const judged = await this.deps.runs.judgedRuns(model, teamIds);
    const people = await this.deps.review.personDecisions(judged.map((r) => r.id));
    const both = judged.filter((r) => people.has(r.id)).map((r) => ({ judge: r.score >= r.threshold, person: people.get(r.id) === 'approve' }));
    const n = both.length;
    const agree = both.filter((b) => b.judge === b.person).length;
    const judgeYes = both.filter((b) => b.judge).length / Math.max(n, 1);
    const personYes = both.filter((b) => b.person).length / Math.max(n, 1);
    const chance = judgeYes * personYes + (1 - judgeYes) * (1 - personYes);
    const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
    return {
      model,
      selfConsistency: { answers, pairs, agreement: pairs > 0 ? r6(agreeing / pairs) : null },
      humanAgreement: { verdicts: n, accuracy: n > 0 ? r6(agree / n) : null, kappa: n > 0 && chance < 1 ? r6((agree / n - chance) / (1 - chance)) : null },
    };
  }

  // ── schedules and drift ──────────────────────────────────────────────────────────────────────

  /**
   * Starts a scheduled eval run of every use case whose eval schedule fired since its last one: the production
   * configuration on the schedule's dataset's current version, acting for the use case's owner.
   */
  async scheduleTick(now: Date = this.now()): Promise<string[]> {
    const started: string[] = [];
    for (const uc of await scheduledUseCases(this.db)) {
      const schedule = EvalSchedule.parse(uc.eval_schedule);
      let previous: Date;
      try {
        previous = cronParser.parseExpression(schedule.cron, { currentDate: now, utc: true }).prev().toDate();
      } catch {
        continue;
      }
      const last = await repo.lastScheduled(this.db, uc.id);
      if ((last ?? uc.created_at) >= previous) continue;
      try {
        started.push(await this.startScheduled(uc, schedule, now));
      } catch (err) {
        this.deps.onError?.(err, `scheduled eval run of ${uc.name} could not start`);
      }
    }
    return started;
  }

  private async startScheduled(uc: UseCaseRow, schedule: EvalSchedule, now: Date): Promise<string> {
    const ds = await repo.findDataset(this.db, schedule.dataset);
    if (!ds || ds.version === 0) throw new TarmacError('not_found', `dataset ${schedule.dataset} does not exist or has no version`);
    const v = (await repo.findVersion(this.db, ds.id, ds.version))!;
    const config = { ...(await this.currentConfig(this.db, uc)), as: null };
    const id = newId('ev');
    await this.deps.audit.transaction({ actor: systemActor(SCHEDULER) }, async (tx, record) => {
      await repo.insertEvalRun(tx, {
        id,
        team_id: uc.team_id,
        use_case_id: uc.id,
        dataset_id: ds.id,
        dataset_version: ds.version,
        config: { ...config, judge: null },
        trials: schedule.trials,
        concurrency: 4,
        total: v.case_count * schedule.trials,
        key_id: null,
        user_id: uc.owner_user_id,
        trigger: 'schedule',
      });
      // The run's row is created at the tick's time, so the schedule reads as it fired.
      await tx.query('update eval_runs set created_at = $2 where id = $1', [id, now]);
      await record({ action: 'eval.started', targetType: 'eval_run', targetId: id, teamId: uc.team_id, after: { useCase: uc.name, dataset: ds.name, version: ds.version, trials: schedule.trials, config, trigger: 'schedule' } });
    });
    await this.dispatcher(id);
    return id;
  }

  /**
   * After a scheduled run: each metric whose 95% interval leaves the trailing baseline (the mean of the last
   * `baselineRuns` scheduled runs' means) in the worse direction raises an `eval_drift` alert.
   */
  private async checkDrift(row: repo.EvalRunRow): Promise<void> {
    const uc = await findUseCase(this.db, row.use_case_id);
    const schedule = uc?.eval_schedule ? EvalSchedule.parse(uc.eval_schedule) : null;
    const summary = row.summary as EvalSummary | null;
    if (!uc || !schedule || !summary) return;
    const previous = await repo.scheduledBefore(this.db, { useCaseId: uc.id, datasetId: row.dataset_id, datasetVersion: row.dataset_version, before: row.created_at, limit: schedule.baselineRuns });
    if (previous.length === 0) return;
    for (const metric of Object.keys(EVAL_METRICS) as EvalMetric[]) {
      const now = summary.metrics[metric];
      if (!now || now.mean === null || now.low === null || now.high === null) continue;
      const means = previous.map((p) => (p.summary as EvalSummary | null)?.metrics[metric]?.mean).filter((m): m is number => typeof m === 'number');
      if (means.length === 0) continue;
      const baseline = means.reduce((a, b) => a + b, 0) / means.length;
      const worse = EVAL_METRICS[metric].better === 'higher' ? now.high < baseline : now.low > baseline;
      if (!worse || metric === 'latency_ms') continue;
      const detail = {
        value: now.mean,
        interval: { low: now.low, high: now.high },
        baseline: Math.round(baseline * 1e9) / 1e9,
        baselineRuns: previous.map((p) => p.id),
        message: `${metric} ${now.mean} (95% interval ${now.low}…${now.high}) left its baseline ${Math.round(baseline * 1e6) / 1e6} of the last ${previous.length} scheduled run(s)`,
      } satisfies Record<string, unknown>;
      await repo.insertAlert(this.db, { id: newId('alr'), kind: 'eval_drift', team_id: row.team_id, use_case_id: row.use_case_id, eval_run_id: row.id, metric, detail });
    }
  }

  /** Drift alerts of the use cases the caller's teams own, newest first. */
  async alerts(caller: Caller, filter: { useCase?: string | undefined; limit: number }): Promise<EvalAlert[]> {
    const p = caller.principal;
    const uc = filter.useCase ? await findUseCase(this.db, filter.useCase) : null;
    if (filter.useCase && (!uc || !hasTeamRole(p, uc.team_id, 'viewer'))) throw new TarmacError('not_found', `use case ${filter.useCase} does not exist`);
    const rows = await repo.listAlerts(this.db, { teamIds: p.isAdmin ? null : Object.keys(p.roles), useCaseId: uc?.id, limit: filter.limit });
    const names = await useCaseNames(this.db, [...new Set(rows.map((r) => r.use_case_id))]);
    return rows.map((r) => {
      const { message, ...detail } = r.detail as { message?: unknown };
      return { id: r.id, kind: r.kind, useCase: names.get(r.use_case_id) ?? r.use_case_id, evalRun: r.eval_run_id, metric: r.metric, message: typeof message === 'string' ? message : '', detail, createdAt: r.created_at.toISOString() };
    });
  }

  /** Online monitoring of a use case for a team member: daily distributions and the shift tests. */
  async monitor(caller: Caller, ref: string, now: Date = this.now()): Promise<MonitorReport> {
    const uc = await findUseCase(this.db, ref);
    if (!uc || !hasTeamRole(caller.principal, uc.team_id, 'viewer')) throw new TarmacError('not_found', `use case ${ref} does not exist`);
    return this.monitorReport(uc, now);
  }

  /**
   * The daily distributions of a use case's production signals over the last 15 days, and the last day tested
   * against the 14 before it: Kolmogorov–Smirnov for groundedness and the top retrieval score, a two-proportion
   * z-test for each decision's share; a p-value under 0.01 with at least 20 values on each side is a shift.
   */
  private async monitorReport(uc: UseCaseRow, now: Date): Promise<MonitorReport> {
    const dayStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
    const lastDayFrom = new Date(now.getTime() - DAY_MS);
    const from = new Date(lastDayFrom.getTime() - 14 * DAY_MS);
    const signals = await this.deps.runs.signals(uc.id, from, now);
    const last = signals.filter((r) => r.at >= lastDayFrom);
    const trailing = signals.filter((r) => r.at < lastDayFrom);
    const days: MonitorReport['days'] = [];
    for (let d = 14; d >= 0; d--) {
      const start = new Date(dayStart.getTime() - d * DAY_MS);
      const end = new Date(start.getTime() + DAY_MS);
      const rows = signals.filter((r) => r.at >= start && r.at < end);
      const share = (decision: string) => (rows.length > 0 ? rows.filter((r) => r.decision === decision || (decision === 'delivered' && r.decision === 'flagged')).length / rows.length : null);
      days.push({
        day: start.toISOString().slice(0, 10),
        runs: rows.length,
        groundedness: quantiles(rows.map((r) => r.groundedness)),
        topScore: quantiles(rows.map((r) => r.top_score)),
        decisions: { delivered: share('delivered'), held: share('held_for_review'), blocked: share('blocked') },
      });
    }
    const MIN = 20;
    const tests: MonitorReport['tests'] = [];
    const continuous = (signal: OnlineSignal, pick: (r: (typeof signals)[number]) => number | null) => {
      const a = last.map(pick).filter((v): v is number => v !== null);
      const b = trailing.map(pick).filter((v): v is number => v !== null);
      const t = a.length >= MIN && b.length >= MIN ? ksTest(a, b) : null;
      tests.push({ signal, test: 'ks', statistic: t?.statistic ?? null, pValue: t?.pValue ?? null, lastDay: a.length, trailing: b.length, shifted: t !== null && t.pValue < 0.01, note: t ? null : `needs at least ${MIN} values on each side` });
    };
    continuous('groundedness', (r) => r.groundedness);
    continuous('retrieval.top_score', (r) => r.top_score);
    for (const [signal, decision] of [['decision.delivered', 'delivered'], ['decision.held', 'held_for_review'], ['decision.blocked', 'blocked']] as const) {
      const count = (rows: typeof signals) => rows.filter((r) => r.decision === decision || (decision === 'delivered' && r.decision === 'flagged')).length;
      const t = last.length >= MIN && trailing.length >= MIN ? proportionTest(count(last), last.length, count(trailing), trailing.length) : null;
      tests.push({ signal, test: 'two_proportion', statistic: t?.statistic ?? null, pValue: t?.pValue ?? null, lastDay: last.length, trailing: trailing.length, shifted: t !== null && t.pValue < 0.01, note: t ? null : `needs at least ${MIN} runs on each side` });
    }
    return { useCase: uc.name, at: now.toISOString(), days, tests };
  }

  /** Tests every use case's production signals (daily) and records an `online_drift` alert for each shift, once a day. */
  async monitorTick(now: Date = this.now()): Promise<number> {
    let raised = 0;
    for (const uc of await allUseCases(this.db)) {
      const report = await this.monitorReport(uc, now);
      for (const t of report.tests.filter((x) => x.shifted)) {
        const day = now.toISOString().slice(0, 10);
        const message = `${t.signal} shifted in the last day against the 14 before (${t.test}: statistic ${t.statistic}, p ${t.pValue}; ${t.lastDay} against ${t.trailing})`;
        const inserted = await repo.insertAlertOnce(this.db, { id: `alr_online_${seedOf(`${uc.id}:${t.signal}:${day}`).toString(36)}`, kind: 'online_drift', team_id: uc.team_id, use_case_id: uc.id, eval_run_id: null, metric: t.signal, detail: { message, test: t.test, statistic: t.statistic, pValue: t.pValue, lastDay: t.lastDay, trailing: t.trailing, day } });
        if (inserted) raised++;
      }
    }
    return raised;
  }

  private async runTrial(caller: Caller, row: repo.EvalRunRow, config: ResolvedConfig & { judge: { model: string; rubric: string } | null }, c: EvalCase, trial: number, missing: Set<string>) {
    const input = { input: c.input, variables: c.variables, ...(config.as ? { as: config.as } : {}) };
    let result: TrialResult;
    try {
      result = await this.deps.runs.trial(caller, row.use_case_id, input, {
        evalRun: row.id,
        promptVersion: config.promptVersion,
        route: config.route,
        context: config.context,
        // A different seed per trial unless the case fixes one: repeated trials sample the model.
        seed: c.seed ?? seedOf(`${row.id}:${c.id}:${trial}`) % 2 ** 31,
      });
    } catch (err) {
      const error = isTarmacError(err) ? `${err.code}: ${err.message}` : `internal_error: ${(err as Error).message}`;
      return { caseId: c.id, trial, status: 'error' as const, result: { answer: null, decision: null, error, metrics: failedTrialMetrics(), passed: false, assertions: [], promptVersion: null, model: null, judge: null } };
    }
    const failed = result.status === 'failed';
    const judge = config.judge && !failed ? await this.rubricJudge(caller, config.judge, c, result) : null;
    const scored = scoreTrial(c, result, { expectedDocumentsExist: c.expectedDocuments.length > 0 && c.expectedDocuments.every((d) => !missing.has(d)), judge });
    if (!failed && c.expected !== undefined && result.answer) {
      const similarity = await this.deps.retrieval?.similarity(result.answer, c.expected);
      if (similarity !== null && similarity !== undefined) scored.metrics['answer.similarity'] = similarity;
    }
    return {
      caseId: c.id,
      trial,
      status: failed ? ('error' as const) : ('ok' as const),
      result: {
        answer: result.answer,
        decision: result.decision,
        error: result.error,
        metrics: failed ? { ...failedTrialMetrics(), latency_ms: result.latencyMs, cost_usd: result.costUsd } : (scored.metrics as Record<string, number>),
        passed: !failed && scored.passed,
        assertions: scored.assertions,
        promptVersion: result.promptVersion,
        model: result.model,
        judge,
      },
    };
  }

  /** An LLM judge scoring the answer against the rubric through the gateway; an unparseable reply is an error. */
  private async rubricJudge(caller: Caller, judge: { model: string; rubric: string }, c: EvalCase, result: TrialResult): Promise<{ score: number | null; error: string | null }> {
    try {
      const reply = await this.deps.gateway.chat(
        { principal: caller.principal, requestId: caller.requestId ?? 'eval', useCase: undefined, evalRun: caller.requestId ?? undefined, signal: new AbortController().signal },
        {
          model: judge.model,
          temperature: 0,
          messages: [
            { role: 'system', content: `You grade an answer against a rubric. Reply with one JSON object: {"score": <number from 0 to 1>, "reason": "<one sentence>"}.\n\nRubric:\n${judge.rubric}` },
            { role: 'user', content: `Question:\n${c.input}\n\n${c.expected !== undefined ? `Expected answer:\n${c.expected}\n\n` : ''}Answer:\n${result.answer ?? '(no answer)'}` },
          ],
        },
      );
      const choices = (reply.body as { choices?: { message?: { content?: unknown } }[] }).choices;
      const text = choices?.[0]?.message?.content;
      const score = typeof text === 'string' ? parseRubricVerdict(text) : null;
      return score === null ? { score: null, error: 'judge_unparseable: the judge did not reply with {"score": 0..1}' } : { score, error: null };
    } catch (err) {
      return { score: null, error: isTarmacError(err) ? `${err.code}: ${err.message}` : String(err) };
    }
  }

  /** Per-metric means with intervals, pass rate, pass^k, flakiness, errors and cost, from the stored trials. */
  private async summarise(row: repo.EvalRunRow, q: Queryable = this.db): Promise<EvalSummary> {
    const trials = await repo.trialsOf(q, row.id);
    const cases = await this.casesOfRun(row, q);
    return summarise(row, cases, trials);
  }

  // ── comparison ───────────────────────────────────────────────────────────────────────────────

  /** B against A, metric by metric, over the cases both scored: the paired bootstrap's interval and a verdict. */
  async compare(caller: Caller, aId: string, bId: string): Promise<Comparison> {
    const [a, b] = await Promise.all([this.visibleRun(caller.principal, aId), this.visibleRun(caller.principal, bId)]);
    return this.compareRows(this.db, a, b);
  }

  private async compareRows(q: Queryable, a: repo.EvalRunRow, b: repo.EvalRunRow): Promise<Comparison> {
    if (a.dataset_id !== b.dataset_id || a.dataset_version !== b.dataset_version) {
      throw new TarmacError('validation_failed', `eval runs ${a.id} and ${b.id} used different dataset versions; a comparison needs the same cases`, { issues: [{ path: 'b', message: 'another dataset version' }] });
    }
    const ta = await repo.trialsOf(q, a.id);
    const tb = await repo.trialsOf(q, b.id);
    const cases = await this.casesOfRun(a, q);
    const ds = await repo.findDataset(q, a.dataset_id);
    const group = (rows: repo.TrialRow[]) => {
      const m = new Map<string, repo.TrialRow[]>();
      for (const t of rows) m.set(t.case_id, [...(m.get(t.case_id) ?? []), t]);
      return m;
    };
    const ga = group(ta);
    const gb = group(tb);
    const both = cases.filter((c) => ga.has(c.id) && gb.has(c.id));
    const metrics: MetricComparison[] = [];
    const seed = seedOf(`${a.id}:${b.id}`);
    const plan = resamplePlan(both.length, RESAMPLES, seed);
    for (const metric of Object.keys(EVAL_METRICS) as EvalMetric[]) {
      const va = both.map((c) => valuesOf(ga.get(c.id)!, metric));
      const vb = both.map((c) => valuesOf(gb.get(c.id)!, metric));
      if (va.every((v) => v.length === 0) && vb.every((v) => v.length === 0)) continue;
      const diff = pairedBootstrap(va, vb, { resamples: RESAMPLES, seed: seed ^ seedOf(metric), plan });
      metrics.push({ metric, a: meanOfCases(va), b: meanOfCases(vb), difference: diff, verdict: verdictOf(metric, diff) });
    }
    const change = (c: EvalCase): CaseChange => {
      const ra = ga.get(c.id)!;
      const rb = gb.get(c.id)!;
      return { caseId: c.id, input: c.input, passRate: { a: passRate(ra), b: passRate(rb) }, answer: { a: ra[0]?.result.answer ?? null, b: rb[0]?.result.answer ?? null } };
    };
    const changes = both.map(change);
    return {
      a: a.id,
      b: b.id,
      dataset: ds?.name ?? a.dataset_id,
      datasetVersion: a.dataset_version,
      cases: both.length,
      metrics,
      regressed: changes.filter((c) => (c.passRate.b ?? 0) < (c.passRate.a ?? 0)),
      improved: changes.filter((c) => (c.passRate.b ?? 0) > (c.passRate.a ?? 0)),
    };
  }

  // ── gates ────────────────────────────────────────────────────────────────────────────────────

  /**
   * The gate of a use case for a candidate configuration: the newest completed eval run of exactly that
   * configuration on the gate's dataset's current version, no older than `maxAgeDays`, held against the gate.
   */
  async gateReport(q: Queryable, uc: UseCaseRow, gate: Gate, candidate: { promptVersion: number; route: string; context: Record<string, unknown> }): Promise<GateReport> {
    const ds = await repo.findDataset(q, gate.dataset);
    if (!ds || ds.version === 0) return { result: 'fail', evalRun: null, failures: [{ metric: 'dataset', value: null, threshold: gate.dataset, interval: null, message: `the gate's dataset ${gate.dataset} does not exist or has no version` }], inconclusive: [], notes: [] };
    const since = new Date(this.now().getTime() - gate.maxAgeDays * DAY_MS);
    const runs = await repo.completedRuns(q, uc.id, ds.id, ds.version, since);
    const sameConfig = (r: repo.EvalRunRow) => {
      const c = r.config as unknown as ResolvedConfig;
      return c.promptVersion === candidate.promptVersion && c.route === candidate.route && canonicalJson(c.context) === canonicalJson(candidate.context);
    };
    const run = runs.find(sameConfig);
    if (!run) {
      return {
        result: 'fail',
        evalRun: null,
        failures: [{ metric: 'eval_run', value: null, threshold: `a completed eval run of this configuration on ${ds.name} v${ds.version}, at most ${gate.maxAgeDays} days old`, interval: null, message: `no eval run of prompt version ${candidate.promptVersion}, route ${candidate.route} on ${ds.name} v${ds.version} in the last ${gate.maxAgeDays} days` }],
        inconclusive: [],
        notes: [],
      };
    }
    const summary = (run.summary as EvalSummary | null) ?? (await this.summarise(run, q));
    const failures: GateFailure[] = [];
    const inconclusive: GateFailure[] = [];
    const notes: string[] = [];
    const judgeModel = (run.config as { judge?: { model?: string } | null }).judge?.model ?? null;
    const judgeRecord = judgeModel ? await this.judgeRecordFor(judgeModel, [uc.team_id]) : null;
    for (const text of gate.thresholds) {
      const t = parseThreshold(text)!;
      const metric = t.metric as EvalMetric;
      if (metric.startsWith('judge.') && gate.judge) {
        const h = judgeRecord?.humanAgreement;
        if (!h || h.verdicts < gate.judge.minVerdicts || h.kappa === null || h.kappa < gate.judge.minKappa) {
          notes.push(`${text}: reported, not gated: the judge ${judgeModel ?? '(none)'} has ${h?.verdicts ?? 0} verdicts a reviewer also decided (kappa ${h?.kappa ?? 'n/a'}); the gate needs ${gate.judge.minVerdicts} and kappa >= ${gate.judge.minKappa}`);
          continue;
        }
      }
      const interval = summary.metrics[metric];
      if (!interval || interval.mean === null) {
        failures.push({ metric, value: null, threshold: text, interval: null, message: `${text}: the eval run did not compute ${metric}` });
        continue;
      }
      const ok = (x: number) => (t.op === '>=' ? x >= t.value : x <= t.value);
      const entry = { metric, value: interval.mean, threshold: text, interval: { low: interval.low, high: interval.high } };
      if (ok(interval.low!) && ok(interval.high!)) continue;
      if (!ok(interval.low!) && !ok(interval.high!)) failures.push({ ...entry, message: `${text}: ${interval.mean} (95% interval ${interval.low}…${interval.high})` });
      else inconclusive.push({ ...entry, casesNeeded: casesNeeded(interval, t.value), message: `${text}: the interval ${interval.low}…${interval.high} straddles ${t.value}; more cases are needed` });
    }
    if (gate.minCasePassRate !== undefined) {
      const trials = await repo.trialsOf(q, run.id);
      const byCase = new Map<string, repo.TrialRow[]>();
      for (const tr of trials) byCase.set(tr.case_id, [...(byCase.get(tr.case_id) ?? []), tr]);
      const low = [...byCase.entries()].filter(([, ts]) => (passRate(ts) ?? 0) < gate.minCasePassRate!);
      if (low.length > 0) failures.push({ metric: 'min_case_pass_rate', value: Math.min(...low.map(([, ts]) => passRate(ts) ?? 0)), threshold: gate.minCasePassRate, interval: null, message: `${low.length} case(s) pass less than ${gate.minCasePassRate} of their trials: ${low.slice(0, 5).map(([id]) => id).join(', ')}` });
    }
    if (gate.noRegression.length > 0) {
      const production = await this.currentConfig(q, uc).catch(() => null);
      const baseline = production ? runs.find((r) => r.id !== run.id && (r.config as unknown as ResolvedConfig).promptVersion === production.promptVersion && (r.config as unknown as ResolvedConfig).route === production.route && canonicalJson((r.config as unknown as ResolvedConfig).context) === canonicalJson(production.context)) : undefined;
      const isProduction = production !== null && candidate.promptVersion === production.promptVersion && candidate.route === production.route && canonicalJson(candidate.context) === canonicalJson(production.context);
      if (!isProduction) {
        if (!baseline) {
          for (const name of gate.noRegression) inconclusive.push({ metric: name, value: null, threshold: 'no regression', interval: null, casesNeeded: null, message: `no regression on ${name}: no recent eval run of the production configuration to compare with` });
        } else {
          const cmp = await this.compareRows(q, baseline, run);
          for (const name of gate.noRegression) {
            const m = cmp.metrics.find((x) => x.metric === parseThreshold(`${name} >= 0`)?.metric);
            if (m?.verdict === 'regressed') failures.push({ metric: m.metric, value: m.difference.difference, threshold: 'no regression', interval: { low: m.difference.low, high: m.difference.high }, message: `${name} regressed against eval run ${baseline.id}: ${m.difference.difference} (95% interval ${m.difference.low}…${m.difference.high})` });
          }
        }
      }
    }
    return { result: failures.length > 0 ? 'fail' : inconclusive.length > 0 ? 'inconclusive' : 'pass', evalRun: run.id, failures, inconclusive, notes };
  }

  /** The gate of an eval run's own configuration: what `tarmac eval run --gate` checks. */
  async gateOfRun(caller: Caller, id: string): Promise<GateReport> {
    const row = await this.visibleRun(caller.principal, id);
    const uc = await findUseCase(this.db, row.use_case_id);
    const gate = uc?.gate ? (uc.gate as Gate) : null;
    if (!uc || !gate) throw new TarmacError('validation_failed', `use case ${uc?.name ?? row.use_case_id} declares no gate`, { issues: [{ path: 'gate', message: 'none declared' }] });
    const c = row.config as unknown as ResolvedConfig;
    return this.gateReport(this.db, uc, gate, { promptVersion: c.promptVersion, route: c.route, context: c.context });
  }

  /**
   * Whether a use case may move to a stage: limited and production need a passing gate when one is declared.
   * An override (owners and admins, with a reason) passes a failing gate and is recorded with what it waived.
   */
  async checkStage(q: Queryable, useCase: { id: string; name: string; gate: Gate | null }, stage: Stage, override: string | null): Promise<Record<string, unknown> | null> {
    if ((stage !== 'limited' && stage !== 'production') || !useCase.gate) return null;
    const uc = (await findUseCase(q, useCase.id))!;
    const report = await this.gateReport(q, uc, useCase.gate, await this.currentConfig(q, uc));
    return this.enforce(report, override, `use case ${useCase.name} to ${stage}`);
  }

  /** Moving a prompt's production label to a version needs the gate of every use case that runs that label. */
  async checkLabel(q: Queryable, prompt: { id: string; name: string }, label: string, version: number, override: string | null): Promise<Record<string, unknown> | null> {
    const waived: Record<string, unknown> = {};
    for (const row of await useCasesRunning(q, prompt.name, label)) {
      if (row.gate === null) continue;
      const gate = Gate.parse(row.gate);
      const current = await this.currentConfig(q, row).catch(() => ({ promptVersion: version, route: row.route, context: row.context }));
      const report = await this.gateReport(q, row, gate, { ...current, promptVersion: version });
      const w = this.enforce(report, override, `label ${label} of prompt ${prompt.name} to version ${version} (use case ${row.name})`);
      if (w) waived[row.name] = w;
    }
    return Object.keys(waived).length > 0 ? waived : null;
  }

  private enforce(report: GateReport, override: string | null, what: string): Record<string, unknown> | null {
    if (report.result === 'pass') return { gate: 'pass', evalRun: report.evalRun };
    if (override !== null) return { gate: report.result, evalRun: report.evalRun, overridden: override, failures: [...report.failures, ...report.inconclusive].map((f) => f.message) };
    throw new TarmacError('gate_failed', `the gate refuses moving ${what}: ${report.result}; ${[...report.failures, ...report.inconclusive].map((f) => f.message).join('; ')}`, {
      result: report.result,
      evalRun: report.evalRun,
      failures: report.failures,
      inconclusive: report.inconclusive,
    });
  }
}

function quantiles(values: (number | null)[]): { n: number; mean: number | null; p10: number | null; p50: number | null; p90: number | null } {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, mean: null, p10: null, p50: null, p90: null };
  const at = (q: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  const r = (x: number) => Math.round(x * 1e6) / 1e6;
  return { n: v.length, mean: r(v.reduce((a, b) => a + b, 0) / v.length), p10: r(at(0.1)), p50: r(at(0.5)), p90: r(at(0.9)) };
}

function valuesOf(trials: repo.TrialRow[], metric: EvalMetric): number[] {
  const out: number[] = [];
  for (const t of trials) {
    const v = t.result.metrics[metric];
    if (typeof v === 'number' && Number.isFinite(v)) out.push(v);
  }
  return out;
}

function meanOfCases(values: number[][]): number | null {
  const means = values.filter((v) => v.length > 0).map((v) => v.reduce((s, x) => s + x, 0) / v.length);
  return means.length > 0 ? Math.round((means.reduce((s, x) => s + x, 0) / means.length) * 1e9) / 1e9 : null;
}

function passRate(trials: repo.TrialRow[]): number | null {
  return trials.length > 0 ? trials.filter((t) => t.result.passed).length / trials.length : null;
}

function verdictOf(metric: EvalMetric, d: PairedInterval): Verdict {
  if (d.low === null || d.high === null) return 'not_available';
  if (d.low <= 0 && d.high >= 0) return 'no_detectable_change';
  const up = d.low > 0;
  return (EVAL_METRICS[metric].better === 'higher') === up ? 'improved' : 'regressed';
}

function caseSummary(c: EvalCase, trials: repo.TrialRow[]): CaseSummary {
  const metrics: Partial<Record<EvalMetric, number>> = {};
  for (const metric of Object.keys(EVAL_METRICS) as EvalMetric[]) {
    const m = meanOfCases([valuesOf(trials, metric)]);
    if (m !== null) metrics[metric] = m;
  }
  const passed = trials.filter((t) => t.result.passed).length;
  return { caseId: c.id, input: c.input, trials: trials.length, passed, passRate: passRate(trials), passAll: trials.length > 0 && passed === trials.length, errors: trials.filter((t) => t.status === 'error').length, metrics };
}

export function summarise(row: repo.EvalRunRow, cases: EvalCase[], trials: repo.TrialRow[]): EvalSummary {
  const byCase = new Map<string, repo.TrialRow[]>();
  for (const t of trials) byCase.set(t.case_id, [...(byCase.get(t.case_id) ?? []), t]);
  const scored = cases.filter((c) => byCase.has(c.id));
  const metrics: Partial<Record<EvalMetric, Interval>> = {};
  const seed = seedOf(row.id);
  const plan = resamplePlan(scored.length, RESAMPLES, seed);
  for (const metric of Object.keys(EVAL_METRICS) as EvalMetric[]) {
    const values = scored.map((c) => valuesOf(byCase.get(c.id)!, metric));
    if (values.every((v) => v.length === 0)) continue;
    metrics[metric] = bootstrapMean(values, { resamples: RESAMPLES, seed: seed ^ seedOf(metric), plan });
  }
  const errors = trials.filter((t) => t.status === 'error').length;
  const full = scored.map((c) => byCase.get(c.id)!);
  const share = (n: number) => (scored.length > 0 ? n / scored.length : null);
  const withDocs = cases.filter((c) => c.expectedDocuments.length > 0);
  const retrievalScored = scored.filter((c) => byCase.get(c.id)!.some((t) => t.result.metrics['retrieval.mrr'] !== undefined)).length;
  return {
    cases: scored.length,
    trialsDone: trials.length,
    errors,
    errorRate: trials.length > 0 ? errors / trials.length : null,
    passRate: metrics.pass ?? { mean: null, low: null, high: null, cases: 0 },
    passAll: share(full.filter((ts) => ts.every((t) => t.result.passed)).length),
    flakiness: share(full.filter((ts) => ts.some((t) => t.result.passed) && ts.some((t) => !t.result.passed)).length),
    metrics,
    costUsd: Math.round(trials.reduce((s, t) => s + (t.result.metrics.cost_usd ?? 0), 0) * 1e9) / 1e9,
    wallSeconds: row.started_at ? finite(((row.finished_at ?? new Date()).getTime() - row.started_at.getTime()) / 1000) : null,
    notAvailable: withDocs.length > retrievalScored && scored.length > 0 ? [`retrieval metrics for ${withDocs.length - retrievalScored} case(s) whose expected documents match no indexed document (or whose trials failed)`] : [],
  };
}

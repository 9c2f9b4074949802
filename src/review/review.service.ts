import { type AuditContext, type Caller, canReview, hasTeamRole, type Principal, requireScope } from '../access/index.js';
import type { AuditLog, RecordAudit } from '../audit/index.js';
import { type Database, newId, type Queryable } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import { findUser } from '../identity/index.js';
import * as repo from './review.repository.js';
import type { Decision, ReviewTask, RunReview } from './review.schema.js';

/** What a decision (or a timeout) does to the run under review. */
export interface RunVerdict {
  decision: 'delivered' | 'blocked';
  /** The answer to release when it was edited. */
  answer?: string | undefined;
  reason?: string | undefined;
  /** No one decided in time: the posture's timeout action applied. */
  timedOut?: boolean | undefined;
}


/** How review reaches the runs it decides (the runs live with use cases; review does not import them). */
export interface RunPort {
  applyVerdict(tx: Queryable, runId: string, verdict: RunVerdict): Promise<void>;
}

/** The review task a run opens: held, or sampled. */
export interface OpenReview {
  runId: string;
  /** Whose run it is: never its reviewer. */
  runUserId: string | null;
  useCaseId: string;
  teamId: string;
  kind: 'hold' | 'sample';
  slaMinutes: number;
  escalation: repo.EscalationStep[];
  timeoutAction: 'block' | 'deliver';
}


export interface ReviewOptions {
  /** The clock (tests move it). */
  now?: () => Date;
  /** Delivers an escalation notice to a webhook; failures are logged and do not stop escalation. */
  notify?: (url: string, payload: unknown) => Promise<void>;
  onError?: (err: unknown, what: string) => void;
}

const view = (t: repo.TaskRow): ReviewTask => ({
  id: t.id,
  runId: t.run_id,
  useCaseId: t.use_case_id,
  teamId: t.team_id,
  kind: t.kind,
  status: t.status,
  assigneeUserId: t.assignee_user_id,
  assigneeEmail: t.assignee_email,
  dueAt: t.due_at.toISOString(),
  escalationLevel: t.escalation_level,
  escalationSteps: t.escalation.length,
  timeoutAction: t.timeout_action,
  decidedBy: t.decided_by,
  decidedAt: t.decided_at?.toISOString() ?? null,
  reason: t.reason,
  editedAnswer: t.edited_answer,
  createdAt: t.created_at.toISOString(),
});

async function postJson(url: string, payload: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`webhook ${url} answered ${res.status}`);
}

/** A webhook notice: the URL and the JSON it is sent. */
interface Notice {
  url: string;
  payload: Record<string, unknown>;
}

/** Delays before the second and third attempts at a notice. */
const RETRY_DELAYS_MS = [1000, 10_000];

/**
 * The review queue: a run held for review (or sampled for quality assurance) becomes a task assigned to the
 * least-loaded reviewer of the team, due within the posture's SLA; overdue tasks walk the escalation path
 * (webhook notices, reassignment), and after its last step the posture's timeout action applies (`block` by
 * default: fail closed). Decisions are audited and release, edit or block the run.
 *
 * @example
 * await review.decide(caller, taskId, { action: 'edit', answer: 'The limit is 20 years [1].' });
 * await review.escalate(); // from a job, every minute
 */
export class ReviewService {
  private port: RunPort | null = null;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly options: ReviewOptions = {},
  ) {}

  /** Connects the runs that decisions apply to (done once, by the runs capability). */
  connect(port: RunPort): void {
    this.port = port;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private runs(): RunPort {
    if (!this.port) throw new Error('review queue is not connected to runs');
    return this.port;
  }

  /** Opens a task for a run inside the caller's transaction. */
  async open(tx: Queryable, record: RecordAudit, task: OpenReview): Promise<ReviewTask> {
    const row = await repo.insertTask(tx, {
      id: newId('rvw'),
      run_id: task.runId,
      use_case_id: task.useCaseId,
      team_id: task.teamId,
      kind: task.kind,
      due_at: new Date(this.now().getTime() + task.slaMinutes * 60_000),
      escalation: task.escalation,
      timeout_action: task.timeoutAction,
    }, task.runUserId);
    await record({ action: 'review.opened', targetType: 'review_task', targetId: row.id, teamId: row.team_id, after: { runId: row.run_id, kind: row.kind, assignee: row.assignee_user_id, dueAt: row.due_at.toISOString() } });
    return view(row);
  }

  private visible(principal: Principal, t: repo.TaskRow | null, id: string): repo.TaskRow {
    if (!t || !canReview(principal, t.team_id)) throw new TarmacError('not_found', `review task ${id} does not exist`);
    return t;
  }

  async list(caller: Caller, f: { status?: string | undefined; mine?: boolean | undefined; limit: number }): Promise<ReviewTask[]> {
    const p = caller.principal;
    const teamIds = p.isAdmin ? null : Object.keys(p.roles).filter((t) => canReview(p, t));
    const rows = await repo.listTasks(this.db, { teamIds, status: f.status, assignee: f.mine ? (p.userId ?? '-') : undefined, limit: f.limit });
    return rows.map(view);
  }

  async get(caller: Caller, id: string): Promise<ReviewTask> {
    return view(this.visible(caller.principal, await repo.findTask(this.db, id), id));
  }

  /** The review of a run, or null when it had none; for whoever may see the run (its service checks that). */
  /** What people decided about these runs (approved and edited count as approve), by run id; undecided runs are absent. */
  async personDecisions(runIds: string[]): Promise<Map<string, 'approve' | 'reject'>> {
    const rows = await repo.decisionsOfRuns(this.db, runIds);
    return new Map(rows.map((r) => [r.run_id, r.status === 'rejected' ? 'reject' : 'approve']));
  }

  async ofRun(runId: string): Promise<RunReview | null> {
    const t = await repo.taskOfRun(this.db, runId);
    if (!t) return null;
    const decision = t.status === 'open' ? null : t.status === 'rejected' || (t.status === 'timed_out' && t.timeout_action === 'block') ? 'blocked' : 'delivered';
    return { taskId: t.id, kind: t.kind, status: t.status, decidedBy: t.decided_by, decidedAt: t.decided_at?.toISOString() ?? null, decision };
  }

  /**
   * Approves, edits or rejects. A task decided already, or assigned to someone else (escalated past the
   * caller), is a `review_conflict`; team owners and admins may decide any open task of their teams.
   */
  async decide(caller: Caller, id: string, decision: Decision): Promise<ReviewTask> {
    const p = caller.principal;
    requireScope(p, 'write');
    const ctx: AuditContext = { actor: p.actor, requestId: caller.requestId ?? null };
    const decided = await this.audit.transaction(ctx, async (tx, record) => {
      const task = this.visible(p, await repo.findTask(tx, id, true), id);
      if (task.status !== 'open') throw new TarmacError('review_conflict', `review task ${id} was already decided (${task.status})`);
      const owner = hasTeamRole(p, task.team_id, 'owner');
      if (p.userId && (await repo.runUser(tx, task.run_id)) === p.userId) throw new TarmacError('forbidden', `review task ${id} is about your own run: another reviewer decides it`);
      if (task.assignee_user_id && task.assignee_user_id !== p.userId && !owner) {
        throw new TarmacError('review_conflict', `review task ${id} is assigned to someone else${task.escalation_level > 0 ? ' (it was escalated)' : ''}`);
      }
      const status = decision.action === 'approve' ? 'approved' : decision.action === 'edit' ? 'edited' : 'rejected';
      const updated = await repo.updateTask(tx, id, {
        status,
        decided_by: p.userId ?? p.keyId,
        decided_at: this.now(),
        reason: decision.action === 'reject' ? decision.reason : null,
        edited_answer: decision.action === 'edit' ? decision.answer : null,
      });
      await this.runs().applyVerdict(tx, task.run_id, {
        decision: decision.action === 'reject' ? 'blocked' : 'delivered',
        answer: decision.action === 'edit' ? decision.answer : undefined,
        reason: decision.action === 'reject' ? decision.reason : undefined,
      });
      await record({ action: `review.${status}`, targetType: 'review_task', targetId: id, teamId: task.team_id, before: { status: 'open' }, after: { status, runId: task.run_id, reason: updated.reason } });
      return { task: view(updated), notice: await this.outcomeNotice(tx, updated, decision.action === 'reject' ? 'blocked' : 'delivered') };
    });
    this.send(decided.notice);
    return decided.task;
  }

  /**
   * Assigns an open task to a person explicitly: team owners and platform admins, to an enabled reviewer or
   * owner of the team other than the run's own user (four eyes). Audited; the task keeps its due time.
   */
  async assign(caller: Caller, id: string, userRef: string): Promise<ReviewTask> {
    const p = caller.principal;
    requireScope(p, 'write');
    const ctx: AuditContext = { actor: p.actor, requestId: caller.requestId ?? null };
    return this.audit.transaction(ctx, async (tx, record) => {
      const task = this.visible(p, await repo.findTask(tx, id, true), id);
      if (!hasTeamRole(p, task.team_id, 'owner')) throw new TarmacError('forbidden', 'assigning a review task needs the owner role in its team (or a platform admin)');
      if (task.status !== 'open') throw new TarmacError('review_conflict', `review task ${id} was already decided (${task.status})`);
      const user = await findUser(tx, userRef);
      if (!user || user.disabled) throw new TarmacError('not_found', `user ${userRef} does not exist`);
      const { reviews, ranTheRun } = await repo.assignable(tx, task.team_id, user.id, task.run_id);
      if (!reviews) throw new TarmacError('validation_failed', `${user.email} does not review for this team (a reviewer or owner of it reviews)`, { issues: [{ path: 'user', message: 'not a reviewer or owner of the team' }] });
      if (ranTheRun) throw new TarmacError('validation_failed', `${user.email} ran this run and may not review it`, { issues: [{ path: 'user', message: 'the run is theirs' }] });
      const updated = await repo.updateTask(tx, id, { assignee_user_id: user.id });
      await record({ action: 'review.assigned', targetType: 'review_task', targetId: id, teamId: task.team_id, before: { assignee: task.assignee_user_id }, after: { assignee: user.id, runId: task.run_id } });
      return view(updated);
    });
  }

  /** The notice of a task's outcome for the use case's `reviewNotify` webhook, if it names one. */
  private async outcomeNotice(tx: Queryable, t: repo.TaskRow, decision: 'delivered' | 'blocked'): Promise<Notice | null> {
    const hook = await repo.outcomeHook(tx, t.use_case_id);
    if (!hook?.url) return null;
    return {
      url: hook.url,
      payload: { event: 'review.decided', taskId: t.id, runId: t.run_id, useCase: hook.name, status: t.status, decision, reason: t.reason, decidedBy: t.decided_by, at: (t.decided_at ?? this.now()).toISOString() },
    };
  }

  /**
   * Sends a notice once its transaction has committed, without holding up the caller: up to three attempts, the
   * failures logged. The run's record stays the authority (`GET /api/v1/runs/:id`).
   */
  private send(notice: Notice | null, attempt = 0): void {
    if (!notice) return;
    void (this.options.notify ?? postJson)(notice.url, notice.payload).catch((err: unknown) => {
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay === undefined) return this.options.onError?.(err, `notice ${String(notice.payload.event)} to ${notice.url} failed after ${attempt + 1} attempts`);
      setTimeout(() => this.send(notice, attempt + 1), delay).unref();
    });
  }

  /**
   * Walks overdue tasks one step: the next escalation step (notice, reassignment, new due time), or after the
   * last step the timeout action. Returns how many tasks moved. Safe to run in several processes at once.
   */
  async escalate(): Promise<number> {
    const now = this.now();
    let moved = 0;
    for (const due of await repo.overdue(this.db, now)) {
      const notice = await this.audit.transaction({ actor: { type: 'system', id: 'review-escalation' } }, async (tx, record) => {
        const t = await repo.findTask(tx, due.id, true);
        if (!t || t.status !== 'open' || t.due_at > now) return null;
        const step = t.escalation[t.escalation_level];
        if (!step) {
          const status = 'timed_out';
          const timedOut = await repo.updateTask(tx, t.id, { status, decided_by: 'system:review-timeout', decided_at: now, reason: `no decision in time: ${t.timeout_action}` });
          const decision = t.timeout_action === 'deliver' ? 'delivered' : 'blocked';
          await this.runs().applyVerdict(tx, t.run_id, { decision, reason: 'review timed out', timedOut: true });
          await record({ action: 'review.timed_out', targetType: 'review_task', targetId: t.id, teamId: t.team_id, after: { runId: t.run_id, action: t.timeout_action } });
          return this.outcomeNotice(tx, timedOut, decision);
        }
        // The step's person takes the task, unless it is their own run.
        const target = step.assignTo ? await findUser(tx, step.assignTo) : null;
        const assignee = target && target.id !== (await repo.runUser(tx, t.run_id)) ? target.id : t.assignee_user_id;
        await repo.updateTask(tx, t.id, { escalation_level: t.escalation_level + 1, assignee_user_id: assignee, due_at: new Date(now.getTime() + step.afterMinutes * 60_000) });
        await record({
          action: 'review.escalated',
          targetType: 'review_task',
          targetId: t.id,
          teamId: t.team_id,
          before: { level: t.escalation_level, assignee: t.assignee_user_id },
          after: { level: t.escalation_level + 1, assignee },
        });
        return step.notify ? { url: step.notify, payload: { event: 'review.escalated', taskId: t.id, runId: t.run_id, level: t.escalation_level + 1, assignee, at: now.toISOString() } } : null;
      });
      moved++;
      this.send(notice);
    }
    return moved;
  }
}

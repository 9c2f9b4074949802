import type { Queryable } from '../db/index.js';
import type { TaskStatus } from './review.schema.js';

export interface EscalationStep {
  afterMinutes: number;
  notify?: string | undefined;
  assignTo?: string | undefined;
}

// Every task read carries its assignee's email beside the id: people recognise addresses, not ids.
const WITH_ASSIGNEE = '*, (select u.email from users u where u.id = assignee_user_id) as assignee_email';

export interface TaskRow {
  id: string;
  run_id: string;
  use_case_id: string;
  team_id: string;
  kind: 'hold' | 'sample';
  status: TaskStatus;
  assignee_user_id: string | null;
  assignee_email: string | null;
  due_at: Date;
  escalation: EscalationStep[];
  escalation_level: number;
  timeout_action: 'block' | 'deliver';
  decided_by: string | null;
  decided_at: Date | null;
  reason: string | null;
  edited_answer: string | null;
  created_at: Date;
}

/**
 * Opens a task assigned to the team's least loaded reviewer (fewest open tasks, as `reviewer_load` keeps them; then
 * by user id), chosen in the same statement: one round trip inside the run's transaction. Reviewers are the team's
 * enabled members with role `reviewer`, or its owners when it has none; a team with neither leaves the task
 * unassigned.
 */
export async function insertTask(
  q: Queryable,
  t: Omit<TaskRow, 'status' | 'assignee_user_id' | 'assignee_email' | 'escalation_level' | 'decided_by' | 'decided_at' | 'reason' | 'edited_answer' | 'created_at'>,
  runUserId: string | null,
): Promise<TaskRow> {
  return (
    await q.query<TaskRow>(
      `insert into review_tasks (id, run_id, use_case_id, team_id, kind, status, assignee_user_id, due_at, escalation, timeout_action)
       values ($1, $2, $3, $4, $5, 'open', (
         select m.user_id from team_members m join users u on u.id = m.user_id
         where m.team_id = $4 and not u.disabled and m.user_id is distinct from $9
           and (m.role = 'reviewer' or (m.role = 'owner' and not exists (select 1 from team_members r where r.team_id = $4 and r.role = 'reviewer')))
         order by coalesce((select l.open_tasks from reviewer_load l where l.user_id = m.user_id), 0), m.user_id
         limit 1
       ), $6, $7, $8) returning ${WITH_ASSIGNEE}`,
      [t.id, t.run_id, t.use_case_id, t.team_id, t.kind, t.due_at, JSON.stringify(t.escalation), t.timeout_action, runUserId],
    )
  ).rows[0] as TaskRow;
}

/** The user whose run it is (null for runs of team keys acting for nobody in particular). */
export async function runUser(q: Queryable, runId: string): Promise<string | null> {
  return (await q.query<{ user_id: string | null }>('select user_id from runs where id = $1', [runId])).rows[0]?.user_id ?? null;
}

/** Whether the user may review the team's tasks (an enabled `reviewer` or `owner` of it), and the run's own user. */
export async function assignable(q: Queryable, teamId: string, userId: string, runId: string): Promise<{ reviews: boolean; ranTheRun: boolean }> {
  const { rows } = await q.query<{ reviews: boolean; ran: boolean }>(
    `select exists (select 1 from team_members m join users u on u.id = m.user_id
                    where m.team_id = $1 and m.user_id = $2 and m.role in ('reviewer', 'owner') and not u.disabled) as reviews,
            exists (select 1 from runs where id = $3 and user_id = $2) as ran`,
    [teamId, userId, runId],
  );
  return { reviews: rows[0]?.reviews ?? false, ranTheRun: rows[0]?.ran ?? false };
}

/** The use case's name and the webhook its posture notifies of review outcomes, if any. */
export async function outcomeHook(q: Queryable, useCaseId: string): Promise<{ name: string; url: string | null } | null> {
  return (await q.query<{ name: string; url: string | null }>(`select name, posture->>'reviewNotify' as url from use_cases where id = $1`, [useCaseId])).rows[0] ?? null;
}

export async function findTask(q: Queryable, id: string, forUpdate = false): Promise<TaskRow | null> {
  return (await q.query<TaskRow>(`select ${WITH_ASSIGNEE} from review_tasks where id = $1${forUpdate ? ' for update' : ''}`, [id])).rows[0] ?? null;
}

export async function taskOfRun(q: Queryable, runId: string): Promise<TaskRow | null> {
  return (await q.query<TaskRow>(`select ${WITH_ASSIGNEE} from review_tasks where run_id = $1`, [runId])).rows[0] ?? null;
}

/** The decided tasks of these runs: each run's person decision (approved, edited or rejected). */
export async function decisionsOfRuns(q: Queryable, runIds: string[]): Promise<{ run_id: string; status: string }[]> {
  if (runIds.length === 0) return [];
  return (await q.query<{ run_id: string; status: string }>("select run_id, status from review_tasks where run_id = any($1) and status in ('approved', 'edited', 'rejected')", [runIds])).rows;
}

export async function listTasks(q: Queryable, f: { teamIds: string[] | null; status?: string | undefined; assignee?: string | undefined; limit: number }): Promise<TaskRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.teamIds) {
    params.push(f.teamIds);
    where.push(`team_id = any($${params.length})`);
  }
  if (f.status) {
    params.push(f.status);
    where.push(`status = $${params.length}`);
  }
  if (f.assignee) {
    params.push(f.assignee);
    where.push(`assignee_user_id = $${params.length}`);
  }
  params.push(f.limit);
  return (await q.query<TaskRow>(`select ${WITH_ASSIGNEE} from review_tasks ${where.length ? `where ${where.join(' and ')}` : ''} order by due_at limit $${params.length}`, params)).rows;
}

/** Open tasks past their due time (the escalation job walks these). */
export async function overdue(q: Queryable, now: Date): Promise<TaskRow[]> {
  return (await q.query<TaskRow>(`select ${WITH_ASSIGNEE} from review_tasks where status = 'open' and due_at <= $1 order by due_at limit 500`, [now])).rows;
}

export async function updateTask(q: Queryable, id: string, set: Partial<Pick<TaskRow, 'status' | 'assignee_user_id' | 'due_at' | 'escalation_level' | 'decided_by' | 'decided_at' | 'reason' | 'edited_answer'>>): Promise<TaskRow> {
  const keys = Object.keys(set) as (keyof typeof set)[];
  const assignments = keys.map((k, i) => `${k} = $${i + 2}`).join(', ');
  return (await q.query<TaskRow>(`update review_tasks set ${assignments} where id = $1 returning ${WITH_ASSIGNEE}`, [id, ...keys.map((k) => set[k])])).rows[0] as TaskRow;
}

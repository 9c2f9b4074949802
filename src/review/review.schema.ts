import { z } from 'zod';

export const TASK_KINDS = ['hold', 'sample'] as const;
export const TASK_STATUSES = ['open', 'approved', 'edited', 'rejected', 'timed_out'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TIMEOUT_ACTIONS = ['block', 'deliver'] as const;

/** A review task as the API shows it. */
export const ReviewTask = z.object({
  id: z.string(),
  runId: z.string(),
  useCaseId: z.string(),
  teamId: z.string(),
  kind: z.enum(TASK_KINDS),
  status: z.enum(TASK_STATUSES),
  assigneeUserId: z.string().nullable(),
  assigneeEmail: z.string().nullable().describe("The assignee's email (null when unassigned)"),
  dueAt: z.string(),
  escalationLevel: z.number(),
  escalationSteps: z.number(),
  timeoutAction: z.enum(TIMEOUT_ACTIONS),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  reason: z.string().nullable(),
  editedAnswer: z.string().nullable(),
  createdAt: z.string(),
});
export type ReviewTask = z.output<typeof ReviewTask>;

/** The review of a run as the run shows it: `decision` is what the review did to the run, null while open. */
export const RunReview = z.object({
  taskId: z.string(),
  kind: z.enum(TASK_KINDS),
  status: z.enum(TASK_STATUSES),
  decidedBy: z.string().nullable(),
  decidedAt: z.string().nullable(),
  decision: z.enum(['delivered', 'blocked']).nullable(),
});
export type RunReview = z.output<typeof RunReview>;

/** A reviewer's decision: approve, edit (the edited answer is delivered) or reject (with a reason). */
export const Decision = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('approve') }),
  z.strictObject({ action: z.literal('edit'), answer: z.string().min(1).max(20_000).describe('The answer to deliver instead') }),
  z.strictObject({ action: z.literal('reject'), reason: z.string().min(1).max(2000).describe('Why, recorded on the run and in the audit log') }),
]);
export type Decision = z.output<typeof Decision>;

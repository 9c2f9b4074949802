/**
 * The review queue: held and sampled runs wait for a person, with assignment, SLA, escalation and a
 * fail-closed timeout; decisions (approve, edit, reject) are audited and applied to the run.
 *
 * @example
 * review.connect(runs);
 * const tasks = await review.list(caller, { status: 'open', mine: true, limit: 50 });
 */
export { ReviewService, type OpenReview, type ReviewOptions, type RunPort, type RunVerdict } from './review.service.js';
export { Decision, ReviewTask, RunReview, TASK_STATUSES } from './review.schema.js';
export type { EscalationStep } from './review.repository.js';
export { capability } from './capability.js';

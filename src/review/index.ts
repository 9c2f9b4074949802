/**
 * The review queue: held and sampled runs wait for a person, with assignment, SLA, escalation and a
 * fail-closed timeout; decisions (approve, edit, reject) are audited and applied to the run.
 *
 * @example
 * review.connect(runs);
 * const tasks = await review.list(caller, { status: 'open', mine: true, limit: 50 });
 */
export { ReviewService, RunReview, type Decision, type OpenReview, type ReviewOptions, type ReviewTask, type RunPort, type RunVerdict } from './review.service.js';
export type { EscalationStep } from './review.repository.js';
export { registerReviewRoutes } from './review.routes.js';

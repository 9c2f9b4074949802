/**
 * Runs: the governed run engine. A run of a use case passes through named steps over one typed state (caller,
 * authorisation, context, input guard, prompt, model with a tool loop, output guard, decision, record); its
 * records, feedback and outcomes; the closed set of decision reason codes.
 *
 * @example
 * const runs = new RunService(db, { audit, review, usecases, prompts, retrieval, gateway });
 * const result = await runs.run(caller, { useCase: 'underwriting-assistant', input: 'Which breeds are declined?' });
 * const trial = await runs.evaluate(caller, input); // the same steps, nothing recorded
 */
export { decide, RunService, type DecisionInput, type Delivery, type RunInput, type RunState, type RunStreamSink, type ToolCall, type ToolExecutor, type TrialOptions, type TrialResult } from './runs.service.js';
export { Citation, DECISIONS, ListedRun, OUTCOMES, RUN_STATUSES, RunRecord, RunResult, type Decision, type RunStatus } from './runs.schema.js';
export { Reason, REASON_CODES, type ReasonCode } from './reasons.js';
export { capability } from './capability.js';

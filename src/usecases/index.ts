/**
 * Use cases: the unit that moves from pilot to production. One accountable owner, a stage with audited
 * changes and a stop button, a risk tier and risk posture, a context recipe, a prompt label, a model route,
 * a rollout cohort, KPIs and kill criteria.
 *
 * @example
 * const useCase = await usecases.forRun('underwriting-assistant');
 * await usecases.authorizeRun(useCase, { userId, teamIds }); // use_case_paused, not_in_rollout
 */
export { ACTIVE_STAGES, Cohort, contextSourceRefs, KillCriterion, Kpi, RiskPosture, STAGES, UseCaseName, UseCaseSpec, type Stage } from './usecases.schema.js';
export { changedFields, checkContextSources, inPercentCohort, UseCaseService, UseCaseWriter, type EndUser, type UseCase } from './usecases.service.js';
export { findUseCase, type UseCaseRow } from './usecases.repository.js';
export { registerUseCaseRoutes } from './usecases.routes.js';
export { decide, RunService, type Citation, type Decision, type DecisionInput, type Delivery, type RunInput, type RunRecord, type RunResult, type RunState, type RunStatus, type RunStreamSink, type ToolCall, type ToolExecutor } from './runs.service.js';
export { registerRunRoutes } from './runs.routes.js';
export { Reason, REASON_CODES, type ReasonCode } from './reasons.js';

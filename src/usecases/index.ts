/**
 * Use cases: the unit that moves from pilot to production. One accountable owner, a stage with audited
 * changes and a stop button, a risk tier and risk posture, a context recipe, a prompt label, a model route,
 * a rollout cohort, KPIs and kill criteria.
 *
 * @example
 * const useCase = await usecases.forRun('underwriting-assistant');
 * await usecases.authorizeRun(useCase, { userId, teamIds }); // use_case_paused, not_in_rollout
 */
export { ACTIVE_STAGES, Cohort, contextSourceRefs, EvalSchedule, Gate, KillCriterion, Kpi, parseThreshold, RiskPosture, STAGES, UseCase, UseCaseName, UseCaseSpec, type Stage } from './usecases.schema.js';
export { changedFields, checkContextSources, inPercentCohort, UseCaseService, UseCaseWriter, type EndUser, type StageGate } from './usecases.service.js';
export { allUseCases, findUseCase, scheduledUseCases, useCaseNames, useCasesRunning, type UseCaseRow } from './usecases.repository.js';
export { capability } from './capability.js';

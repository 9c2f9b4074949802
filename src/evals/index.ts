/**
 * Evaluation: team datasets with immutable versions (JSONL and CSV import and export, cases from corrected
 * runs), eval runs that put every case through the governed run's steps N times as a background job, metrics
 * with bootstrap 95% intervals, paired comparisons with verdicts, and the promotion gate that stage changes and
 * the production label pass.
 *
 * @example
 * const evals = new EvalService(db, { audit, identity, usecases, runs, gateway });
 * const run = await evals.start(caller, { useCase: 'underwriting-assistant', dataset: 'uw-cases', trials: 5 });
 * const verdicts = await evals.compare(caller, baselineId, run.id);
 */
export {
  Assertion,
  ASSERTION_TYPES,
  Comparison,
  Dataset,
  DatasetDeclaration,
  DatasetDetail,
  DatasetSpec,
  DatasetVersion,
  EVAL_STATUSES,
  EvalCase,
  EvalConfig,
  EvalRunDetail,
  EvalRunInput,
  EvalRunView,
  EvalSummary,
  GATE_RESULTS,
  GateReport,
  VERDICTS,
  type EvalStatus,
  type GateResult,
  type Verdict,
} from './evals.schema.js';
export { DATASET_FORMATS, derivedCaseId, exportCases, parseCases, type DatasetFormat } from './datasets.js';
export { EvalService, type EvalDispatch } from './evals.service.js';
export { bootstrapMean, pairedBootstrap, seededRandom } from './stats.js';
export { retrievalMetrics, tokenF1 } from './score.js';
export { capability } from './capability.js';

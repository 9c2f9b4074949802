import { z } from 'zod';
import { EVAL_METRIC_CODES, type EvalMetric } from '../metrics/index.js';

/** One check on a trial's answer; a trial passes when every assertion of its case passes. */
export const Assertion = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('exact_match'), value: z.string().max(100_000).optional().describe('Default: the expected answer'), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('contains'), value: z.string().min(1).max(10_000), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('not_contains'), value: z.string().min(1).max(10_000), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('regex'), pattern: z.string().min(1).max(1000), flags: z.string().regex(/^[imsu]*$/).default('') }),
  z.strictObject({ type: z.literal('json_valid') }),
  z.strictObject({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('numeric'), value: z.number(), tolerance: z.number().min(0).default(0) }),
  z.strictObject({ type: z.literal('refusal'), expected: z.boolean().default(true).describe('true: the answer must decline; false: it must not') }),
  z.strictObject({ type: z.literal('f1'), min: z.number().min(0).max(1) }),
  z.strictObject({ type: z.literal('groundedness'), min: z.number().min(0).max(1) }),
  z.strictObject({ type: z.literal('decision'), value: z.enum(['delivered', 'held_for_review', 'blocked']) }),
]);
export type Assertion = z.output<typeof Assertion>;
export const ASSERTION_TYPES = Assertion.options.map((o) => o.shape.type.value);

/** One labelled case of a dataset. */
export const EvalCase = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'letters, digits and . _ : / -, at most 200')
    .optional()
    .describe('Stable id across versions (default: derived from the input and variables)'),
  input: z.string().min(1).max(100_000),
  variables: z.record(z.string(), z.string().max(100_000)).default({}),
  expected: z.string().max(100_000).optional().describe('The expected answer'),
  expectedDocuments: z.array(z.string().min(1).max(1000)).max(1000).default([]).describe('Documents retrieval should find: document id or source/document id'),
  assertions: z.array(Assertion).max(50).default([]),
  tags: z.array(z.string().min(1).max(100)).max(50).default([]),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional().describe('A fixed model seed for every trial (default: a different seed per trial)'),
  origin: z
    .strictObject({
      kind: z.enum(['import', 'api', 'run', 'config']),
      runId: z.string().max(100).optional(),
      note: z.string().max(2000).optional(),
    })
    .optional()
    .describe('Where the case came from'),
});
export type EvalCaseInput = z.input<typeof EvalCase>;
export type EvalCase = z.output<typeof StoredCase>;

export const DatasetName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

export const DatasetSpec = z.strictObject({
  name: DatasetName,
  team: z.string().min(1).max(200).describe('Owning team (name)'),
  description: z.string().max(2000).default(''),
});

/** A dataset as `tarmac.yaml` declares it: its cases are a JSONL file beside the configuration. */
export const DatasetDeclaration = DatasetSpec.extend({ file: z.string().min(1).max(1000).describe('JSONL file of cases, relative to tarmac.yaml') });

/** What an eval run evaluates: a use case's configuration, each part defaulting to what the use case runs now. */
export const EvalConfig = z.strictObject({
  promptVersion: z.number().int().min(1).optional().describe('Prompt version (default: the version the use case\'s label points to)'),
  route: z.string().min(1).max(200).optional().describe('Model route (default: the use case\'s)'),
  context: z.record(z.string(), z.unknown()).optional().describe('Context recipe (default: the use case\'s)'),
  as: z.string().min(3).max(320).optional().describe('The evaluation user whose access assembles the context (default: the caller; another user needs act_as)'),
});
export type EvalConfig = z.output<typeof EvalConfig>;

export const EvalRunInput = z.strictObject({
  useCase: z.string().min(1).max(100),
  dataset: z.string().min(1).max(100),
  datasetVersion: z.number().int().min(1).optional().describe('Default: the current version'),
  config: EvalConfig.default({}),
  trials: z.number().int().min(1).max(50).default(3),
  concurrency: z.number().int().min(1).max(32).default(4),
  judge: z
    .strictObject({ model: z.string().min(1).max(200), rubric: z.string().min(1).max(10_000) })
    .optional()
    .describe('An LLM judge scoring each answer against a rubric, through the gateway'),
});
export type EvalRunInput = z.output<typeof EvalRunInput>;

export const EVAL_STATUSES = ['queued', 'running', 'cancelling', 'cancelled', 'completed', 'failed'] as const;
export type EvalStatus = (typeof EVAL_STATUSES)[number];

export const VERDICTS = ['improved', 'regressed', 'no_detectable_change', 'not_available'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const GATE_RESULTS = ['pass', 'fail', 'inconclusive'] as const;
export type GateResult = (typeof GATE_RESULTS)[number];

export const MetricCode = z.enum(EVAL_METRIC_CODES as [EvalMetric, ...EvalMetric[]]);

// ── responses ─────────────────────────────────────────────────────────────────────────────────

/** A case as stored in a version: every default filled in, its id set. */
export const StoredCase = EvalCase.extend({ id: z.string() });
export type StoredCase = z.output<typeof StoredCase>;

export const Dataset = z.object({
  id: z.string(),
  name: z.string(),
  teamId: z.string(),
  description: z.string(),
  version: z.number().describe('The current version (0 before the first)'),
  caseCount: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Dataset = z.output<typeof Dataset>;

const VersionFields = { dataset: z.string(), version: z.number(), caseCount: z.number(), note: z.string(), createdBy: z.string().nullable(), createdAt: z.string() };
export const DatasetVersion = z.object({ ...VersionFields, warnings: z.array(z.string()).describe('Expected documents that match no indexed document: their cases get no retrieval metrics') });
export type DatasetVersion = z.output<typeof DatasetVersion>;
export const DatasetDetail = Dataset.extend({ versions: z.array(z.object(VersionFields)) });
export type DatasetDetail = z.output<typeof DatasetDetail>;
export const VersionCases = z.object({ dataset: z.string(), version: z.number(), cases: z.array(StoredCase) });

/** The configuration an eval run evaluated, resolved when it was created. */
export const ResolvedConfig = z.object({ promptVersion: z.number(), route: z.string(), context: z.record(z.string(), z.unknown()), as: z.string().nullable() });
export type ResolvedConfig = z.output<typeof ResolvedConfig>;

/** A mean with its bootstrap 95% interval; null when there is nothing to compute it from. */
export const Interval = z.object({ mean: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable(), cases: z.number() });

const MetricValues = z.partialRecord(MetricCode, z.number());

export const EvalSummary = z.object({
  cases: z.number(),
  trialsDone: z.number(),
  errors: z.number(),
  errorRate: z.number().nullable(),
  passRate: Interval,
  passAll: z.number().nullable().describe('Share of cases all of whose trials passed (pass^k)'),
  flakiness: z.number().nullable().describe('Share of cases whose trials disagree'),
  metrics: z.partialRecord(MetricCode, Interval),
  costUsd: z.number(),
  wallSeconds: z.number().nullable(),
  notAvailable: z.array(z.string()),
});
export type EvalSummary = z.output<typeof EvalSummary>;

export const EvalRunView = z.object({
  id: z.string(),
  useCase: z.string(),
  dataset: z.string(),
  datasetVersion: z.number(),
  config: ResolvedConfig,
  judge: z.object({ model: z.string(), rubric: z.string() }).nullable(),
  trials: z.number(),
  concurrency: z.number(),
  status: z.enum(EVAL_STATUSES),
  trigger: z.enum(['manual', 'schedule']).describe('Started by a caller, or by the use case\'s eval schedule'),
  progress: z.object({ done: z.number(), total: z.number(), errors: z.number(), etaSeconds: z.number().nullable() }),
  summary: EvalSummary.nullable(),
  error: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});
export type EvalRunView = z.output<typeof EvalRunView>;

export const AssertionOutcome = z.object({ type: z.enum(ASSERTION_TYPES as [Assertion['type'], ...Assertion['type'][]]), passed: z.boolean(), detail: z.string() });

export const CaseSummary = z.object({
  caseId: z.string(),
  input: z.string(),
  trials: z.number(),
  passed: z.number(),
  passRate: z.number().nullable(),
  passAll: z.boolean(),
  errors: z.number(),
  metrics: MetricValues,
});
export type CaseSummary = z.output<typeof CaseSummary>;

export const TrialView = z.object({
  trial: z.number(),
  status: z.enum(['ok', 'error']),
  answer: z.string().nullable(),
  decision: z.string().nullable(),
  error: z.string().nullable(),
  passed: z.boolean(),
  metrics: z.record(z.string(), z.number()),
  assertions: z.array(AssertionOutcome),
});

/** A judge's reliability: how often it agrees with itself on the same answer, and with people. */
export const JudgeRecord = z.object({
  model: z.string(),
  selfConsistency: z.object({
    answers: z.number().describe('Answers judged at least twice (same eval run, case and answer text)'),
    pairs: z.number(),
    agreement: z.number().nullable().describe('Share of pairs of verdicts on the same answer that agree (a verdict: score >= 0.5)'),
  }),
  humanAgreement: z.object({
    verdicts: z.number().describe('Production runs the judge scored that a reviewer also decided'),
    accuracy: z.number().nullable().describe("Share where the judge's verdict (score >= the posture's threshold) matches the reviewer's"),
    kappa: z.number().nullable().describe("Cohen's kappa of the judge's verdicts against the reviewers'"),
  }),
});
export type JudgeRecord = z.output<typeof JudgeRecord>;

export const EvalRunDetail = EvalRunView.extend({ judgeRecord: JudgeRecord.nullable().describe("The rubric judge's reliability, shown beside its scores"), cases: z.array(CaseSummary.extend({ results: z.array(TrialView) })) });
export type EvalRunDetail = z.output<typeof EvalRunDetail>;

export const PairedInterval = z.object({ difference: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable(), cases: z.number() });

export const CaseChange = z.object({
  caseId: z.string(),
  input: z.string(),
  passRate: z.object({ a: z.number().nullable(), b: z.number().nullable() }),
  answer: z.object({ a: z.string().nullable(), b: z.string().nullable() }),
});
export type CaseChange = z.output<typeof CaseChange>;

export const MetricComparison = z.object({ metric: MetricCode, a: z.number().nullable(), b: z.number().nullable(), difference: PairedInterval, verdict: z.enum(VERDICTS) });
export type MetricComparison = z.output<typeof MetricComparison>;

export const Comparison = z.object({
  a: z.string(),
  b: z.string(),
  dataset: z.string(),
  datasetVersion: z.number(),
  cases: z.number(),
  metrics: z.array(MetricComparison),
  regressed: z.array(CaseChange),
  improved: z.array(CaseChange),
});
export type Comparison = z.output<typeof Comparison>;

export const GateFailure = z.object({
  metric: z.string(),
  value: z.number().nullable(),
  threshold: z.union([z.number(), z.string()]),
  interval: z.object({ low: z.number().nullable(), high: z.number().nullable() }).nullable(),
  casesNeeded: z.number().nullable().optional().describe('Cases an inconclusive figure would need to be decided (normal approximation)'),
  message: z.string(),
});
export type GateFailure = z.output<typeof GateFailure>;

export const GateReport = z.object({ result: z.enum(GATE_RESULTS), evalRun: z.string().nullable(), failures: z.array(GateFailure), inconclusive: z.array(GateFailure), notes: z.array(z.string()).describe('Thresholds reported, not gated: a judge without the record the gate requires') });
export type GateReport = z.output<typeof GateReport>;

export const ALERT_KINDS = ['eval_drift', 'online_drift'] as const;

/** A drift: a scheduled eval run's metric outside its trailing baseline, or a production signal that shifted. */
export const EvalAlert = z.object({
  id: z.string(),
  kind: z.enum(ALERT_KINDS),
  useCase: z.string(),
  evalRun: z.string().nullable().describe('The scheduled eval run (eval_drift); null for online_drift'),
  metric: z.string().describe('An eval metric (eval_drift) or a production signal (online_drift)'),
  message: z.string(),
  detail: z.record(z.string(), z.unknown()).describe('eval_drift: value, interval, baseline, baselineRuns; online_drift: test, statistic, pValue, lastDay, trailing'),
  createdAt: z.string(),
});
export type EvalAlert = z.output<typeof EvalAlert>;

/** The production signals online monitoring tests, last day against the trailing 14 days. */
export const ONLINE_SIGNALS = ['groundedness', 'retrieval.top_score', 'decision.delivered', 'decision.held', 'decision.blocked'] as const;
export type OnlineSignal = (typeof ONLINE_SIGNALS)[number];

const Quantiles = z.object({ n: z.number(), mean: z.number().nullable(), p10: z.number().nullable(), p50: z.number().nullable(), p90: z.number().nullable() });

export const MonitorReport = z.object({
  useCase: z.string(),
  at: z.string(),
  days: z.array(
    z.object({
      day: z.string(),
      runs: z.number(),
      groundedness: Quantiles,
      topScore: Quantiles,
      decisions: z.object({ delivered: z.number().nullable(), held: z.number().nullable(), blocked: z.number().nullable() }).describe('Shares of the day\'s runs'),
    }),
  ),
  tests: z.array(
    z.object({
      signal: z.enum(ONLINE_SIGNALS),
      test: z.enum(['ks', 'two_proportion']),
      statistic: z.number().nullable(),
      pValue: z.number().nullable(),
      lastDay: z.number().describe('Runs (or scored runs) in the last day'),
      trailing: z.number().describe('The same in the 14 days before'),
      shifted: z.boolean(),
      note: z.string().nullable(),
    }),
  ),
});
export type MonitorReport = z.output<typeof MonitorReport>;


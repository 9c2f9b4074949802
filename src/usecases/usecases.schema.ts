import { z } from 'zod';
import { DEFAULT_RELEVANCE_THRESHOLD } from '../guard/index.js';
import { DerivedMetric, resolveMetric } from '../metrics/index.js';
import { ContextRecipe } from '../retrieval/index.js';
import { isValidCron } from '../sources/index.js';

export const STAGES = ['pilot', 'limited', 'production', 'paused', 'retired'] as const;
export type Stage = (typeof STAGES)[number];
/** Stages a use case can be moved to directly; `paused` is the stop button, `retired` is final. */
export const ACTIVE_STAGES = ['pilot', 'limited', 'production'] as const;

export const UseCaseName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/** How much risk the use case accepts, and what happens when an answer is not sure enough. */
export const RiskPosture = z.strictObject({
  acceptableErrorRate: z.number().min(0).max(1).default(0.05).describe('Share of wrong answers the owner accepts'),
  deliverThreshold: z.number().min(0).max(1).default(0.8).describe('Groundedness needed to deliver without review'),
  relevanceThreshold: z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_RELEVANCE_THRESHOLD)
    .describe('Answer relevance needed to deliver without review: the weighted share of the question\'s content words that the answer and its supporting passages hold'),
  belowThreshold: z.enum(['held_for_review', 'flagged']).default('held_for_review').describe('What a run under a threshold becomes'),
  reviewSampleRate: z.number().min(0).max(1).default(0).describe('Share of delivered runs also sent to review for quality assurance'),
  reviewSlaMinutes: z.number().int().min(1).max(43_200).default(240).describe('Time a reviewer has to decide'),
  escalation: z
    .array(
      z.strictObject({
        afterMinutes: z.number().int().min(1).max(43_200).describe('Minutes past the due time before this step'),
        notify: z.string().url().optional().describe('Webhook notified at this step'),
        assignTo: z.string().max(320).optional().describe('User (email) the task moves to'),
      }),
    )
    .max(10)
    .default([])
    .describe('Escalation path, in order'),
  timeoutAction: z.enum(['block', 'deliver']).default('block').describe('What happens after the last escalation (fail closed by default)'),
  reviewNotify: z
    .string()
    .url()
    .optional()
    .describe('Webhook notified when a review task ends (approved, edited, rejected or timed out): how the caller of a held run learns its result'),
  judge: z
    .strictObject({
      model: z.string().min(1).max(200).describe('Gateway route or provider/model that judges groundedness'),
      decides: z.enum(['judge', 'offline', 'lowest']).default('lowest').describe('Which score is held against deliverThreshold'),
      onFailure: z.enum(['offline', 'hold']).default('offline').describe('When the judge fails: use the offline score, or hold the run for review'),
    })
    .optional()
    .describe('An LLM-as-judge groundedness check after the offline one'),
});

/** Who may run a use case in `pilot` and `limited`. */
export const Cohort = z.strictObject({
  users: z.array(z.string().max(320)).default([]).describe('User emails'),
  teams: z.array(z.string().max(200)).default([]).describe('Team names'),
  percent: z.number().min(0).max(100).default(0).describe('Share of all users, by a stable hash of the user id'),
});

export const Kpi = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, _ and -'),
  description: z.string().max(500).optional(),
  unit: z.string().max(40).optional().describe('e.g. minutes, USD, %'),
  baseline: z.number().describe('Value before the use case'),
  target: z.number().describe('Value the use case should reach'),
  direction: z.enum(['increase', 'decrease']).describe('Which way is better'),
  owner: z.string().max(320).optional().describe('Email of the KPI owner (default: the use case owner)'),
});

export const KillCriterion = z.strictObject({
  metric: DerivedMetric.describe('A derived metric: override_rate, groundedness_p50, cost_per_task_usd… (docs/use-cases.md)'),
  above: z.number().optional(),
  below: z.number().optional(),
  description: z.string().max(500).optional(),
});

const THRESHOLD = /^\s*([a-z0-9_.@]+)\s*(>=|<=)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** A gate threshold as declared (`groundedness.mean >= 0.8`), parsed; null when it is not one. */
export function parseThreshold(text: string): { metric: string; op: '>=' | '<='; value: number } | null {
  const m = THRESHOLD.exec(text);
  if (!m?.[1] || !m[3]) return null;
  const metric = resolveMetric(m[1]);
  return metric ? { metric, op: m[2] === '<=' ? '<=' : '>=', value: Number(m[3]) } : null;
}

const GateMetric = z.string().max(100).refine((name) => resolveMetric(name) !== null, 'not a metric an eval run computes (docs/evaluation.md)');

/** What an eval run of the candidate configuration must show before the use case or its prompt moves up. */
export const Gate = z.strictObject({
  dataset: z.string().min(1).max(100).describe('Dataset whose current version the eval run must have used'),
  thresholds: z
    .array(z.string().max(200).refine((t) => parseThreshold(t) !== null, 'a threshold is "<metric> >= <number>" or "<metric> <= <number>" with a metric an eval run computes'))
    .max(30)
    .default([])
    .describe('Absolute thresholds on run means: "groundedness.mean >= 0.8", "pass_rate >= 0.9", "cost_per_case_usd <= 0.01"'),
  minCasePassRate: z.number().min(0).max(1).optional().describe('Every case must pass at least this share of its trials'),
  noRegression: z.array(GateMetric).max(30).default([]).describe('Metrics that must not regress against the last passing eval run of the production configuration'),
  maxAgeDays: z.number().min(0).max(365).default(7).describe('How old the passing eval run may be'),
  judge: z
    .strictObject({
      minVerdicts: z.number().int().min(1).max(100_000).default(50).describe('Production verdicts a reviewer also decided'),
      minKappa: z.number().min(-1).max(1).default(0.6).describe("Cohen's kappa against the reviewers"),
    })
    .optional()
    .describe("What a judge's record must show before a threshold on judge.* counts; otherwise it is reported, not gated"),
});
export type Gate = z.output<typeof Gate>;

/** Evaluating the production configuration on a schedule: a drift from the last runs raises an alert. */
export const EvalSchedule = z.strictObject({
  dataset: z.string().min(1).max(100).describe('Dataset whose current version each scheduled run uses'),
  cron: z.string().min(9).max(100).refine(isValidCron, 'a five-field cron expression, e.g. "0 6 * * *"').describe('When to run (UTC)'),
  trials: z.number().int().min(1).max(50).default(3).describe('Trials per case'),
  baselineRuns: z.number().int().min(1).max(50).default(5).describe('How many previous scheduled runs make the trailing baseline'),
});
export type EvalSchedule = z.output<typeof EvalSchedule>;

/** Everything declared about a use case (API body and `tarmac.yaml` entry). */
export const UseCaseSpec = z.strictObject({
  name: UseCaseName.describe('Identifies the use case'),
  team: z.string().min(1).max(200).describe('Owning team (name)'),
  owner: z.string().min(3).max(320).describe('Email of the one accountable owner: an owner of the team'),
  description: z.string().max(2000).optional(),
  stage: z.enum(ACTIVE_STAGES).default('pilot').describe('pilot, limited or production (the stop button pauses it at run time)'),
  riskTier: z.enum(['low', 'medium', 'high', 'critical']).describe('low, medium, high or critical'),
  posture: RiskPosture.default(RiskPosture.parse({})),
  context: ContextRecipe.default(ContextRecipe.parse({})).describe('Context recipe: sources, retrieval settings, lookups, token budget, fallbacks'),
  prompt: z.string().min(1).max(100).describe('Prompt name'),
  promptLabel: z.string().min(1).max(63).default('production').describe('Prompt label the runs use'),
  route: z.string().min(1).max(200).default('default').describe('Model route (or provider/model)'),
  cohort: Cohort.default(Cohort.parse({})),
  kpis: z.array(Kpi).max(20).default([]),
  killCriteria: z.array(KillCriterion).max(20).default([]),
  evalSchedule: EvalSchedule.optional().describe('Evaluate the production configuration on a schedule, alerting on drift (docs/evaluation.md)'),
  gate: Gate.optional().describe('The promotion gate: moving to limited or production, or the prompt\'s production label, needs a passing eval run'),
});
export type UseCaseSpec = z.output<typeof UseCaseSpec>;
export type RiskPosture = z.output<typeof RiskPosture>;
export type Cohort = z.output<typeof Cohort>;

/** Every source a context recipe names, with where it names it (`context.sources[0]`…). */
export function contextSourceRefs(recipe: UseCaseSpec['context']): { path: string; ref: string }[] {
  return [
    ...(recipe.sources ?? []).map((ref, i) => ({ path: `context.sources[${i}]`, ref })),
    ...recipe.lookups.flatMap((l, i) => (l.sources ?? []).map((ref, j) => ({ path: `context.lookups[${i}].sources[${j}]`, ref }))),
    ...recipe.exclude.sources.map((ref, i) => ({ path: `context.exclude.sources[${i}]`, ref })),
  ];
}

/** A use case as the API shows it. */
export const UseCase = z.object({
  id: z.string(),
  name: z.string(),
  teamId: z.string(),
  owner: z.object({ userId: z.string(), email: z.string() }),
  description: z.string(),
  stage: z.enum(STAGES),
  resumeStage: z.enum(STAGES).nullable(),
  riskTier: z.string(),
  posture: RiskPosture,
  context: z.record(z.string(), z.unknown()),
  prompt: z.string(),
  promptLabel: z.string(),
  route: z.string(),
  cohort: Cohort,
  kpis: z.array(Kpi),
  killCriteria: z.array(KillCriterion),
  gate: Gate.nullable(),
  evalSchedule: EvalSchedule.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type UseCase = z.output<typeof UseCase>;

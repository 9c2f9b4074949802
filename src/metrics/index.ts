/**
 * Metrics: the closed sets of metric codes Tarmac computes. Evaluation metrics (what an eval run scores, what a
 * gate holds thresholds on) and derived production metrics (what kill criteria watch). Custom KPI names stay
 * free; every code here is documented in docs/evaluation.md or docs/use-cases.md (a parity test checks).
 *
 * @example
 * resolveMetric('retrieval.ndcg@10'); // 'retrieval.ndcg@10'
 * EVAL_METRICS['answer.f1'].better; // 'higher'
 */
import { z } from 'zod';

export interface MetricInfo {
  /** Which way is better: a comparison calls a change in this direction an improvement. */
  better: 'higher' | 'lower';
  /** Values lie in [0, 1] (a share or a score); others are amounts. */
  unit: 'share' | 'score' | 'ms' | 'usd' | 'tokens' | 'count';
}

/** The cut-offs at which ranked retrieval metrics are computed. */
export const RETRIEVAL_KS = [1, 3, 5, 10, 20, 100] as const;

const RANKED = ['precision', 'recall', 'ndcg'] as const;

const BASE_EVAL_METRICS = {
  pass: { better: 'higher', unit: 'share' },
  error: { better: 'lower', unit: 'share' },
  'answer.exact_match': { better: 'higher', unit: 'share' },
  'answer.f1': { better: 'higher', unit: 'score' },
  'answer.refusal': { better: 'higher', unit: 'share' },
  'answer.assertions': { better: 'higher', unit: 'share' },
  'answer.similarity': { better: 'higher', unit: 'score' },
  'groundedness.score': { better: 'higher', unit: 'score' },
  'groundedness.unsupported': { better: 'lower', unit: 'count' },
  'relevance.score': { better: 'higher', unit: 'score' },
  'decision.delivered': { better: 'higher', unit: 'share' },
  'decision.held': { better: 'lower', unit: 'share' },
  'decision.blocked': { better: 'lower', unit: 'share' },
  'judge.score': { better: 'higher', unit: 'score' },
  'judge.error': { better: 'lower', unit: 'share' },
  'retrieval.mrr': { better: 'higher', unit: 'score' },
  'retrieval.hit_rate': { better: 'higher', unit: 'share' },
  latency_ms: { better: 'lower', unit: 'ms' },
  cost_usd: { better: 'lower', unit: 'usd' },
  'tokens.input': { better: 'lower', unit: 'tokens' },
  'tokens.output': { better: 'lower', unit: 'tokens' },
} as const satisfies Record<string, MetricInfo>;

type RankedMetric = `retrieval.${(typeof RANKED)[number]}@${(typeof RETRIEVAL_KS)[number]}`;
export type EvalMetric = keyof typeof BASE_EVAL_METRICS | RankedMetric;

/** Every metric a trial of an eval run can carry, with its direction and unit. */
export const EVAL_METRICS: Readonly<Record<EvalMetric, MetricInfo>> = {
  ...BASE_EVAL_METRICS,
  ...(Object.fromEntries(RANKED.flatMap((m) => RETRIEVAL_KS.map((k) => [`retrieval.${m}@${k}`, { better: 'higher', unit: 'score' }]))) as Record<RankedMetric, MetricInfo>),
};

export const EVAL_METRIC_CODES = Object.keys(EVAL_METRICS) as EvalMetric[];

/**
 * Names a gate may use beside the metric codes: `pass_rate` is the mean of `pass`, `cost_per_case_usd` of
 * `cost_usd`, `error_rate` of `error`; `<metric>.mean` is the metric itself.
 */
export const METRIC_ALIASES: Readonly<Record<string, EvalMetric>> = {
  pass_rate: 'pass',
  error_rate: 'error',
  cost_per_case_usd: 'cost_usd',
};

export function isEvalMetric(code: string): code is EvalMetric {
  return Object.prototype.hasOwnProperty.call(EVAL_METRICS, code);
}

/** The metric a gate's name stands for, or null when it names none. */
export function resolveMetric(name: string): EvalMetric | null {
  const alias = METRIC_ALIASES[name];
  if (alias) return alias;
  if (isEvalMetric(name)) return name;
  if (name === 'groundedness.mean') return 'groundedness.score';
  const plain = name.endsWith('.mean') ? name.slice(0, -'.mean'.length) : null;
  return plain !== null && isEvalMetric(plain) ? plain : null;
}

/** Metrics derived from production runs, reviews, outcomes and spend: what kill criteria watch. */
export const DERIVED_METRICS = [
  'override_rate',
  'rejection_rate',
  'held_rate',
  'blocked_rate',
  'error_rate',
  'negative_feedback_rate',
  'acceptance_rate',
  'groundedness_p50',
  'groundedness_mean',
  'latency_p95_ms',
  'cost_per_run_usd',
  'cost_per_task_usd',
  'weekly_active_users',
] as const;
export const DerivedMetric = z.enum(DERIVED_METRICS);
export type DerivedMetric = z.output<typeof DerivedMetric>;

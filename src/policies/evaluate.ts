import type { AUTONOMY_LEVELS, PII_ACTIONS, RISK_TIERS } from './policies.schema.js';
import { CLASSIFICATIONS, type PolicyRules } from './policies.schema.js';

export type Classification = (typeof CLASSIFICATIONS)[number];
export type PiiAction = (typeof PII_ACTIONS)[number];
export type AutonomyLevel = (typeof AUTONOMY_LEVELS)[number];
export type RiskTier = (typeof RISK_TIERS)[number];

/** A classification's place from least (`public`, 0) to most sensitive; an unknown one counts as `public`. */
export function classificationRank(classification: string): number {
  return Math.max(0, (CLASSIFICATIONS as readonly string[]).indexOf(classification));
}

/** The most sensitive of some classifications (`public` when there are none). */
export function highestClassification(classifications: Iterable<string>): Classification {
  let top = 0;
  for (const c of classifications) top = Math.max(top, classificationRank(c));
  return CLASSIFICATIONS[top] ?? 'public';
}

/**
 * Whether the policy lets data of `classification` go to `provider`: a classification the policy does not list
 * goes anywhere, `*` allows every provider. No policy at all allows everything.
 */
export function egressAllows(rules: PolicyRules | null, classification: Classification, provider: string): boolean {
  const allowed = rules?.egress?.[classification];
  return !allowed || allowed.includes('*') || allowed.includes(provider);
}

/** What happens to personal data of `classification` sent to a model: the classification's rule, else the default, else allow. */
export function piiActionFor(rules: PolicyRules | null, classification: Classification): PiiAction {
  return rules?.pii?.byClassification?.[classification] ?? rules?.pii?.default ?? 'allow';
}

/** The highest autonomy an agent action may have at `riskTier` (`auto` where the policy sets no cap). */
export function maxAutonomyFor(rules: PolicyRules | null, riskTier: RiskTier): AutonomyLevel {
  return rules?.autonomy?.[riskTier] ?? 'auto';
}

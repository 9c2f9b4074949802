/**
 * Policies: platform-wide rule sets that central governance sets and every team works within.
 *
 * @example
 * const { rules } = await new PolicyService(db).get('default');
 */
export { AUTONOMY_LEVELS, CLASSIFICATIONS, PII_ACTIONS, Policy, PolicyName, PolicyRules, RISK_TIERS } from './policies.schema.js';
export {
  classificationRank,
  egressAllows,
  highestClassification,
  maxAutonomyFor,
  piiActionFor,
  type AutonomyLevel,
  type Classification,
  type PiiAction,
  type RiskTier,
} from './evaluate.js';
export { findPolicy, PolicyService, upsertPolicy } from './policies.service.js';
export { capability } from './capability.js';

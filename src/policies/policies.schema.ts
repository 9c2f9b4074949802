import { z } from 'zod';

/** Data classifications, least to most sensitive. */
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'restricted'] as const;
export const AUTONOMY_LEVELS = ['read', 'propose', 'auto'] as const;
export const RISK_TIERS = ['low', 'medium', 'high', 'critical'] as const;
export const PII_ACTIONS = ['allow', 'redact', 'pseudonymise'] as const;

const Providers = z.array(z.string().min(1)).describe('Provider names allowed for this classification; "*" allows all');

/** The rules of a policy; each section is enforced by the capability it names. */
export const PolicyRules = z.strictObject({
  egress: z
    .strictObject({
      public: Providers.optional(),
      internal: Providers.optional(),
      confidential: Providers.optional(),
      restricted: Providers.optional(),
    })
    .optional()
    .describe('Which model providers may receive data of each classification'),
  pii: z
    .strictObject({
      default: z.enum(PII_ACTIONS).optional(),
      byClassification: z
        .strictObject({
          public: z.enum(PII_ACTIONS).optional(),
          internal: z.enum(PII_ACTIONS).optional(),
          confidential: z.enum(PII_ACTIONS).optional(),
          restricted: z.enum(PII_ACTIONS).optional(),
        })
        .optional(),
    })
    .optional()
    .describe('What happens to personal data sent to a model'),
  budgets: z
    .strictObject({
      dailyUsd: z.number().nonnegative().optional(),
      monthlyUsd: z.number().nonnegative().optional(),
    })
    .optional()
    .describe('Platform-wide spend caps'),
  autonomy: z
    .strictObject({
      low: z.enum(AUTONOMY_LEVELS).optional(),
      medium: z.enum(AUTONOMY_LEVELS).optional(),
      high: z.enum(AUTONOMY_LEVELS).optional(),
      critical: z.enum(AUTONOMY_LEVELS).optional(),
    })
    .optional()
    .describe('Highest autonomy an agent action may have, per risk tier'),
  retention: z
    .strictObject({
      auditDays: z.number().int().min(1).optional(),
      traceDays: z.number().int().min(1).optional(),
    })
    .optional()
    .describe('How long audit entries and traces are kept'),
});
export type PolicyRules = z.infer<typeof PolicyRules>;

export const PolicyName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/** A platform policy as the API shows it. */
export const Policy = z.object({ name: z.string(), description: z.string(), rules: PolicyRules, createdAt: z.string(), updatedAt: z.string() });
export type Policy = z.output<typeof Policy>;

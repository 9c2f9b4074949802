import { z } from 'zod';
import { CLASSIFICATIONS } from '../policies/index.js';

const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
const RouteName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, dots, colons and dashes, at most 128; no slash');
const Money = z.number().nonnegative();

/** Built-in provider types. `local` is always present and needs no declaration. */
export const PROVIDER_TYPES = ['openai-compatible', 'anthropic', 'gemini', 'bedrock'] as const;

const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name');

/** The AWS region of a Bedrock runtime endpoint such as https://bedrock-runtime.eu-west-1.amazonaws.com. */
export function regionOfBedrockUrl(baseUrl: string): string | null {
  return /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(baseUrl).hostname)?.[1] ?? null;
}

export const GatewayAws = z.strictObject({
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region such as eu-west-1')
    .optional()
    .describe('Region the requests are signed for (default: from a bedrock-runtime.<region>.amazonaws.com base URL)'),
  accessKeyIdEnv: EnvName.describe('Environment variable holding the AWS access key id'),
  secretAccessKeyEnv: EnvName.describe('Environment variable holding the AWS secret access key'),
  sessionTokenEnv: EnvName.optional().describe('Environment variable holding an AWS session token (temporary credentials)'),
});

export const GatewayProvider = z.strictObject({
  name: Name.describe('Identifies the provider in routes, egress policies and `provider/model` names'),
  type: z.enum(PROVIDER_TYPES).describe('Wire format: openai-compatible, anthropic, gemini or bedrock'),
  baseUrl: z.url().describe('Base URL of the API, such as https://api.openai.com/v1'),
  apiKeyEnv: EnvName.optional().describe('Environment variable holding the provider API key (never the key itself)'),
  aws: GatewayAws.optional().describe('bedrock only: sign requests with AWS Signature V4 using credentials from these environment variables'),
  models: z.array(z.string().min(1)).optional().describe('Models listed by GET /v1/models as provider/model'),
});

export const GatewayTarget = z.strictObject({
  provider: z.string().min(1).describe('A declared provider, or local'),
  model: z.string().min(1).describe('Model name sent to the provider'),
  weight: z.number().int().min(0).max(1000).optional().describe('Relative share of first attempts (weighted load balancing)'),
  timeoutMs: z.number().int().min(1).max(600_000).optional().describe('Per-attempt timeout; for streams, until the first token (default 60000)'),
});

export const GatewayRoute = z.strictObject({
  name: RouteName.describe('Clients select the route with "model": "<name>"'),
  targets: z.array(GatewayTarget).min(1).describe('Ordered targets; later ones are fallbacks'),
  retries: z.number().int().min(0).max(10).optional().describe('Retries per target on 429, 5xx and timeouts (default 1)'),
  backoffMs: z.number().int().min(0).max(60_000).optional().describe('First retry delay, doubled per retry (default 200)'),
  cacheTtlSeconds: z.number().int().min(1).max(86_400).optional().describe('Exact-match response cache per team for this route; absent means no cache'),
});

export const GatewayBudget = z.strictObject({
  scope: z.enum(['global', 'team', 'key', 'useCase']).describe('What the limit applies to'),
  name: z.string().min(1).optional().describe('Team name, key id or use-case name; absent for global'),
  dailyUsd: Money.optional().describe('USD per UTC day'),
  monthlyUsd: Money.optional().describe('USD per UTC month'),
  requestsPerMinute: z.number().int().min(1).optional().describe('Requests per minute'),
  tokensPerMinute: z.number().int().min(1).optional().describe('Input plus output tokens per minute'),
});

export const GatewayPrice = z.strictObject({
  model: z.string().min(1).describe('provider/model, or a model name that applies to every provider'),
  inputPerMillion: Money.describe('USD per million input tokens'),
  outputPerMillion: Money.describe('USD per million output tokens'),
  cachedInputPerMillion: Money.optional().describe('USD per million cached input tokens (default: the input price)'),
});

export const GatewayBreaker = z.strictObject({
  errorRatio: z.number().min(0.01).max(1).optional().describe('Opens when this share of recent attempts failed (default 0.5)'),
  minRequests: z.number().int().min(1).optional().describe('Attempts needed in the window before it may open (default 10)'),
  windowSeconds: z.number().int().min(1).optional().describe('How far back attempts count (default 30)'),
  openSeconds: z.number().int().min(1).optional().describe('How long it stays open before a half-open probe (default 30)'),
});

/** The `gateway` section of `tarmac.yaml`. */
export const GatewayConfig = z
  .strictObject({
    providers: z.array(GatewayProvider).default([]).describe('Model providers besides the built-in local one'),
    routes: z.array(GatewayRoute).default([]).describe('Named routes with fallbacks'),
    defaultClassification: z.enum(CLASSIFICATIONS).optional().describe('Classification of requests without x-tarmac-classification (default internal)'),
    policy: z.string().min(1).optional().describe('Policy whose egress, pii and budgets sections apply (default: default)'),
    budgets: z.array(GatewayBudget).default([]).describe('Spend caps and rate limits'),
    prices: z.array(GatewayPrice).default([]).describe('Price overrides; the bundled price table covers the rest'),
    breaker: GatewayBreaker.optional().describe('Circuit breaker per provider and model'),
    reserveOutputTokens: z.number().int().min(1).optional().describe('Output tokens reserved against budgets when max_tokens is absent (default 1024)'),
  })
  .superRefine((g, ctx) => {
    const names = new Set<string>(['local']);
    g.providers.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['providers', i, 'name'], message: `duplicate provider ${p.name}` });
      names.add(p.name);
      if (p.aws && p.type !== 'bedrock') ctx.addIssue({ code: 'custom', path: ['providers', i, 'aws'], message: 'aws credentials apply to bedrock providers only' });
      if (p.aws && p.apiKeyEnv) ctx.addIssue({ code: 'custom', path: ['providers', i, 'apiKeyEnv'], message: 'use either apiKeyEnv (a Bedrock API key) or aws (Signature V4), not both' });
      if (p.aws && !p.aws.region && !regionOfBedrockUrl(p.baseUrl)) {
        ctx.addIssue({ code: 'custom', path: ['providers', i, 'aws', 'region'], message: 'aws.region is required when baseUrl is not a bedrock-runtime.<region>.amazonaws.com endpoint' });
      }
    });
    const routes = new Set<string>();
    g.routes.forEach((r, i) => {
      if (routes.has(r.name)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `duplicate route ${r.name}` });
      routes.add(r.name);
      r.targets.forEach((t, j) => {
        if (!names.has(t.provider)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'targets', j, 'provider'], message: `unknown provider ${t.provider}` });
      });
    });
    g.budgets.forEach((b, i) => {
      if ((b.scope === 'global') !== (b.name === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['budgets', i, 'name'], message: b.scope === 'global' ? 'a global budget has no name' : `a ${b.scope} budget needs a name` });
      }
    });
  });
export type GatewayConfig = z.output<typeof GatewayConfig>;
export type GatewayRoute = z.output<typeof GatewayRoute>;
export type GatewayTarget = z.output<typeof GatewayTarget>;
export type GatewayProvider = z.output<typeof GatewayProvider>;
export type GatewayBudget = z.output<typeof GatewayBudget>;
export type GatewayPrice = z.output<typeof GatewayPrice>;

export const EMPTY_GATEWAY_CONFIG: GatewayConfig = { providers: [], routes: [], budgets: [], prices: [] };

export const SPEND_GROUPS = ['team', 'key', 'model', 'day', 'usecase'] as const;
export type SpendGroup = (typeof SPEND_GROUPS)[number];

/** One row of `GET /api/v1/spend`: the groups asked for (null when not grouped by it) and their totals. */
export const SpendRow = z.object({
  team: z.string().nullable(),
  key: z.string().nullable(),
  model: z.string().nullable(),
  day: z.string().nullable(),
  usecase: z.string().nullable().describe('The use case traces recorded (`x-tarmac-use-case`, or the run\'s use case)'),
  requests: z.number(),
  errors: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
  estimatedCostUsd: z.number(),
});
export type SpendRow = z.output<typeof SpendRow>;

export const SpendReport = z.object({ groupBy: z.array(z.enum(SPEND_GROUPS)), rows: z.array(SpendRow) });

/** OpenAI's model list, as `GET /v1/models` answers. */
export const ModelList = z.object({
  object: z.literal('list'),
  data: z.array(z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() })),
});
export type ModelList = z.output<typeof ModelList>;

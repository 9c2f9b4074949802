import type { Database, Queryable } from '../db/index.js';
import { listTeams } from '../identity/index.js';
import type { PolicyRules } from '../policies/index.js';
import { findPolicy } from '../policies/index.js';
import { EMPTY_GATEWAY_CONFIG, GatewayConfig, regionOfBedrockUrl } from './gateway.schema.js';
import { PriceTable } from './prices.js';
import { AnthropicProvider } from './providers/anthropic.js';
import { BedrockProvider } from './providers/bedrock.js';
import { GeminiProvider } from './providers/gemini.js';
import { LocalProvider } from './providers/local-extractive.js';
import { OpenAiCompatibleProvider } from './providers/openai-compatible.js';
import type { Provider } from './providers/provider.js';
import { SigV4Signer } from './providers/sigv4.js';

/** The gateway's configuration as it serves requests: parsed, with providers built and names resolved. */
export interface LoadedGateway {
  config: GatewayConfig;
  providers: Map<string, Provider>;
  prices: PriceTable;
  policyName: string;
  policy: PolicyRules | null;
  teamIdByName: Map<string, string>;
  teamNameById: Map<string, string>;
}

/** Whether a `gateway` section was ever applied. */
export async function hasGatewayConfig(q: Queryable): Promise<boolean> {
  return (await q.query('select 1 from gateway_config where id = 1')).rows.length > 0;
}

/** Stores the `gateway` section, in the caller's transaction (`tarmac apply`). */
export async function writeGatewayConfig(q: Queryable, config: unknown): Promise<void> {
  await q.query('insert into gateway_config (id, config) values (1, $1) on conflict (id) do update set config = excluded.config, updated_at = now()', [JSON.stringify(config)]);
}

/** Reads the stored `gateway` section (applied from tarmac.yaml), or the empty one. */
export async function storedGatewayConfig(db: Pick<Database, 'query'>): Promise<GatewayConfig> {
  const row = (await db.query<{ config: unknown }>('select config from gateway_config where id = 1')).rows[0];
  return row ? GatewayConfig.parse(row.config) : EMPTY_GATEWAY_CONFIG;
}

/** Builds the gateway from what the database holds; provider keys come from the environment. */
export async function loadGateway(db: Database, env: NodeJS.ProcessEnv): Promise<LoadedGateway> {
  const config = await storedGatewayConfig(db);
  const providers = new Map<string, Provider>([['local', new LocalProvider()]]);
  for (const p of config.providers) {
    const signer = p.aws ? new SigV4Signer(p.name, 'bedrock', { ...p.aws, region: p.aws.region ?? regionOfBedrockUrl(p.baseUrl) ?? '' }, env) : undefined;
    const options = { name: p.name, baseUrl: p.baseUrl, apiKey: p.apiKeyEnv ? env[p.apiKeyEnv] : undefined, signer };
    const BUILD = { 'openai-compatible': OpenAiCompatibleProvider, anthropic: AnthropicProvider, gemini: GeminiProvider, bedrock: BedrockProvider } as const;
    providers.set(p.name, new BUILD[p.type](options));
  }
  const policyName = config.policy ?? 'default';
  const policy = await findPolicy(db, policyName);
  const teams = await listTeams(db);
  return {
    config,
    providers,
    prices: new PriceTable(config.prices),
    policyName,
    policy: policy?.rules ?? null,
    teamIdByName: new Map(teams.map((t) => [t.name, t.id])),
    teamNameById: new Map(teams.map((t) => [t.id, t.name])),
  };
}

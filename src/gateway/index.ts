/**
 * Gateway: the OpenAI-compatible gateway. Providers (openai-compatible, anthropic, gemini, bedrock and the built-in
 * `local/extractive`),
 * the price table, routes with fallbacks, retries and circuit breakers, budgets and rate limits held in the
 * database, egress and PII rules from the policy, batched traces and spend reports.
 *
 * @example
 * const gateway = new GatewayService(db);
 * const result = await gateway.chat(caller, { model: 'local/extractive', messages });
 */
export { GatewayConfig, ModelList, SPEND_GROUPS, SpendReport, SpendRow, type GatewayRoute, type GatewayTarget, type SpendGroup } from './gateway.schema.js';
export { hasGatewayConfig, storedGatewayConfig, writeGatewayConfig } from './config.js';
export { GatewayService, type ChatResult, type ChatStream, type GatewayCaller, type GatewayOptions } from './gateway.service.js';
export { openAiErrorType } from './gateway.routes.js';
export { PriceTable, bundledPrices, type Price } from './prices.js';
export { extractiveAnswer, LocalProvider } from './providers/local-extractive.js';
export { AnthropicProvider } from './providers/anthropic.js';
export { BedrockProvider } from './providers/bedrock.js';
export { GeminiProvider } from './providers/gemini.js';
export { OpenAiCompatibleProvider } from './providers/openai-compatible.js';
export { ProviderError, type Provider } from './providers/provider.js';
export { spend, type SpendQuery } from './spend.js';
export type { GatewayTrace } from './traces.js';
export { readTrace, TraceView } from './trace-view.js';
export { TraceJournal } from './traces.js';
export type { TraceRetentionResult } from './retention.js';
export { capability } from './capability.js';

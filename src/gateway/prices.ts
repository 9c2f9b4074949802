import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { GatewayPrice } from './gateway.schema.js';

/** USD per million tokens. */
export interface Price {
  input: number;
  output: number;
  cachedInput: number;
}

export interface Cost {
  usd: number;
  /** Usage was counted by Tarmac (the provider reported none). */
  estimated: boolean;
  /** The model has a price (bundled or overridden). */
  priced: boolean;
}

let bundled: Map<string, Price> | null = null;

/** The bundled price table (src/gateway/prices.yaml), read once. */
export function bundledPrices(): Map<string, Price> {
  if (bundled) return bundled;
  const file = parse(readFileSync(new URL('./prices.yaml', import.meta.url), 'utf8')) as { models: Record<string, { input: number; output: number; cachedInput?: number }> };
  bundled = new Map(Object.entries(file.models).map(([model, p]) => [model, { input: p.input, output: p.output, cachedInput: p.cachedInput ?? p.input }]));
  return bundled;
}

/**
 * Prices per model: overrides from tarmac.yaml (by `provider/model`, then by model) before the bundled table.
 *
 * @example
 * const cost = new PriceTable([]).cost('openai', 'gpt-4o-mini', { input: 1000, output: 200, cached: 0 }, false);
 */
export class PriceTable {
  private readonly overrides: Map<string, Price>;

  constructor(overrides: readonly GatewayPrice[]) {
    this.overrides = new Map(
      overrides.map((p) => [p.model, { input: p.inputPerMillion, output: p.outputPerMillion, cachedInput: p.cachedInputPerMillion ?? p.inputPerMillion }]),
    );
  }

  price(provider: string, model: string): Price | null {
    return this.overrides.get(`${provider}/${model}`) ?? this.overrides.get(model) ?? bundledPrices().get(model) ?? null;
  }

  /** Cost of one call; cached input tokens are part of `input` and billed at the cached price. */
  cost(provider: string, model: string, tokens: { input: number; output: number; cached: number }, estimated: boolean): Cost {
    const p = this.price(provider, model);
    if (!p) return { usd: 0, estimated, priced: false };
    const cached = Math.min(tokens.cached, tokens.input);
    const usd = ((tokens.input - cached) * p.input + cached * p.cachedInput + tokens.output * p.output) / 1_000_000;
    return { usd: Math.round(usd * 1e9) / 1e9, estimated, priced: true };
  }
}

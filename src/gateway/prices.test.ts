import { describe, expect, it } from 'vitest';
import { bundledPrices, PriceTable } from './prices.js';

describe('PriceTable', () => {
  it('prices usage from the bundled table, cached input at the cached price', () => {
    const table = new PriceTable([]);
    expect(bundledPrices().get('gpt-4o-mini')).toEqual({ input: 0.15, output: 0.6, cachedInput: 0.075 });
    // 1000 input of which 400 cached, 500 output.
    const cost = table.cost('openai', 'gpt-4o-mini', { input: 1000, output: 500, cached: 400 }, false);
    expect(cost.usd).toBeCloseTo((600 * 0.15 + 400 * 0.075 + 500 * 0.6) / 1e6, 12);
    expect(cost).toMatchObject({ estimated: false, priced: true });
  });

  it('prefers provider/model overrides, then model overrides, then the bundle; unknown models cost 0', () => {
    const table = new PriceTable([
      { model: 'gpt-4o-mini', inputPerMillion: 1, outputPerMillion: 2 },
      { model: 'azure/gpt-4o-mini', inputPerMillion: 3, outputPerMillion: 4, cachedInputPerMillion: 0 },
    ]);
    expect(table.price('openai', 'gpt-4o-mini')).toEqual({ input: 1, output: 2, cachedInput: 1 });
    expect(table.price('azure', 'gpt-4o-mini')).toEqual({ input: 3, output: 4, cachedInput: 0 });
    expect(table.price('openai', 'gpt-4o')?.input).toBe(2.5);
    expect(table.cost('vllm', 'llama-3', { input: 10, output: 10, cached: 0 }, true)).toEqual({ usd: 0, estimated: true, priced: false });
  });
});

import { describe, expect, it } from 'vitest';
import { orderTargets } from './router.js';
import { sseData } from './providers/sse.js';
import { extractiveAnswer } from './providers/local-extractive.js';

describe('orderTargets', () => {
  const a = { provider: 'p', model: 'a', weight: 3 };
  const b = { provider: 'p', model: 'b', weight: 1 };
  const c = { provider: 'p', model: 'c' };

  it('keeps the declared order without weights', () => {
    expect(orderTargets([c, { ...c, model: 'd' }]).map((t) => t.model)).toEqual(['c', 'd']);
  });

  it('draws weighted targets by weight, then the unweighted ones as fallbacks', () => {
    expect(orderTargets([c, a, b], () => 0.1).map((t) => t.model)).toEqual(['a', 'b', 'c']);
    expect(orderTargets([c, a, b], () => 0.8).map((t) => t.model)).toEqual(['b', 'a', 'c']);
    let firstA = 0;
    let i = 0;
    const random = () => ((i++ * 7919) % 1000) / 1000;
    for (let n = 0; n < 1000; n++) if (orderTargets([a, b], random)[0]?.model === 'a') firstA++;
    expect(firstA).toBeGreaterThan(650);
    expect(firstA).toBeLessThan(850);
  });
});

describe('sseData', () => {
  async function* bytes(...pieces: string[]) {
    for (const p of pieces) yield new TextEncoder().encode(p);
  }

  it('joins events split across reads and skips comments and event names', async () => {
    const out: string[] = [];
    for await (const d of sseData(bytes(': ping\n\nevent: x\nda', 'ta: {"a":1}\r\n\r\ndata: [DONE]\n\n', 'data: tail'))) out.push(d);
    expect(out).toEqual(['{"a":1}', '[DONE]', 'tail']);
  });
});

describe('extractiveAnswer', () => {
  it('quotes the best-supported sentences in their order and says it found none otherwise', () => {
    const messages = [
      { role: 'system', content: 'Roof claims need photos. The office is in Leeds. Hail damage to a roof is covered up to 10,000 EUR.' },
      { role: 'assistant', content: 'Roof hail photos are great.' },
      { role: 'user', content: 'Is hail damage to my roof covered?' },
    ];
    expect(extractiveAnswer(messages)).toBe('Extractive answer (quoted from the provided messages, not generated): "Hail damage to a roof is covered up to 10,000 EUR."');
    // a second sentence is quoted when it scores at least half the best: words every sentence shares weigh little
    expect(extractiveAnswer([{ role: 'system', content: 'Hail damage to roofs needs photos. Hail damage to a roof is covered up to 10,000 EUR. The office is in Leeds.' }, messages[2]!])).toBe(
      'Extractive answer (quoted from the provided messages, not generated): "Hail damage to roofs needs photos." "Hail damage to a roof is covered up to 10,000 EUR."',
    );
    expect(extractiveAnswer([{ role: 'user', content: 'Anything?' }])).toContain('no sentence in the provided messages supports');
  });

  it('says the context holds no answer when no passage holds what the question asks about', () => {
    const context = '[1] kb/pets.md v1\nHarbor Mutual insurance covers homes.\n\n[2] kb/roofs.md v1\nHarbor Mutual insurance limits roofs to 20 years.';
    const ask = (question: string) => extractiveAnswer([{ role: 'system', content: `Context:\n${context}` }, { role: 'user', content: question }]);
    // the company's name and "insurance" are in every passage; pet health benefits in none
    expect(ask("What is the maximum benefit of Harbor Mutual's pet health insurance?")).toBe(
      'Extractive answer (quoted, not generated): no sentence in the provided messages supports an answer to this question.',
    );
    expect(ask('What limit does Harbor Mutual set on roof age?')).toBe('Extractive answer (quoted from the provided messages, not generated): "Harbor Mutual insurance limits roofs to 20 years." [2]');
  });

  it('quotes numbered context passages, not the instructions around them', () => {
    const messages = [
      { role: 'system', content: 'You answer roof questions for Harbor Mutual.\n\nContext:\n[1] kb/roofs.md v1\nHarbor Mutual writes roofs up to 20 years old.\n\n[2] kb/pools.md v1\nPools need a fence.' },
      { role: 'user', content: 'How old may roofs be at Harbor Mutual?' },
    ];
    expect(extractiveAnswer(messages)).toBe('Extractive answer (quoted from the provided messages, not generated): "Harbor Mutual writes roofs up to 20 years old." [1]');
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and ignores garbage', async () => {
    const { retryAfterMs } = await import('./providers/provider.js');
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs('0')).toBe(0);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterMs(inTen)).toBeGreaterThan(8000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });
});

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
    // "Roof claims need photos." shares one word with the question, under half the best sentence's weight
    expect(extractiveAnswer(messages)).toBe('Extractive answer (quoted from the provided messages, not generated): "Hail damage to a roof is covered up to 10,000 EUR."');
    expect(extractiveAnswer([{ role: 'user', content: 'Anything?' }])).toContain('no sentence in the provided messages supports');
  });

  it('weighs the question\'s words by how few passages hold them', () => {
    const company = (n: number, what: string) => `[${n}] kb/${what}.md v1\nHarbor Mutual insurance policy for ${what}.`;
    const context = [company(1, 'homes'), company(2, 'cars'), company(3, 'boats'), '[4] kb/roofs.md v1\nRoof age limits: 20 years for shingles.'].join('\n\n');
    const ask = (question: string) => extractiveAnswer([{ role: 'system', content: `Context:\n${context}` }, { role: 'user', content: question }]);
    // three passages share four of the question's words, one passage three rarer ones: counted, the roof sentence
    // would come fourth and not be quoted; weighed, it is the best
    expect(ask('What roof age limits does a Harbor Mutual insurance policy set?')).toContain('"Roof age limits: 20 years for shingles." [4]');
    expect(ask('Are pets covered?')).toContain('no sentence in the provided messages supports');
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

import { describe, expect, it } from 'vitest';
import { checkRelevance } from './relevance.js';

const passages = [
  { id: '1', text: 'A standard homeowners policy may be written for roofs up to 20 years old.' },
  { id: '2', text: 'Pools must be fenced with a self-latching gate at least 4 feet high.' },
  { id: '3', text: 'Roofs older than 20 years require an inspection before binding.' },
];

describe('answer relevance', () => {
  it('scores an answer that addresses the question high, and one that does not low', () => {
    const on = checkRelevance('For which roofs may a standard homeowners policy be written?', passages[0]!.text, passages, ['1']);
    const off = checkRelevance('Do you insure spaceships older than 20 years?', passages[2]!.text, passages, ['3']);
    expect(on.score).toBeGreaterThan(0.5);
    expect(off.score).toBeLessThan(0.5);
    expect(off.missing).toEqual(['insure', 'spaceships']);
  });

  it('weighs a word every passage holds less than one no passage holds', () => {
    const context = [
      { id: '1', text: 'Harbor Mutual writes homeowners insurance.' },
      { id: '2', text: 'Harbor Mutual writes auto insurance.' },
    ];
    // Same words missing and held, but "cyber" is what the context lacks, "Harbor" what every passage has.
    const lacksTopic = checkRelevance('Does Harbor offer cyber?', 'Harbor Mutual writes auto insurance.', context, ['2']);
    const lacksName = checkRelevance('Does Harbor offer auto?', 'Mutual writes auto insurance.', [{ id: '1', text: 'Mutual writes auto insurance.' }, context[0]!], ['1']);
    expect(lacksTopic.score).toBeLessThan(lacksName.score);
  });

  it('reads the passages that support the answer, not only its words', () => {
    const terse = checkRelevance('What is the maximum roof age for a standard homeowners policy?', '20 years.', passages, ['1']);
    const unsupported = checkRelevance('What is the maximum roof age for a standard homeowners policy?', '20 years.', passages, []);
    expect(terse.score).toBeGreaterThan(0.5);
    expect(unsupported.score).toBeLessThan(0.2);
    expect(terse.contextScore).toBe(unsupported.contextScore);
  });

  it('leaves out the word that asks the question ("how often") and counts a question without content words as answered', () => {
    const withHow = checkRelevance('How often must pools be fenced?', passages[1]!.text, passages, ['2']);
    expect(withHow.missing).toEqual([]);
    expect(withHow.score).toBe(1);
    expect(checkRelevance('What is it?', 'Anything.', passages, []).score).toBe(1);
  });
});

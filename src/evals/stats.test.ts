import { describe, expect, it } from 'vitest';
import { bootstrapMean, casesNeeded, ksTest, pairedBootstrap, proportionTest, seededRandom } from './stats.js';
import { isRefusal, retrievalMetrics, tokenF1 } from './score.js';

/** Cases whose trials pass with a case-specific probability: a noisy model on a mixed dataset. */
function noisyRun(random: () => number, probabilities: number[], trials: number): number[][] {
  return probabilities.map((p) => Array.from({ length: trials }, () => (random() < p ? 1 : 0)));
}

describe('bootstrap intervals', () => {
  it('reports an A/A difference as a change no more often than the 95% level allows', () => {
    const random = seededRandom(7);
    const repetitions = 300;
    let changed = 0;
    let regressed = 0;
    for (let r = 0; r < repetitions; r++) {
      const p = Array.from({ length: 40 }, () => random());
      const a = noisyRun(random, p, 5);
      const b = noisyRun(random, p, 5);
      const d = pairedBootstrap(a, b, { resamples: 400, seed: r });
      if (d.low! > 0 || d.high! < 0) changed++;
      if (d.high! < 0) regressed++;
    }
    // 5% expected two-sided, 2.5% on the regression side; the margins are three binomial standard deviations.
    expect(changed / repetitions).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / repetitions));
    expect(regressed / repetitions).toBeLessThanOrEqual(0.025 + 3 * Math.sqrt((0.025 * 0.975) / repetitions));
  });

  it('detects a real difference', () => {
    const random = seededRandom(11);
    const p = Array.from({ length: 60 }, () => 0.3 + 0.5 * random());
    const a = noisyRun(random, p, 5);
    const b = noisyRun(random, p.map((x) => x - 0.2), 5);
    const d = pairedBootstrap(a, b, { resamples: 1000, seed: 1 });
    expect(d.high!).toBeLessThan(0);
  });

  it('covers the true mean about 95% of the time, and never returns NaN', () => {
    const random = seededRandom(3);
    let covered = 0;
    const repetitions = 200;
    for (let r = 0; r < repetitions; r++) {
      const run = noisyRun(random, Array.from({ length: 50 }, () => 0.6), 4);
      const i = bootstrapMean(run, { resamples: 400, seed: r });
      if (i.low! <= 0.6 && 0.6 <= i.high!) covered++;
    }
    expect(covered / repetitions).toBeGreaterThan(0.88);
    expect(bootstrapMean([], { resamples: 10, seed: 1 })).toEqual({ mean: null, low: null, high: null, cases: 0 });
    expect(bootstrapMean([[], []], { resamples: 10, seed: 1 }).mean).toBeNull();
    expect(pairedBootstrap([[1]], [[]], { resamples: 10, seed: 1 }).difference).toBeNull();
  });

  it('says how many cases would decide an interval that straddles a threshold', () => {
    expect(casesNeeded({ mean: 0.85, low: 0.75, high: 0.95, cases: 40 }, 0.8)).toBe(160);
    expect(casesNeeded({ mean: 0.8, low: 0.7, high: 0.9, cases: 40 }, 0.8)).toBeNull();
  });
});

describe('metrics', () => {
  it('computes token F1 as SQuAD does', () => {
    expect(tokenF1('Roofs up to 20 years.', 'roofs up to 20 years')).toBe(1);
    expect(tokenF1('twenty', '20 years')).toBe(0);
    expect(tokenF1('up to 20', 'up to 20 years old')).toBeCloseTo((2 * 1 * 0.6) / 1.6, 9);
  });

  it('detects answers that decline, the built-in model\'s among them', () => {
    expect(isRefusal('Extractive answer (quoted, not generated): no sentence in the provided messages supports an answer to this question.', 'delivered')).toBe(true);
    expect(isRefusal("I don't know: the context does not say.", 'delivered')).toBe(true);
    expect(isRefusal('Roofs up to 20 years old.', 'delivered')).toBe(false);
    expect(isRefusal('Roofs up to 20 years old.', 'blocked')).toBe(true);
  });

  it('computes ranked retrieval metrics with binary relevance', () => {
    const ranked = ['a', 'b', 'c'].map((documentId) => ({ source: 'kb', documentId }));
    const m = retrievalMetrics(ranked, ['b', 'kb/z']);
    expect(m['retrieval.mrr']).toBe(0.5);
    expect(m['retrieval.hit_rate']).toBe(1);
    expect(m['retrieval.precision@3']).toBeCloseTo(1 / 3, 9);
    expect(m['retrieval.recall@3']).toBe(0.5);
    expect(m['retrieval.ndcg@3']).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 9);
    expect(retrievalMetrics(ranked, [])).toEqual({});
  });
});

describe('two-sample tests', () => {
  it('finds no shift between samples of one distribution, and finds a real one', () => {
    const random = seededRandom(5);
    const same = Array.from({ length: 400 }, () => random());
    const also = Array.from({ length: 400 }, () => random());
    const shifted = Array.from({ length: 400 }, () => random() * 0.7);
    expect(ksTest(same, also)!.pValue).toBeGreaterThan(0.05);
    expect(ksTest(same, shifted)!.pValue).toBeLessThan(0.001);
    // Known value: D = 0.5 for these, p ≈ 0.0366 by the asymptotic formula with the small-sample correction.
    expect(ksTest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15])!.statistic).toBe(0.5);
    expect(ksTest([], [1])).toBeNull();
  });

  it('compares two proportions', () => {
    expect(proportionTest(50, 100, 50, 100)!.pValue).toBeCloseTo(1, 6);
    // z = (0.6 − 0.4) / sqrt(0.5 · 0.5 · 0.02) ≈ 2.828, two-sided p ≈ 0.00468.
    const t = proportionTest(60, 100, 40, 100)!;
    expect(t.statistic).toBeCloseTo(2.828427, 5);
    expect(t.pValue).toBeCloseTo(0.004678, 4);
  });
});

import type { z } from 'zod';
import type { Interval as IntervalShape, PairedInterval as PairedShape } from './evals.schema.js';

/** A mean with its bootstrap 95% interval; every figure is null when there is nothing to compute it from. */
export type Interval = z.output<typeof IntervalShape>;

/** A seeded uniform generator in [0, 1) (mulberry32): the same eval run gives the same intervals. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A 32-bit seed from a string (FNV-1a). */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] as number;
  return s / xs.length;
};

/** One case's trials prepared for resampling: constant trials (a deterministic model) resample to themselves. */
interface Prepared {
  values: Float64Array;
  mean: number;
  constant: boolean;
}

function prepare(trials: number[]): Prepared {
  const values = Float64Array.from(trials);
  const m = mean(values);
  return { values, mean: m, constant: values.every((v) => v === values[0]) };
}

/** The mean of a case's trials resampled with replacement (the nested level of the bootstrap). */
function resampleCase(p: Prepared, random: () => number): number {
  if (p.constant) return p.mean;
  const n = p.values.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += p.values[Math.floor(random() * n)] as number;
  return s / n;
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

const round = (x: number) => Math.round(x * 1e9) / 1e9;

/** Case indices drawn with replacement, `resamples` rows of `n`: one plan serves every metric of a run. */
export function resamplePlan(n: number, resamples: number, seed: number): Uint32Array {
  const random = seededRandom(seed);
  const plan = new Uint32Array(n * resamples);
  for (let i = 0; i < plan.length; i++) plan[i] = Math.floor(random() * n);
  return plan;
}

/**
 * The mean over cases of each case's mean over trials, with a percentile bootstrap 95% interval: cases are
 * resampled with replacement, and within each drawn case its trials are (the nested, two-level bootstrap).
 * Cases without values are left out of each resampled mean. `plan` (from {@link resamplePlan} over these cases)
 * lets several metrics share the case draws.
 */
export function bootstrapMean(cases: number[][], options: { resamples: number; seed: number; plan?: Uint32Array }): Interval {
  const prepared = cases.map((t) => (t.length > 0 ? prepare(t) : null));
  const present = prepared.filter((p): p is Prepared => p !== null);
  if (present.length === 0) return { mean: null, low: null, high: null, cases: 0 };
  const point = mean(present.map((p) => p.mean));
  if (present.length === 1 && present[0]!.constant) return { mean: round(point), low: round(point), high: round(point), cases: 1 };
  const n = prepared.length;
  const plan = options.plan ?? resamplePlan(n, options.resamples, options.seed);
  const random = seededRandom(options.seed ^ 0x9e3779b9);
  const stats = new Float64Array(options.resamples);
  for (let b = 0; b < options.resamples; b++) {
    let s = 0;
    let count = 0;
    const row = b * n;
    for (let i = 0; i < n; i++) {
      const p = prepared[plan[row + i]!];
      if (!p) continue;
      s += resampleCase(p, random);
      count++;
    }
    stats[b] = count > 0 ? s / count : point;
  }
  stats.sort();
  return { mean: round(point), low: round(percentile(stats, 0.025)), high: round(percentile(stats, 0.975)), cases: present.length };
}

/** A paired difference (b − a) with its bootstrap 95% interval. */
export type PairedInterval = z.output<typeof PairedShape>;

/**
 * The paired bootstrap of b − a over the cases both runs scored: each resample draws cases with replacement and,
 * inside each case, both runs' trials, so the interval holds the noise of repeated trials as well as of cases.
 * `plan` (over the aligned cases) lets several metrics share the case draws.
 */
export function pairedBootstrap(a: number[][], b: number[][], options: { resamples: number; seed: number; plan?: Uint32Array }): PairedInterval {
  const n = Math.max(a.length, b.length);
  const pairs: ([Prepared, Prepared] | null)[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    pairs.push(x && y && x.length > 0 && y.length > 0 ? [prepare(x), prepare(y)] : null);
  }
  const present = pairs.filter((p): p is [Prepared, Prepared] => p !== null);
  if (present.length === 0) return { difference: null, low: null, high: null, cases: 0 };
  const point = mean(present.map(([x, y]) => y.mean - x.mean));
  if (present.every(([x, y]) => x.constant && y.constant && x.mean === y.mean)) return { difference: 0, low: 0, high: 0, cases: present.length };
  const plan = options.plan ?? resamplePlan(n, options.resamples, options.seed);
  const random = seededRandom(options.seed ^ 0x9e3779b9);
  const stats = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) {
    let s = 0;
    let count = 0;
    const row = r * n;
    for (let i = 0; i < n; i++) {
      const pair = pairs[plan[row + i]!];
      if (!pair) continue;
      s += resampleCase(pair[1], random) - resampleCase(pair[0], random);
      count++;
    }
    stats[r] = count > 0 ? s / count : point;
  }
  stats.sort();
  return { difference: round(point), low: round(percentile(stats, 0.025)), high: round(percentile(stats, 0.975)), cases: present.length };
}

/**
 * How many cases would narrow the interval enough to decide against a threshold, by the normal approximation:
 * the half-width shrinks with the square root of the cases. Null when the mean sits on the threshold.
 */
export function casesNeeded(interval: Interval, threshold: number): number | null {
  if (interval.mean === null || interval.low === null || interval.high === null) return null;
  const gap = Math.abs(interval.mean - threshold);
  const half = (interval.high - interval.low) / 2;
  if (gap === 0 || half === 0) return null;
  return Math.ceil(interval.cases * (half / gap) ** 2 - 1e-9);
}

/** The two-sample Kolmogorov–Smirnov test: the largest gap between the empirical CDFs, and its p-value. */
export function ksTest(a: readonly number[], b: readonly number[]): { statistic: number; pValue: number } | null {
  if (a.length === 0 || b.length === 0) return null;
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < x.length && x[i]! <= v) i++;
    while (j < y.length && y[j]! <= v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const en = Math.sqrt((x.length * y.length) / (x.length + y.length));
  const lambda = (en + 0.12 + 0.11 / en) * d;
  // The asymptotic Kolmogorov distribution, Q(λ) = 2 Σ (−1)^(k−1) exp(−2k²λ²).
  let p = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    p += term;
    if (Math.abs(term) < 1e-10) break;
  }
  return { statistic: round(d), pValue: round(Math.min(1, Math.max(0, lambda < 0.2 ? 1 : p))) };
}

/** erfc by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7). */
function erfc(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return x >= 0 ? y : 2 - y;
}

/** The two-proportion z-test of x1/n1 against x2/n2 (pooled), two-sided. */
export function proportionTest(x1: number, n1: number, x2: number, n2: number): { statistic: number; pValue: number } | null {
  if (n1 === 0 || n2 === 0) return null;
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  if (se === 0) return { statistic: 0, pValue: 1 };
  const z = (x1 / n1 - x2 / n2) / se;
  return { statistic: round(z), pValue: round(Math.min(1, erfc(Math.abs(z) / Math.SQRT2))) };
}

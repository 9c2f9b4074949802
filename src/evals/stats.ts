/** A mean with its bootstrap 95% interval; every figure is null when there is nothing to compute it from. */
export interface Interval {
  mean: number | null;
  low: number | null;
  high: number | null;
  /** Cases the figure is computed from. */
  cases: number;
}

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

/**
 * The mean over cases of each case's mean over trials, with a percentile bootstrap 95% interval: cases are
 * resampled with replacement, and within each drawn case its trials are (the nested, two-level bootstrap).
 * Cases without values are left out.
 */
export function bootstrapMean(cases: number[][], options: { resamples: number; seed: number }): Interval {
  const prepared = cases.filter((t) => t.length > 0).map(prepare);
  const n = prepared.length;
  if (n === 0) return { mean: null, low: null, high: null, cases: 0 };
  const point = mean(prepared.map((p) => p.mean));
  if (n === 1 && prepared[0]!.constant) return { mean: round(point), low: round(point), high: round(point), cases: 1 };
  const random = seededRandom(options.seed);
  const stats = new Float64Array(options.resamples);
  for (let b = 0; b < options.resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += resampleCase(prepared[Math.floor(random() * n)]!, random);
    stats[b] = s / n;
  }
  stats.sort();
  return { mean: round(point), low: round(percentile(stats, 0.025)), high: round(percentile(stats, 0.975)), cases: n };
}

/** A paired difference (b − a) with its bootstrap 95% interval. */
export interface PairedInterval {
  difference: number | null;
  low: number | null;
  high: number | null;
  cases: number;
}

/**
 * The paired bootstrap of b − a over the cases both runs scored: each resample draws cases with replacement and,
 * inside each case, both runs' trials, so the interval holds the noise of repeated trials as well as of cases.
 */
export function pairedBootstrap(a: number[][], b: number[][], options: { resamples: number; seed: number }): PairedInterval {
  const pairs: [Prepared, Prepared][] = [];
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x && y && x.length > 0 && y.length > 0) pairs.push([prepare(x), prepare(y)]);
  }
  const n = pairs.length;
  if (n === 0) return { difference: null, low: null, high: null, cases: 0 };
  const point = mean(pairs.map(([x, y]) => y.mean - x.mean));
  if (pairs.every(([x, y]) => x.constant && y.constant && x.mean === y.mean)) return { difference: 0, low: 0, high: 0, cases: n };
  const random = seededRandom(options.seed);
  const stats = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const [x, y] = pairs[Math.floor(random() * n)]!;
      s += resampleCase(y, random) - resampleCase(x, random);
    }
    stats[r] = s / n;
  }
  stats.sort();
  return { difference: round(point), low: round(percentile(stats, 0.025)), high: round(percentile(stats, 0.975)), cases: n };
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

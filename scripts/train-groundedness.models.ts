// The two learners of scripts/train-groundedness.ts: gradient-boosted trees (the shipped model) and the logistic
// regression it replaced (kept as the baseline the training run reports). Both deterministic.
import type { GroundednessTree } from '../src/guard/groundedness.weights.js';

export interface Example {
  x: number[];
  y: number;
  /** Whether the claim states a number or name its best span lacks (the check then fails it whatever its score). */
  missing: boolean;
}
export interface Model {
  predict: (x: number[]) => number;
}
export interface TreeModel extends Model {
  base: number;
  trees: GroundednessTree[];
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Settings of the trees, chosen by cross-validation on train claims: shallow trees, a slow rate, leaves of at
 * least 20 examples, each tree fitted on a seeded 80% sample.
 */
export const TREE_SETTINGS = { trees: 150, depth: 3, rate: 0.05, minLeaf: 20, sample: 0.8, lambda: 1, cuts: 32 } as const;

/** A seeded linear congruential generator: the same sample every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Gradient boosting of regression trees on the logistic loss (second-order leaf values, L2 `lambda`); split
 * points are taken among a feature's quantiles.
 *
 * @example
 * const model = fitTrees(examples);
 * model.predict(examples[0].x); // 0…1
 */
export function fitTrees(train: Example[]): TreeModel {
  const { trees: count, depth, rate, minLeaf, sample, lambda, cuts: bins } = TREE_SETTINGS;
  const d = train[0]?.x.length ?? 0;
  const cuts = Array.from({ length: d }, (_, f) => {
    const v = [...new Set(train.map((e) => e.x[f]!))].sort((a, b) => a - b);
    if (v.length <= bins) return v.slice(0, -1).map((a, i) => (a + v[i + 1]!) / 2);
    return [...new Set(Array.from({ length: bins - 1 }, (_, k) => v[Math.floor(((k + 1) * v.length) / bins)]!))];
  });
  const p = train.reduce((s, e) => s + e.y, 0) / train.length;
  const base = Math.log(p / (1 - p));
  const rand = seeded(12345);
  const build = (idx: number[], g: number[], h: number[], level: number): GroundednessTree => {
    const G = idx.reduce((s, i) => s + g[i]!, 0);
    const H = idx.reduce((s, i) => s + h[i]!, 0);
    const leaf = (-G / (H + lambda)) * rate;
    if (level === 0 || idx.length < 2 * minLeaf) return leaf;
    let best = { gain: 0, f: -1, t: 0 };
    const parent = (G * G) / (H + lambda);
    for (let f = 0; f < d; f++) {
      const c = cuts[f]!;
      // gradient sums per bin, then a sweep over the split points
      const gs = new Array<number>(c.length + 1).fill(0);
      const hs = new Array<number>(c.length + 1).fill(0);
      const ns = new Array<number>(c.length + 1).fill(0);
      for (const i of idx) {
        const bin = binOf(c, train[i]!.x[f]!);
        gs[bin]! += g[i]!;
        hs[bin]! += h[i]!;
        ns[bin]!++;
      }
      let gl = 0;
      let hl = 0;
      let nl = 0;
      for (let k = 0; k < c.length; k++) {
        gl += gs[k]!;
        hl += hs[k]!;
        nl += ns[k]!;
        if (nl < minLeaf || idx.length - nl < minLeaf) continue;
        const gain = (gl * gl) / (hl + lambda) + ((G - gl) * (G - gl)) / (H - hl + lambda) - parent;
        if (gain > best.gain) best = { gain, f, t: c[k]! };
      }
    }
    if (best.f < 0) return leaf;
    const left = idx.filter((i) => train[i]!.x[best.f]! <= best.t);
    const right = idx.filter((i) => train[i]!.x[best.f]! > best.t);
    return [best.f, best.t, build(left, g, h, level - 1), build(right, g, h, level - 1)];
  };
  const trees: GroundednessTree[] = [];
  const F = new Array<number>(train.length).fill(base);
  for (let t = 0; t < count; t++) {
    const prob = F.map(sigmoid);
    const g = train.map((e, i) => prob[i]! - e.y);
    const h = prob.map((q) => q * (1 - q));
    const tree = build(
      train.map((_, i) => i).filter(() => rand() < sample),
      g,
      h,
      depth,
    );
    trees.push(tree);
    train.forEach((e, i) => (F[i]! += evaluate(tree, e.x)));
  }
  return { base, trees, predict: (x) => sigmoid(trees.reduce<number>((s, tree) => s + evaluate(tree, x), base)) };
}

/** Index of the first cut at or above `v` (the bin of `v`). */
function binOf(cuts: number[], v: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (v <= cuts[m]!) hi = m;
    else lo = m + 1;
  }
  return lo;
}

/** A tree's leaf value for the features `x`. */
export function evaluate(tree: GroundednessTree, x: number[]): number {
  let node = tree;
  while (typeof node !== 'number') node = (x[node[0]] ?? 0) <= node[1] ? node[2] : node[3];
  return node;
}

/**
 * Logistic regression by full-batch gradient descent on standardised features, with a small L2 penalty.
 *
 * @example
 * fitLogistic(examples).predict(examples[0].x); // 0…1
 */
export function fitLogistic(train: Example[]): Model {
  const d = train[0]?.x.length ?? 0;
  const mean = Array.from({ length: d }, (_, i) => train.reduce((s, e) => s + e.x[i]!, 0) / train.length);
  const scale = mean.map((m, i) => Math.sqrt(train.reduce((s, e) => s + (e.x[i]! - m) ** 2, 0) / train.length) || 1);
  const standard = (x: number[]) => x.map((v, i) => (v - mean[i]!) / scale[i]!);
  const z = train.map((e) => standard(e.x));
  const weights = new Array<number>(d).fill(0);
  let bias = 0;
  for (let it = 0; it < 4000; it++) {
    const grad = new Array<number>(d).fill(0);
    let gb = 0;
    z.forEach((x, k) => {
      const err = sigmoid(bias + x.reduce((s, v, i) => s + weights[i]! * v, 0)) - train[k]!.y;
      for (let i = 0; i < d; i++) grad[i]! += err * x[i]!;
      gb += err;
    });
    for (let i = 0; i < d; i++) weights[i]! -= 0.5 * (grad[i]! / train.length + 1e-3 * weights[i]!);
    bias -= (0.5 * gb) / train.length;
  }
  return { predict: (x) => sigmoid(bias + standard(x).reduce((s, v, i) => s + weights[i]! * v, 0)) };
}

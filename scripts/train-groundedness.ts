// Trains the model of the offline groundedness check: gradient-boosted decision trees over the claim/context
// features of src/guard/groundedness.features.ts, fitted on SciFact TRAIN claims only (every claim not listed in
// qrels/test.tsv). Data: each train claim (every sentence of it) with its supporting abstracts (grounded) and
// with the three most similar abstracts by BM25 that are not its evidence (not grounded). Test claims, their
// evidence and their hard negatives are never used; no other data is read.
//
//   node --import tsx scripts/train-groundedness.ts [--dataset DIR] [--write]
//
// Reads corpus.jsonl, queries.jsonl and qrels/test.tsv of DIR (default ../shared/datasets/scifact). Prints the
// 5-fold cross-validated AUC over train claims (folds by claim; scored as the benchmark scores: a claim's
// supporting abstract against its most similar non-evidence abstract), beside that of a logistic regression
// over the same features fitted on the benchmark's pairs alone (the previous model) as baseline. With --write,
// replaces src/guard/groundedness.weights.ts. Deterministic (seeded): same data, same trees.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { auc, DEFAULT_SCIFACT_DIR, scifactPairs } from '../bench/support/scifact.js';
import { ROOT } from '../bench/support/common.js';
import { claimFeatures, FEATURE_NAMES, prepareContext } from '../src/guard/groundedness.features.js';
import { sentences } from '../src/guard/text.js';
import { fitLogistic, fitTrees, TREE_SETTINGS, type Example, type Model } from './train-groundedness.models.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const NEGATIVES = 3;

/** A claim with one abstract, as the features of each of its sentences. */
interface PairExamples {
  claimId: string;
  /** Whether the benchmark scores this pair: the evidence, or the first-ranked hard negative. */
  scored: boolean;
  y: number;
  sentences: Example[];
}

const pairs = scifactPairs(arg('--dataset') ?? DEFAULT_SCIFACT_DIR, NEGATIVES).filter((p) => p.split === 'train' && p.kind !== 'contradict');
const data: PairExamples[] = [];
for (const p of pairs) {
  const context = prepareContext([{ id: p.doc.id, text: p.doc.text }]);
  const y = p.kind === 'support' ? 1 : 0;
  const xs = sentences(p.claim).flatMap((s) => {
    const f = claimFeatures(s.text, context);
    return f ? [{ x: f.values, y, missing: f.missing.length > 0 }] : [];
  });
  if (xs.length > 0) data.push({ claimId: p.claimId, scored: p.rank <= 1, y, sentences: xs });
}
const examples = data.flatMap((d) => d.sentences);
process.stderr.write(`[train] ${examples.length} examples from ${data.length} train pairs (${NEGATIVES} hard negatives per claim), ${FEATURE_NAMES.length} features\n`);

// A pair's score is the mean over its sentences, as an answer's support is.
const pairScore = (m: Model, d: PairExamples) => d.sentences.reduce((s, e) => s + m.predict(e.x), 0) / d.sentences.length;
const pairAuc = (scores: Map<PairExamples, number>) => {
  const scored = [...scores].filter(([d]) => d.scored);
  return auc(
    scored.filter(([d]) => d.y === 1).map(([, s]) => s),
    scored.filter(([d]) => d.y === 0).map(([, s]) => s),
  );
};

// 5-fold cross-validation by claim: how the model does on train claims it was not fitted on. The out-of-fold
// scores also set the threshold, since a model's scores on its own training data are overconfident.
const claimIds = [...new Set(data.map((d) => d.claimId))];
const fold = new Map(claimIds.map((id, i) => [id, i % 5]));
const outOfFold = new Map<PairExamples, number>();
const foldAucs: number[] = [];
const baselineAucs: number[] = [];
for (let k = 0; k < 5; k++) {
  const fitOn = data.filter((d) => fold.get(d.claimId) !== k);
  const held = data.filter((d) => fold.get(d.claimId) === k);
  const trees = fitTrees(fitOn.flatMap((d) => d.sentences));
  const scores = new Map(held.map((d) => [d, pairScore(trees, d)]));
  for (const [d, s] of scores) outOfFold.set(d, s);
  foldAucs.push(pairAuc(scores));
  const baseline = fitLogistic(fitOn.filter((d) => d.scored).flatMap((d) => d.sentences));
  baselineAucs.push(pairAuc(new Map(held.map((d) => [d, pairScore(baseline, d)]))));
}
const model = fitTrees(examples);

// The threshold that balances accuracy on the benchmark's train pairs, out of fold, with the rule that a claim
// missing a number or name fails.
let threshold = 0.5;
let bestBalanced = 0;
const scored = data.filter((d) => d.scored);
for (let t = 0.05; t < 0.96; t += 0.01) {
  const pass = (d: PairExamples) => d.sentences.every((e) => !e.missing) && (outOfFold.get(d) ?? 0) >= t;
  const pos = scored.filter((d) => d.y === 1);
  const neg = scored.filter((d) => d.y === 0);
  const balanced = (pos.filter(pass).length / pos.length + neg.filter((d) => !pass(d)).length / neg.length) / 2;
  if (balanced > bestBalanced + 1e-9) [bestBalanced, threshold] = [balanced, Math.round(t * 100) / 100];
}

const r = (v: number) => Math.round(v * 1e4) / 1e4;
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const figures = {
  cv_auc_train: r(mean(foldAucs)),
  cv_auc_folds: foldAucs.map(r),
  cv_auc_train_logistic_baseline: r(mean(baselineAucs)),
  fit_auc_train: r(pairAuc(new Map(data.map((d) => [d, pairScore(model, d)])))),
  threshold,
  balanced_accuracy_train_out_of_fold: r(bestBalanced),
  trees: model.trees.length,
  settings: TREE_SETTINGS,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);

if (process.argv.includes('--write')) {
  const file = path.join(ROOT, 'src', 'guard', 'groundedness.weights.ts');
  const round = (v: number) => Number(v.toPrecision(6));
  const tree = (n: (typeof model.trees)[number]): string => (typeof n === 'number' ? `${round(n)}` : `[${n[0]}, ${n[1]}, ${tree(n[2])}, ${tree(n[3])}]`);
  writeFileSync(
    file,
    `// Generated by scripts/train-groundedness.ts from SciFact train claims (${examples.length} claim/abstract examples); do not edit.
// Cross-validated AUC on train claims: ${figures.cv_auc_train} (logistic regression on the same features: ${figures.cv_auc_train_logistic_baseline}).
import type { FEATURE_NAMES } from './groundedness.features.js';

/** A decision tree: a leaf's log-odds, or [feature index, threshold, subtree when at most, subtree when above]. */
export type GroundednessTree = number | readonly [number, number, GroundednessTree, GroundednessTree];

/** The features the trees index, in order. */
export const GROUNDEDNESS_FEATURES: readonly (typeof FEATURE_NAMES)[number][] = ${JSON.stringify(FEATURE_NAMES).replace(/"/g, "'").replace(/,/g, ', ')};
/** Log-odds of support before any tree. */
export const GROUNDEDNESS_BASE = ${round(model.base)};
/** Gradient-boosted trees; their leaves (learning rate applied) add to the log-odds. */
export const GROUNDEDNESS_TREES: readonly GroundednessTree[] = [
${model.trees.map((t) => `  ${tree(t)},`).join('\n')}
];
/** The claim probability that balances accuracy on train claims (out of fold). */
export const TRAINED_THRESHOLD = ${threshold};
`,
  );
  process.stderr.write(`[train] wrote ${path.relative(ROOT, file)}\n`);
}

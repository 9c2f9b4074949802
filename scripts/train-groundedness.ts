// Trains the weights of the offline groundedness check: a logistic regression over the claim/context features
// of src/guard/groundedness.features.ts, fitted on SciFact TRAIN claims only (every claim not listed in
// qrels/test.tsv), with the pairs of the `groundedness` benchmark: a claim with its supporting abstract
// (grounded) and with the most similar abstract that is not its evidence (not grounded).
//
//   node --import tsx scripts/train-groundedness.ts [--dataset DIR] [--write]
//
// Reads corpus.jsonl, queries.jsonl and qrels/test.tsv of DIR (default ../shared/datasets/scifact). Prints the
// 5-fold cross-validated AUC over train claims (folds by claim) and the fitted weights; with --write, replaces
// src/guard/groundedness.weights.ts. Deterministic: same data, same weights. Test claims are never read here
// beyond their ids, which exclude them.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { auc, DEFAULT_SCIFACT_DIR, scifactPairs } from '../bench/support/scifact.js';
import { ROOT } from '../bench/support/common.js';
import { claimFeatures, FEATURE_NAMES, prepareContext } from '../src/guard/groundedness.features.js';
import { sentences } from '../src/guard/text.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const L2 = 1e-3;
const ITERATIONS = 4000;
const RATE = 0.5;

interface Example {
  claimId: string;
  x: number[];
  y: number;
  missing: boolean;
}

const pairs = scifactPairs(arg('--dataset') ?? DEFAULT_SCIFACT_DIR).filter((p) => p.split === 'train' && p.kind !== 'contradict');
const examples: Example[] = [];
for (const p of pairs) {
  const context = prepareContext([{ id: p.doc.id, text: p.doc.text }]);
  for (const s of sentences(p.claim)) {
    const f = claimFeatures(s.text, context);
    if (f) examples.push({ claimId: p.claimId, x: f.values, y: p.kind === 'support' ? 1 : 0, missing: f.missing.length > 0 });
  }
}
process.stderr.write(`[train] ${examples.length} examples from ${pairs.length} train pairs, ${FEATURE_NAMES.length} features\n`);

interface Model {
  mean: number[];
  scale: number[];
  weights: number[];
  bias: number;
}
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const predict = (m: Model, x: number[]) => sigmoid(m.bias + x.reduce((s, v, i) => s + m.weights[i]! * ((v - m.mean[i]!) / m.scale[i]!), 0));

/** Logistic regression by full-batch gradient descent on standardised features, with a small L2 penalty. */
function fit(train: Example[]): Model {
  const d = FEATURE_NAMES.length;
  const mean = Array.from({ length: d }, (_, i) => train.reduce((s, e) => s + e.x[i]!, 0) / train.length);
  const scale = mean.map((m, i) => Math.sqrt(train.reduce((s, e) => s + (e.x[i]! - m) ** 2, 0) / train.length) || 1);
  const z = train.map((e) => e.x.map((v, i) => (v - mean[i]!) / scale[i]!));
  const weights = new Array<number>(d).fill(0);
  let bias = 0;
  for (let it = 0; it < ITERATIONS; it++) {
    const grad = new Array<number>(d).fill(0);
    let gb = 0;
    z.forEach((x, k) => {
      const err = sigmoid(bias + x.reduce((s, v, i) => s + weights[i]! * v, 0)) - train[k]!.y;
      for (let i = 0; i < d; i++) grad[i]! += err * x[i]!;
      gb += err;
    });
    for (let i = 0; i < d; i++) weights[i]! -= RATE * (grad[i]! / train.length + L2 * weights[i]!);
    bias -= (RATE * gb) / train.length;
  }
  return { mean, scale, weights, bias };
}

const scoreAuc = (m: Model, set: Example[]) =>
  auc(
    set.filter((e) => e.y === 1).map((e) => predict(m, e.x)),
    set.filter((e) => e.y === 0).map((e) => predict(m, e.x)),
  );

// 5-fold cross-validation by claim: how the weights do on train claims they were not fitted on.
const claimIds = [...new Set(examples.map((e) => e.claimId))];
const fold = new Map(claimIds.map((id, i) => [id, i % 5]));
const foldAucs: number[] = [];
for (let k = 0; k < 5; k++) {
  const m = fit(examples.filter((e) => fold.get(e.claimId) !== k));
  foldAucs.push(scoreAuc(m, examples.filter((e) => fold.get(e.claimId) === k)));
}
const model = fit(examples);

// The threshold that balances accuracy on train, with the rule that a claim missing a number or name fails.
let threshold = 0.5;
let bestBalanced = 0;
for (let t = 0.05; t < 0.96; t += 0.01) {
  const pass = (e: Example) => !e.missing && predict(model, e.x) >= t;
  const pos = examples.filter((e) => e.y === 1);
  const neg = examples.filter((e) => e.y === 0);
  const balanced = (pos.filter(pass).length / pos.length + neg.filter((e) => !pass(e)).length / neg.length) / 2;
  if (balanced > bestBalanced + 1e-9) [bestBalanced, threshold] = [balanced, Math.round(t * 100) / 100];
}

const r = (v: number) => Math.round(v * 1e4) / 1e4;
const figures = {
  cv_auc_train: r(foldAucs.reduce((a, b) => a + b, 0) / 5),
  cv_auc_folds: foldAucs.map(r),
  fit_auc_train: r(scoreAuc(model, examples)),
  threshold,
  balanced_accuracy_train: r(bestBalanced),
  weights: Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, r(model.weights[i]!)])),
};
process.stdout.write(`${JSON.stringify(figures)}\n`);

if (process.argv.includes('--write')) {
  const file = path.join(ROOT, 'src', 'guard', 'groundedness.weights.ts');
  const rows = FEATURE_NAMES.map((n, i) => `  { feature: '${n}', mean: ${r(model.mean[i]!)}, scale: ${r(model.scale[i]!)}, weight: ${r(model.weights[i]!)} },`);
  writeFileSync(
    file,
    `// Generated by scripts/train-groundedness.ts from SciFact train claims (${examples.length} claim/abstract examples); do not edit.
// Cross-validated AUC on train claims: ${figures.cv_auc_train}.
import type { FEATURE_NAMES } from './groundedness.features.js';

/** Logistic-regression weights per feature (applied to the feature standardised by its mean and scale). */
export const GROUNDEDNESS_WEIGHTS: readonly { feature: (typeof FEATURE_NAMES)[number]; mean: number; scale: number; weight: number }[] = [
${rows.join('\n')}
];
export const GROUNDEDNESS_BIAS = ${r(model.bias)};
/** The claim probability that balances accuracy on train claims. */
export const TRAINED_THRESHOLD = ${threshold};
`,
  );
  process.stderr.write(`[train] wrote ${path.relative(ROOT, file)}\n`);
}

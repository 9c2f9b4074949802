// Groundedness on SciFact: can the offline check tell a claim's evidence abstract from the most similar
// abstract that is not its evidence? And, as an honest limit, can it tell supporting from contradicting
// evidence (a lexical check is expected to fail at that)?
//
//   npm run bench -- groundedness [--dataset DIR]
//
// Positive pairs: each claim with SUPPORT evidence, paired with each of its evidence abstracts.
// Negative pairs: the same claim with the best-ranked abstract (BM25 over the corpus) that is not among its
// evidence. The check's weights are learned on the TRAIN claims (scripts/train-groundedness.ts), so the headline
// figures are those of the 300 held-out TEST claims (qrels/test.tsv); train and all-claims figures are printed
// beside them, labelled. Figures: ROC AUC of the continuous support score, balanced accuracy of the supported /
// not supported verdict at the default threshold, and the same for the unweighted lexical span score as baseline.
import { checkGroundedness, checkRelevance, DEFAULT_CLAIM_THRESHOLD, DEFAULT_RELEVANCE_THRESHOLD } from '../src/guard/index.js';
import { claimFeatures, FEATURE_NAMES, prepareContext } from '../src/guard/groundedness.features.js';
import { emit, median, progress, round } from './support/common.js';
import { auc, DEFAULT_SCIFACT_DIR, scifactPairs, scifactRetrieval, type Pair } from './support/scifact.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

progress('building pairs (BM25 over 5,183 abstracts)');
const pairs = scifactPairs(arg('--dataset') ?? DEFAULT_SCIFACT_DIR);
const LEXICAL = FEATURE_NAMES.indexOf('span_lexical');

interface Scored {
  pair: Pair;
  support: number;
  supported: boolean;
  lexical: number;
}
const scored: Scored[] = pairs.map((pair) => {
  const g = checkGroundedness(pair.claim, [{ id: pair.doc.id, text: pair.doc.text }]);
  const lexical = claimFeatures(pair.claim, prepareContext([pair.doc]))?.values[LEXICAL] ?? 0;
  return { pair, support: g.support, supported: g.score === 1, lexical };
});

const balanced = (pos: Scored[], neg: Scored[]) =>
  (pos.filter((p) => p.supported).length / pos.length + neg.filter((n) => !n.supported).length / neg.length) / 2;

function figures(set: Scored[]) {
  const pos = set.filter((s) => s.pair.kind === 'support');
  const neg = set.filter((s) => s.pair.kind === 'hard_negative');
  const con = set.filter((s) => s.pair.kind === 'contradict');
  const a = (p: Scored[], n: Scored[], key: 'support' | 'lexical') => round(auc(p.map((s) => s[key]), n.map((s) => s[key])), 3);
  return {
    claims: new Set(pos.map((s) => s.pair.claimId)).size,
    pairs: { support: pos.length, hard_negative: neg.length, contradict: con.length },
    support_vs_hard_negative: {
      auc: a(pos, neg, 'support'),
      balanced_accuracy: round(balanced(pos, neg), 3),
      supported_rate_positive: round(pos.filter((p) => p.supported).length / pos.length, 3),
      supported_rate_negative: round(neg.filter((n) => n.supported).length / neg.length, 3),
      baseline_lexical_auc: a(pos, neg, 'lexical'),
    },
    support_vs_contradict: { auc: a(pos, con, 'support'), balanced_accuracy: round(balanced(pos, con), 3) },
  };
}

// Cost: one claim against one abstract (the data set's unit), and a three-claim answer against eight abstracts
// (the size of a governed run's context); medians of three timed passes.
const timed = (fn: () => void, count: number) => {
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const started = performance.now();
    fn();
    runs.push((performance.now() - started) / count);
  }
  return round(median(runs), 3);
};
const sample = pairs.slice(0, 400);
const msPerCheck = timed(() => sample.forEach((p) => checkGroundedness(p.claim, [p.doc])), sample.length);
const answers = Array.from({ length: 50 }, (_, i) => {
  const group = pairs.slice(i * 8, i * 8 + 8);
  return { answer: group.slice(0, 3).map((p) => p.claim).join(' '), passages: group.map((p) => p.doc) };
});
const msPerAnswer = timed(() => answers.forEach((a) => checkGroundedness(a.answer, a.passages)), answers.length);

// Answer relevance: with the top 8 abstracts as the context, does the passage that holds the most of the claim
// score higher when the claim's evidence was retrieved than when it was not? (TEST claims; relevance has no
// trained weights.)
progress('answer relevance (top 8 abstracts per claim)');
const retrieved = scifactRetrieval(arg('--dataset') ?? DEFAULT_SCIFACT_DIR, 8).filter((r) => r.split === 'test');
const relevanceOf = (r: (typeof retrieved)[number]) => checkRelevance(r.claim, '', r.top, []).contextScore;
const withEvidence = retrieved.filter((r) => r.evidenceRetrieved).map(relevanceOf);
const withoutEvidence = retrieved.filter((r) => !r.evidenceRetrieved).map(relevanceOf);
const msPerRelevance = timed(() => retrieved.slice(0, 100).forEach((r) => checkRelevance(r.claim, r.top[0]?.text ?? '', r.top, [r.top[0]?.id ?? ''])), 100);

emit({
  bench: 'groundedness',
  heldout_test: figures(scored.filter((s) => s.pair.split === 'test')),
  train_split_fitted_on: figures(scored.filter((s) => s.pair.split === 'train')),
  all_claims: figures(scored),
  threshold: DEFAULT_CLAIM_THRESHOLD,
  relevance_heldout_test: {
    claims_evidence_retrieved: withEvidence.length,
    claims_evidence_not_retrieved: withoutEvidence.length,
    auc_best_passage: round(auc(withEvidence, withoutEvidence), 3),
    below_threshold_rate_retrieved: round(withEvidence.filter((v) => v < DEFAULT_RELEVANCE_THRESHOLD).length / withEvidence.length, 3),
    below_threshold_rate_not_retrieved: round(withoutEvidence.filter((v) => v < DEFAULT_RELEVANCE_THRESHOLD).length / withoutEvidence.length, 3),
    ms_per_check_8_passages: msPerRelevance,
  },
  ms_per_check: msPerCheck,
  ms_per_answer_3_claims_8_passages: msPerAnswer,
  target_auc: 0.85,
  node: process.version,
});

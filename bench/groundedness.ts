// Groundedness on SciFact: can the offline check tell a claim's evidence abstract from the most similar
// abstract that is not its evidence? And, as an honest limit, can it tell supporting from contradicting
// evidence (a lexical check is expected to fail at that)?
//
//   npm run bench -- groundedness [--dataset DIR]
//
// Positive pairs: each claim with SUPPORT evidence, paired with each of its evidence abstracts.
// Negative pairs: the same claim with the best-ranked abstract (BM25 over the corpus, ranked in this script)
// that is not among its evidence. Figures: ROC AUC of the continuous support score, and balanced accuracy of
// the supported / not supported verdict at the default threshold.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkGroundedness, contentTerms, DEFAULT_CLAIM_THRESHOLD } from '../src/guard/index.js';
import { emit, progress, ROOT, round } from './support/common.js';

interface Doc {
  id: string;
  text: string;
}
interface Claim {
  id: string;
  text: string;
  evidence: Map<string, 'SUPPORT' | 'CONTRADICT'>;
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const dir = arg('--dataset') ?? path.join(ROOT, '..', 'shared', 'datasets', 'scifact');

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

const docs: Doc[] = readJsonl<{ _id: string; title: string; text: string }>(path.join(dir, 'corpus.jsonl')).map((d) => ({
  id: d._id,
  text: `${d.title}. ${d.text}`,
}));
const byId = new Map(docs.map((d) => [d.id, d]));
const claims: Claim[] = readJsonl<{ _id: string; text: string; metadata: Record<string, { label: 'SUPPORT' | 'CONTRADICT' }[]> }>(
  path.join(dir, 'queries.jsonl'),
).map((q) => ({
  id: q._id,
  text: q.text,
  evidence: new Map(Object.entries(q.metadata).map(([doc, ev]) => [doc, ev[0]?.label ?? 'SUPPORT'])),
}));

// BM25 (k1 0.9, b 0.4) over the stemmed content words of title and abstract: picks the hard negatives.
progress(`indexing ${docs.length} abstracts`);
const postings = new Map<string, Map<number, number>>();
const lengths: number[] = [];
docs.forEach((d, i) => {
  const terms = contentTerms(d.text);
  lengths.push(terms.length);
  for (const t of terms) {
    let p = postings.get(t);
    if (!p) postings.set(t, (p = new Map()));
    p.set(i, (p.get(i) ?? 0) + 1);
  }
});
const avgLength = lengths.reduce((a, b) => a + b, 0) / lengths.length;
function bestOther(claim: Claim): Doc | null {
  const scores = new Map<number, number>();
  for (const t of new Set(contentTerms(claim.text))) {
    const p = postings.get(t);
    if (!p) continue;
    const idf = Math.log(1 + (docs.length - p.size + 0.5) / (p.size + 0.5));
    for (const [doc, tf] of p) {
      const norm = tf * 1.9 / (tf + 0.9 * (0.6 + 0.4 * (lengths[doc]! / avgLength)));
      scores.set(doc, (scores.get(doc) ?? 0) + idf * norm);
    }
  }
  const ranked = [...scores.entries()].sort((a, b) => b[1] - a[1]);
  for (const [doc] of ranked) if (!claim.evidence.has(docs[doc]!.id)) return docs[doc]!;
  return null;
}

/** ROC AUC: the chance a random positive scores above a random negative (ties count half). */
function auc(pos: number[], neg: number[]): number {
  const all = [...pos.map((s) => ({ s, p: 1 })), ...neg.map((s) => ({ s, p: 0 }))].sort((a, b) => a.s - b.s);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.s === all[i]!.s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k]!.p === 1) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

function score(claim: Claim, doc: Doc): { support: number; supported: boolean } {
  const g = checkGroundedness(claim.text, [{ id: doc.id, text: doc.text }]);
  return { support: g.support, supported: g.score === 1 };
}

const positives: { support: number; supported: boolean }[] = [];
const negatives: { support: number; supported: boolean }[] = [];
const contradicts: { support: number; supported: boolean }[] = [];
const started = performance.now();
for (const claim of claims) {
  const supportDocs = [...claim.evidence].filter(([, l]) => l === 'SUPPORT').map(([d]) => byId.get(d)).filter((d): d is Doc => d !== undefined);
  for (const [d, label] of claim.evidence) {
    const doc = byId.get(d);
    if (doc && label === 'CONTRADICT') contradicts.push(score(claim, doc));
  }
  if (supportDocs.length === 0) continue;
  for (const doc of supportDocs) positives.push(score(claim, doc));
  const other = bestOther(claim);
  if (other) negatives.push(score(claim, other));
}
const ms = performance.now() - started;
const balanced = (pos: { supported: boolean }[], neg: { supported: boolean }[]) =>
  (pos.filter((p) => p.supported).length / pos.length + neg.filter((n) => !n.supported).length / neg.length) / 2;

emit({
  bench: 'groundedness',
  pairs: { support: positives.length, hard_negative: negatives.length, contradict: contradicts.length },
  support_vs_hard_negative: {
    auc: round(auc(positives.map((p) => p.support), negatives.map((n) => n.support)), 3),
    balanced_accuracy: round(balanced(positives, negatives), 3),
    supported_rate_positive: round(positives.filter((p) => p.supported).length / positives.length, 3),
    supported_rate_negative: round(negatives.filter((n) => n.supported).length / negatives.length, 3),
  },
  support_vs_contradict: {
    auc: round(auc(positives.map((p) => p.support), contradicts.map((c) => c.support)), 3),
    balanced_accuracy: round(balanced(positives, contradicts), 3),
  },
  threshold: DEFAULT_CLAIM_THRESHOLD,
  ms_per_check: round(ms / (positives.length + negatives.length + contradicts.length), 3),
  target_auc: 0.85,
  node: process.version,
});

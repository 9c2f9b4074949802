// SciFact claim/abstract pairs for the groundedness benchmark and the training of its weights, built the same
// way for both: each claim with SUPPORT evidence is paired with each evidence abstract (positive) and with the
// best BM25-ranked abstract that is not among its evidence (hard negative); CONTRADICT evidence is paired too.
// Training may ask for more hard negatives per claim (the next-ranked abstracts); the benchmark uses one.
// The split follows the data set: claims listed in qrels/test.tsv are the held-out test split, all others train.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { contentTerms } from '../../src/guard/index.js';
import { ROOT } from './common.js';

export const DEFAULT_SCIFACT_DIR = path.join(ROOT, '..', 'shared', 'datasets', 'scifact');

export interface Doc {
  id: string;
  text: string;
}
export type Split = 'train' | 'test';
export type PairKind = 'support' | 'hard_negative' | 'contradict';
export interface Pair {
  claimId: string;
  claim: string;
  doc: Doc;
  kind: PairKind;
  split: Split;
  /** A hard negative's rank among the claim's non-evidence abstracts (1 = most similar); 0 for evidence. */
  rank: number;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

interface Corpus {
  docs: Doc[];
  byId: Map<string, Doc>;
  testIds: Set<string>;
  claims: { _id: string; text: string; metadata: Record<string, { label: 'SUPPORT' | 'CONTRADICT' }[]> }[];
  /** The abstracts ranked by BM25 for a text, best first. */
  rank: (text: string) => Doc[];
}

function readCorpus(dir: string): Corpus {
  // the abstract's title comes first, as a chunk with its heading would
  const docs: Doc[] = readJsonl<{ _id: string; title: string; text: string }>(path.join(dir, 'corpus.jsonl')).map((d) => ({
    id: d._id,
    text: `${d.title}. ${d.text}`,
  }));
  const byId = new Map(docs.map((d) => [d.id, d]));
  const testIds = new Set(
    readFileSync(path.join(dir, 'qrels', 'test.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => line.split('\t')[0] ?? ''),
  );
  const claims = readJsonl<Corpus['claims'][number]>(path.join(dir, 'queries.jsonl'));

  // BM25 (k1 0.9, b 0.4) over the stemmed content words of title and abstract.
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
  const rank = (text: string): Doc[] => {
    const scores = new Map<number, number>();
    for (const t of new Set(contentTerms(text))) {
      const p = postings.get(t);
      if (!p) continue;
      const idf = Math.log(1 + (docs.length - p.size + 0.5) / (p.size + 0.5));
      for (const [doc, tf] of p) {
        const norm = (tf * 1.9) / (tf + 0.9 * (0.6 + 0.4 * (lengths[doc]! / avgLength)));
        scores.set(doc, (scores.get(doc) ?? 0) + idf * norm);
      }
    }
    return [...scores.entries()].sort((a, b) => b[1] - a[1]).map(([doc]) => docs[doc]!);
  };
  return { docs, byId, testIds, claims, rank };
}

/** All pairs of the data set in `dir`, in claim order, with `negatives` hard negatives per claim with support. */
export function scifactPairs(dir = DEFAULT_SCIFACT_DIR, negatives = 1): Pair[] {
  const { byId, testIds, claims, rank } = readCorpus(dir);
  // Picks the hard negatives: the best-ranked abstracts that are not evidence.
  const bestOthers = (text: string, evidence: Set<string>): Doc[] =>
    rank(text)
      .filter((d) => !evidence.has(d.id))
      .slice(0, negatives);

  const pairs: Pair[] = [];
  for (const q of claims) {
    const split: Split = testIds.has(q._id) ? 'test' : 'train';
    const evidence = new Map(Object.entries(q.metadata).map(([doc, ev]) => [doc, ev[0]?.label ?? 'SUPPORT']));
    const add = (doc: Doc, kind: PairKind, rank = 0) => pairs.push({ claimId: q._id, claim: q.text, doc, kind, split, rank });
    for (const [d, label] of evidence) {
      const doc = byId.get(d);
      if (doc && label === 'CONTRADICT') add(doc, 'contradict');
    }
    const supportDocs = [...evidence].filter(([, l]) => l === 'SUPPORT').map(([d]) => byId.get(d)).filter((d): d is Doc => d !== undefined);
    if (supportDocs.length === 0) continue;
    for (const doc of supportDocs) add(doc, 'support');
    bestOthers(q.text, new Set(evidence.keys())).forEach((other, i) => add(other, 'hard_negative', i + 1));
  }
  return pairs;
}

/** A claim with evidence and the `k` abstracts BM25 retrieves for it: is any of its evidence among them? */
export interface Retrieved {
  claim: string;
  split: Split;
  top: Doc[];
  evidenceRetrieved: boolean;
}

/** For every claim with evidence, the top `k` abstracts over the whole corpus, as a governed run's context would be. */
export function scifactRetrieval(dir = DEFAULT_SCIFACT_DIR, k = 8): Retrieved[] {
  const { testIds, claims, rank } = readCorpus(dir);
  return claims
    .filter((q) => Object.keys(q.metadata).length > 0)
    .map((q) => {
      const top = rank(q.text).slice(0, k);
      return { claim: q.text, split: testIds.has(q._id) ? 'test' : 'train', top, evidenceRetrieved: top.some((d) => d.id in q.metadata) };
    });
}

/** ROC AUC: the chance a random positive scores above a random negative (ties count half). */
export function auc(pos: number[], neg: number[]): number {
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

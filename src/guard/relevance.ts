import type { ContextPassage } from './groundedness.features.js';
import { contentWords, rarity } from './text.js';

export interface RelevanceResult {
  /** 0…1: the weighted share of the question's content words that the answer and the passages supporting it hold. */
  score: number;
  /** 0…1: the same share for the one passage of the context that holds the most of them. */
  contextScore: number;
  /** The question's content words that neither the answer nor its supporting passages hold. */
  missing: string[];
}

/** Relevance at or above which an answer addresses its question, unless a posture says otherwise. */
export const DEFAULT_RELEVANCE_THRESHOLD = 0.5;

// Numbers commit a question to a case ("a 17-year-old roof"), not to a topic: the context rarely repeats them.
const NUMBER_WEIGHT = 0.1;

interface Term {
  term: string;
  word: string;
  weight: number;
}

/**
 * The question's distinct content words (stemmed). The word after "how" asks a question ("how often", "how
 * many") rather than naming its topic, and so does "happens" in "what happens": they are left out.
 */
function questionWords(question: string): { term: string; word: string }[] {
  const lower = question.toLowerCase();
  const asking = new Set([...lower.matchAll(/\bhow\s+(\p{L}+)/gu), ...lower.matchAll(/\bwhat\s+(happens?|happened)\b/gu)].map((m) => m[1]));
  const seen = new Map<string, { term: string; word: string }>();
  for (const w of contentWords(question)) if (!seen.has(w.term) && !asking.has(w.word)) seen.set(w.term, w);
  return [...seen.values()];
}

/**
 * Each question word's weight: how rare it is in general English, times how few of the context's passages hold
 * it. A word every passage holds is why they were retrieved and says little about whether they answer; a word
 * none holds is what the context leaves unaddressed, and weighs the most.
 */
function weighted(words: { term: string; word: string }[], passages: readonly ReadonlySet<string>[]): Term[] {
  const n = passages.length;
  return words.map(({ term, word }) => {
    const held = passages.reduce((k, p) => k + (p.has(term) ? 1 : 0), 0);
    const general = /^\d/.test(term) ? NUMBER_WEIGHT : rarity(word);
    return { term, word, weight: general * Math.log(1 + (n + 1) / (held + 0.5)) };
  });
}

/** The weighted share of `terms` that `held` holds (1 when there is no term to hold). */
function coverage(terms: readonly Term[], held: ReadonlySet<string>): number {
  let total = 0;
  let covered = 0;
  for (const t of terms) {
    total += t.weight;
    if (held.has(t.term)) covered += t.weight;
  }
  return total === 0 ? 1 : covered / total;
}

const termSet = (text: string): Set<string> => new Set(contentWords(text).map((w) => w.term));

// Passages read lately: retrieval returns the same chunks from question to question. Read-only.
const recentPassages = new Map<string, ReadonlySet<string>>();
const RECENT_PASSAGES = 4096;
function passageTerms(text: string): ReadonlySet<string> {
  let terms = recentPassages.get(text);
  if (!terms) {
    terms = termSet(text);
    if (recentPassages.size >= RECENT_PASSAGES) recentPassages.delete(recentPassages.keys().next().value as string);
    recentPassages.set(text, terms);
  }
  return terms;
}
const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Answer relevance: do the answer and the context that grounds it address the question? Groundedness asks
 * whether the answer is supported by its context; this asks whether that context is about the question. A
 * quoted sentence about roofs fully supports itself, and still does not answer "Do you cover spaceships?".
 * Offline and lexical: the question's content words, weighted (see {@link weighted}), looked for in the answer
 * and in the passages that support at least one of its claims (`supporting`, by passage id).
 *
 * @example
 * checkRelevance('Do you cover spaceships?', answer, passages, ['1']).score; // low: no passage mentions spaceships
 */
export function checkRelevance(question: string, answer: string, passages: readonly ContextPassage[], supporting: readonly string[]): RelevanceResult {
  const inPassages = passages.map((p) => passageTerms(p.text));
  const terms = weighted(questionWords(question), inPassages);
  const used = new Set(supporting);
  const held = termSet(answer);
  let contextScore = terms.length === 0 ? 1 : 0;
  passages.forEach((p, i) => {
    const inPassage = inPassages[i] ?? new Set<string>();
    contextScore = Math.max(contextScore, coverage(terms, inPassage));
    if (used.has(p.id)) for (const t of inPassage) held.add(t);
  });
  return {
    score: round(coverage(terms, held)),
    contextScore: round(contextScore),
    missing: terms.filter((t) => !held.has(t.term)).map((t) => t.word),
  };
}

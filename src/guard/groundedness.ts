import { contentTerms, contentWords, names, numbers, rarity, sentences } from './text.js';

/** A passage of the context the answer should rest on (a chunk, with its id for citations). */
export interface ContextPassage {
  id: string;
  text: string;
}

/** Where a claim's best support was found. */
export interface SupportSpan {
  passageId: string;
  start: number;
  end: number;
  text: string;
}

export interface ClaimCheck {
  text: string;
  /** Offsets of the claim in the answer. */
  start: number;
  end: number;
  /** 0…1: how much of the claim its best span covers (rare words weigh more), times the share of its numbers and names found there. */
  score: number;
  supported: boolean;
  support: SupportSpan | null;
  /** Numbers and names of the claim that its best span does not contain. */
  missing: string[];
}

export interface GroundednessResult {
  /** Share of claims that are supported (1 when the answer makes no claim). */
  score: number;
  /** Mean claim score: a continuous measure for ranking answers. */
  support: number;
  claims: ClaimCheck[];
  unsupported: ClaimCheck[];
  threshold: number;
}

/** Claim score at or above which a claim counts as supported (when none of its numbers or names is missing). */
export const DEFAULT_CLAIM_THRESHOLD = 0.5;

// Unigram coverage carries the score; shared word pairs (bigrams) reward the same phrasing.
const UNIGRAM_WEIGHT = 0.75;

interface Span {
  passageId: string;
  start: number;
  end: number;
  text: string;
  terms: Set<string>;
  bigrams: Set<string>;
  lower: string;
  numbers: Set<string>;
}

function bigramsOf(terms: string[]): string[] {
  const out: string[] = [];
  for (let i = 1; i < terms.length; i++) out.push(`${terms[i - 1]} ${terms[i]}`);
  return out;
}

function spansOf(passages: ContextPassage[]): Span[] {
  const spans: Span[] = [];
  for (const p of passages) {
    const sents = sentences(p.text);
    for (let i = 0; i < sents.length; i++) {
      // each sentence, and each pair of neighbours: support often straddles a sentence boundary
      for (const last of [i, i + 1]) {
        const a = sents[i];
        const b = sents[last];
        if (!a || !b) continue;
        const text = p.text.slice(a.start, b.end);
        const terms = contentTerms(text);
        spans.push({
          passageId: p.id,
          start: a.start,
          end: b.end,
          text,
          terms: new Set(terms),
          bigrams: new Set(bigramsOf(terms)),
          lower: text.toLowerCase(),
          numbers: new Set(numbers(text)),
        });
      }
    }
  }
  return spans;
}

const CITATION = /\s*\[(?:\d+|[A-Za-z0-9_:-]+)(?:\s*,\s*(?:\d+|[A-Za-z0-9_:-]+))*\]/g;

/**
 * Checks an answer against its context, offline: the answer is split into claims (sentences); each claim is
 * matched to its best supporting span of the context (a sentence or two neighbouring sentences); the numbers and
 * names in the claim must appear in that span. The score is the share of supported claims; unsupported claims
 * are listed. Lexical, so it cannot tell a claim from its contradiction when both use the same words.
 *
 * @example
 * const g = checkGroundedness('Roofs older than 20 years need an inspection [1].', [{ id: 'c1', text: guideline }]);
 * g.score; // 1 when every claim is supported
 */
export function checkGroundedness(answer: string, passages: ContextPassage[], options: { threshold?: number } = {}): GroundednessResult {
  const threshold = options.threshold ?? DEFAULT_CLAIM_THRESHOLD;
  const spans = spansOf(passages);
  // Local inverse document frequency over the context's spans: words every span shares say little.
  const df = new Map<string, number>();
  for (const s of spans) for (const t of s.terms) df.set(t, (df.get(t) ?? 0) + 1);
  const n = spans.length;
  const localIdf = (t: string) => Math.log(1 + (n + 1) / ((df.get(t) ?? 0) + 0.5));

  const claims: ClaimCheck[] = [];
  for (const sentence of sentences(answer)) {
    const text = sentence.text.replace(CITATION, '');
    const claimWords = contentWords(text);
    const terms = [...new Set(claimWords.map((w) => w.term))];
    if (terms.length < 2) continue; // headings, "Sources:", fragments: nothing to check
    // A word weighs by how rare it is in English and how few spans of this context share it.
    const prior = new Map<string, number>();
    for (const w of claimWords) prior.set(w.term, Math.max(prior.get(w.term) ?? 0, rarity(w.word)));
    const weight = (t: string) => (prior.get(t) ?? 1) * localIdf(t);
    const bigrams = [...new Set(bigramsOf(contentTerms(text)))];
    const total = terms.reduce((sum, t) => sum + weight(t), 0);
    const required = [...numbers(text).map((v) => ({ kind: 'number' as const, v })), ...names(text).map((v) => ({ kind: 'name' as const, v }))];
    let best: { span: Span; score: number; missing: string[] } | null = null;
    for (const span of spans) {
      let covered = 0;
      for (const t of terms) if (span.terms.has(t)) covered += weight(t);
      const uni = total > 0 ? covered / total : 0;
      const bi = bigrams.length > 0 ? bigrams.filter((b) => span.bigrams.has(b)).length / bigrams.length : uni;
      const missing = required.filter((r) => (r.kind === 'number' ? !span.numbers.has(r.v) : !span.lower.includes(r.v))).map((r) => r.v);
      const found = required.length > 0 ? (required.length - missing.length) / required.length : 1;
      const score = (UNIGRAM_WEIGHT * uni + (1 - UNIGRAM_WEIGHT) * bi) * found;
      if (!best || score > best.score) best = { span, score, missing };
    }
    const score = best?.score ?? 0;
    const missing = best?.missing ?? required.map((r) => r.v);
    claims.push({
      text: sentence.text,
      start: sentence.start,
      end: sentence.end,
      score: Math.round(score * 1000) / 1000,
      supported: best !== null && score >= threshold && missing.length === 0,
      support: best ? { passageId: best.span.passageId, start: best.span.start, end: best.span.end, text: best.span.text } : null,
      missing,
    });
  }
  const supported = claims.filter((c) => c.supported).length;
  return {
    score: claims.length === 0 ? 1 : supported / claims.length,
    support: claims.length === 0 ? 1 : claims.reduce((sum, c) => sum + c.score, 0) / claims.length,
    claims,
    unsupported: claims.filter((c) => !c.supported),
    threshold,
  };
}

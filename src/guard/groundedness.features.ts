import { contentWords, names, numbers, rarity, sentences } from './text.js';

/** A passage of the context the answer should rest on (a chunk, with its id for citations). */
export interface ContextPassage {
  id: string;
  text: string;
}

/** A sentence, or two neighbouring sentences, of a passage's text: the unit a claim's support is looked for in. */
export interface SpanText {
  start: number;
  end: number;
  text: string;
  terms: ReadonlySet<string>;
  bigrams: ReadonlySet<string>;
  lower: string;
  numbers: ReadonlySet<string>;
  negated: boolean;
  /** Of a two-sentence span, its sentences. */
  parts?: readonly [SpanText, SpanText];
}

/** A span in its place in the context. */
export interface Span extends SpanText {
  passageId: string;
  /** Index of its passage in the context. */
  passage: number;
}

interface Passage {
  tf: Map<string, number>;
  /** Its consecutive word pairs and triples (`a b`, `a b c`), across sentence boundaries. */
  grams: Set<string>;
  /** The first one to five letters of each of its terms. */
  prefixes: Set<string>;
  /** Terms of the first sentence: the title, when the passage starts with one. */
  lead: Set<string>;
}

/** The context, prepared once per answer. */
export interface PreparedContext {
  /** The spans of every passage, in order; shared between the contexts that hold the same passage. */
  spans: SpanText[];
  /** Index of each passage's first span (and, last, the number of spans): a passage's spans are contiguous. */
  passageStart: number[];
  passageIds: string[];
  passages: Passage[];
  /** For each passage, the spans (indices from its first) holding each term. */
  postings: ReadonlyMap<string, readonly number[]>[];
  /** For each passage, its sentences lower-cased, one per line: a name no line holds is in none of its spans. */
  lowers: string[];
  localIdf: (term: string) => number;
  /** Share of the context's spans holding a term. */
  spread: (term: string) => number;
}

/** Features of one claim against the context, in the order of `FEATURE_NAMES`, with its best span. */
export interface ClaimFeatures {
  values: number[];
  best: Span | null;
  missing: string[];
}

/**
 * The features of a claim, in the order `claimFeatures` computes them and the learned weights apply to them.
 *
 * @example
 * FEATURE_NAMES[0]; // 'span_coverage'
 */
export const FEATURE_NAMES = [
  'span_coverage',
  'span_bigrams',
  'span_lexical',
  'second_span_lexical',
  'passage_coverage',
  'passage_plain_coverage',
  'passage_bigrams',
  'passage_trigrams',
  'passage_prefix_coverage',
  'passage_rare3_coverage',
  'span_rare3_coverage',
  'passage_tf',
  'lead_coverage',
  'required_found',
  'has_required',
  'claim_terms_log',
  'negation_mismatch',
  'span_share',
  'span_prior_coverage',
  'span_char_trigrams',
  'passage_spread',
] as const;

// Unigram coverage carries the lexical span score; shared word pairs (bigrams) reward the same phrasing.
const UNIGRAM_WEIGHT = 0.75;
const NEGATION = /\b(?:not|no|never|none|neither|nor|cannot|can't|doesn't|don't|isn't|aren't|wasn't|weren't|without|lack|lacks|fail|fails|failed|absence|unaffected|independent)\b/;

const ngrams = (terms: string[], n: 2 | 3): string[] => {
  const out: string[] = [];
  for (let i = n - 1; i < terms.length; i++) out.push(n === 2 ? `${terms[i - 1]} ${terms[i]}` : `${terms[i - 2]} ${terms[i - 1]} ${terms[i]}`);
  return out;
};
const stems = (text: string): string[] => contentWords(text).map((w) => w.term);
const negated = (lower: string): boolean => NEGATION.test(lower);

interface AnalysedSentence {
  text: string;
  start: number;
  end: number;
  list: string[];
  terms: Set<string>;
  bigrams: Set<string>;
  lower: string;
  numbers: Set<string>;
  negated: boolean;
}

/** What a passage contributes to a context, whatever its place in it: analysed once per distinct text. */
interface PassageAnalysis {
  /** Its spans (each sentence, and each pair of neighbours: support often straddles a sentence boundary). */
  spans: SpanText[];
  /** For each term, the spans holding it, in order (their number is the term's span frequency). */
  postings: Map<string, number[]>;
  lower: string;
  indexed: Passage;
}

// Passages recently analysed, by text: the chunks retrieval returns repeat from answer to answer. Read-only.
const recent = new Map<string, PassageAnalysis>();
const RECENT_PASSAGES = 512;

/** A passage's spans with their stems, word pairs, numbers and negation, its term counts and its title terms. */
function analysed(text: string): PassageAnalysis {
  const known = recent.get(text);
  if (known) return known;
  const sents: AnalysedSentence[] = sentences(text).map((s) => {
    const lower = s.text.toLowerCase();
    const terms = stems(s.text);
    return { ...s, list: terms, terms: new Set(terms), bigrams: new Set(ngrams(terms, 2)), lower, numbers: new Set(numbers(s.text)), negated: negated(lower) };
  });
  const spans: PassageAnalysis['spans'] = [];
  const postings = new Map<string, number[]>();
  const count = (terms: Set<string>) => {
    const at = spans.length - 1;
    for (const t of terms) {
      const list = postings.get(t);
      if (list) list.push(at);
      else postings.set(t, [at]);
    }
  };
  const singles: SpanText[] = sents.map((a) => ({ start: a.start, end: a.end, text: a.text, terms: a.terms, bigrams: a.bigrams, lower: a.lower, numbers: a.numbers, negated: a.negated }));
  sents.forEach((a, i) => {
    spans.push(singles[i]!);
    count(a.terms);
    const b = sents[i + 1];
    if (!b) return;
    const bigrams = new Set([...a.bigrams, ...b.bigrams]);
    if (a.list.length > 0 && b.list.length > 0) bigrams.add(`${a.list[a.list.length - 1]} ${b.list[0]}`);
    const terms = new Set([...a.terms, ...b.terms]);
    spans.push({
      start: a.start,
      end: b.end,
      text: text.slice(a.start, b.end),
      terms,
      bigrams,
      lower: `${a.lower} ${b.lower}`,
      numbers: new Set([...a.numbers, ...b.numbers]),
      negated: a.negated || b.negated,
      parts: [singles[i]!, singles[i + 1]!],
    });
    count(terms);
  });
  const list = sents.flatMap((s) => s.list);
  const tf = new Map<string, number>();
  for (const t of list) tf.set(t, (tf.get(t) ?? 0) + 1);
  const grams = new Set([...ngrams(list, 2), ...ngrams(list, 3)]);
  const prefixes = new Set<string>();
  for (const t of tf.keys()) for (let n = 1; n <= Math.min(5, t.length); n++) prefixes.add(t.slice(0, n));
  const analysis = { spans, postings, lower: sents.map((a) => a.lower).join('\n'), indexed: { tf, grams, prefixes, lead: sents[0]?.terms ?? new Set<string>() } };
  if (recent.size >= RECENT_PASSAGES) recent.delete(recent.keys().next().value as string);
  recent.set(text, analysis);
  return analysis;
}

/**
 * Splits the context into spans and indexes its passages; done once per answer, shared by its claims.
 *
 * @example
 * const context = prepareContext([{ id: 'c1', text: 'Roofs older than 20 years need an inspection.' }]);
 * context.spans.length; // 1
 */
export function prepareContext(passages: ContextPassage[]): PreparedContext {
  const spans: SpanText[] = [];
  const passageStart: number[] = [];
  const analyses = passages.map((p) => analysed(p.text));
  for (const a of analyses) {
    passageStart.push(spans.length);
    spans.push(...a.spans);
  }
  // Local inverse document frequency over the context's spans: words every span shares say little. Counted on
  // demand: only the claims' words are ever asked for.
  const counted = new Map<string, number>();
  const df = (t: string) => {
    let n = counted.get(t);
    if (n === undefined) {
      n = 0;
      for (const a of analyses) n += a.postings.get(t)?.length ?? 0;
      counted.set(t, n);
    }
    return n;
  };
  passageStart.push(spans.length);
  const n = spans.length;
  return {
    spans,
    passageStart,
    passageIds: passages.map((p) => p.id),
    passages: analyses.map((a) => a.indexed),
    postings: analyses.map((a) => a.postings),
    lowers: analyses.map((a) => a.lower),
    localIdf: (t) => Math.log(1 + (n + 1) / (df(t) + 0.5)),
    spread: (t) => (n > 0 ? df(t) / n : 0),
  };
}

const share = (items: string[], has: (x: string) => boolean, fallback: number): number =>
  items.length === 0 ? fallback : items.filter(has).length / items.length;

/**
 * Features of a claim against a prepared context: how much of it the best span and the best passage cover
 * (rare words weigh more), shared word pairs and triples, its rarest words, its numbers and names, and
 * whether the claim and its best span disagree on negation. Computed from the claim and the context alone.
 *
 * @example
 * const f = claimFeatures('Roofs older than 20 years need an inspection.', prepareContext(passages));
 * f.values.length === FEATURE_NAMES.length; // true
 */
export function claimFeatures(claim: string, context: PreparedContext): ClaimFeatures | null {
  const claimWords = contentWords(claim);
  const terms = [...new Set(claimWords.map((w) => w.term))];
  if (terms.length < 2) return null; // headings, "Sources:", fragments: nothing to check
  // A word weighs by how rare it is in English and how few spans of this context share it.
  const prior = new Map<string, number>();
  for (const w of claimWords) prior.set(w.term, Math.max(prior.get(w.term) ?? 0, rarity(w.word)));
  const priorOf = (t: string) => prior.get(t) ?? 1;
  const weight = (t: string) => priorOf(t) * context.localIdf(t);
  const ordered = claimWords.map((w) => w.term);
  const bigrams = [...new Set(ngrams(ordered, 2))];
  const trigrams = [...new Set(ngrams(ordered, 3))];
  const rare3 = [...terms].sort((a, b) => priorOf(b) - priorOf(a)).slice(0, 3);
  const priorTotal = terms.reduce((sum, t) => sum + priorOf(t), 0);
  // Names (lower case, without spaces) are looked for in a passage's text once, and in its spans only if there.
  const required = [
    ...numbers(claim).map((v) => ({ kind: 'number' as const, v, in: [] as boolean[] })),
    ...names(claim).map((v) => ({ kind: 'name' as const, v, in: context.lowers.map((l) => l.includes(v)) })),
  ];
  const claimNegated = negated(claim.toLowerCase());

  let best: { span: SpanText; passage: number; score: number; uni: number; bi: number; missing: string[] } | null = null;
  const n = context.spans.length;
  // Each term's weight once; each span's covered weight summed from the term's postings, in the claims' term
  // order, so that only the spans sharing a word with the claim (a few of them) are visited.
  const weights = terms.map(weight);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const covered = new Float64Array(n);
  const shared = new Uint8Array(n);
  const touched: number[] = [];
  for (let k = 0; k < terms.length; k++) {
    for (let p = 0; p < context.postings.length; p++) {
      const list = context.postings[p]!.get(terms[k]!);
      if (!list) continue;
      const base = context.passageStart[p]!;
      for (const j of list) {
        const i = base + j;
        if (shared[i] === 0) {
          shared[i] = 1;
          touched.push(i);
        }
        covered[i]! += weights[k]!;
      }
    }
  }
  // A span without any of the claim's words scores 0 and cannot become the best once there is one: the first
  // span is scored whatever it shares (the best until a better one), then only the spans that share a word.
  if (n > 0 && shared[0] === 0) touched.push(0);
  touched.sort((a, b) => a - b);
  const scores = new Float64Array(n);
  let at = 0; // the passage of span i
  for (const i of touched) {
    const span = context.spans[i]!;
    while (i >= context.passageStart[at + 1]!) at++;
    const uni = total > 0 ? covered[i]! / total : 0;
    let pairs = 0;
    for (const b of bigrams) if (span.bigrams.has(b)) pairs++;
    const bi = bigrams.length === 0 ? uni : pairs / bigrams.length;
    const missing = required.length === 0 ? [] : required.filter((r) => (r.kind === 'number' ? !span.numbers.has(r.v) : !r.in[at] || !span.lower.includes(r.v))).map((r) => r.v);
    const found = required.length > 0 ? (required.length - missing.length) / required.length : 1;
    const score = (UNIGRAM_WEIGHT * uni + (1 - UNIGRAM_WEIGHT) * bi) * found;
    scores[i] = score;
    if (!best || score > best.score) best = { span, passage: at, score, uni, bi, missing };
  }
  // Support spread over the passage: the best span elsewhere in the same passage.
  let second = 0;
  if (best) {
    for (let i = context.passageStart[best.passage]!; i < context.passageStart[best.passage + 1]!; i++) {
      if (!overlaps(best.span, context.spans[i]!)) second = Math.max(second, scores[i]!);
    }
  }

  // The passage holding the best span, judged as a whole.
  const passage = best ? context.passages[best.passage] : undefined;
  let passageCovered = 0;
  let tfSum = 0;
  let prefixCovered = 0;
  let leadCovered = 0;
  if (passage) {
    for (const t of terms) {
      const tf = passage.tf.get(t) ?? 0;
      if (tf > 0) passageCovered += priorOf(t);
      tfSum += priorOf(t) * Math.log(1 + tf);
      if (tf > 0 || passage.prefixes.has(t.slice(0, 5))) prefixCovered += priorOf(t);
      if (passage.lead.has(t)) leadCovered += priorOf(t);
    }
  }
  const spanTerms = best ? terms.filter((t) => best.span.terms.has(t)).length : 0;
  const passageTerms = passage ? terms.filter((t) => passage.tf.has(t)).length : 0;
  const values = [
    best?.uni ?? 0,
    best?.bi ?? 0,
    best?.score ?? 0,
    second,
    priorTotal > 0 ? passageCovered / priorTotal : 0,
    passage ? passageTerms / terms.length : 0,
    passage ? share(bigrams, (b) => passage.grams.has(b), 0) : 0,
    passage ? share(trigrams, (b) => passage.grams.has(b), 0) : 0,
    priorTotal > 0 ? prefixCovered / priorTotal : 0,
    passage ? share(rare3, (t) => passage.tf.has(t), 0) : 0,
    best ? share(rare3, (t) => best.span.terms.has(t), 0) : 0,
    priorTotal > 0 ? tfSum / priorTotal : 0,
    priorTotal > 0 ? leadCovered / priorTotal : 0,
    required.length > 0 ? (required.length - (best?.missing.length ?? required.length)) / required.length : 1,
    required.length > 0 ? 1 : 0,
    Math.log(terms.length),
    best && best.span.negated !== claimNegated ? 1 : 0,
    passageTerms > 0 ? spanTerms / passageTerms : 0,
    best && priorTotal > 0 ? terms.reduce((sum, t) => sum + (best.span.terms.has(t) ? priorOf(t) : 0), 0) / priorTotal : 0,
    best ? charContainment(claim, best.span) : 0,
    passageTerms > 0 ? terms.reduce((sum, t) => sum + context.spread(t), 0) / passageTerms : 0,
  ];
  // Support is quoted as tightly as it holds: a two-sentence span as the one of its sentences that holds all it
  // matched of the claim (its words, numbers and names), when one does. The features above keep the whole span.
  let quoted = best?.span;
  if (best?.span.parts) {
    const matched = terms.filter((t) => best.span.terms.has(t));
    const found = required.filter((r) => !best.missing.includes(r.v));
    quoted =
      best.span.parts.find((part) => matched.every((t) => part.terms.has(t)) && found.every((r) => (r.kind === 'number' ? part.numbers.has(r.v) : part.lower.includes(r.v)))) ??
      best.span;
  }
  const span: Span | null = best && quoted ? { ...quoted, passageId: context.passageIds[best.passage]!, passage: best.passage } : null;
  return { values, best: span, missing: best?.missing ?? required.map((r) => r.v) };
}

const overlaps = (a: SpanText, b: SpanText): boolean => a.start < b.end && b.start < a.end;

// Letter triples of the words: near-matches the stemmer misses (`lungs`/`lung`, `NLRP3`/`NALP3`). A span's
// triples are kept with it, as spans are shared between answers.
const spanTrigrams = new WeakMap<SpanText, Set<string>>();
function charContainment(claim: string, span: SpanText): number {
  const c = charTrigrams(claim);
  let s = spanTrigrams.get(span);
  if (!s) {
    s = charTrigrams(span.text);
    spanTrigrams.set(span, s);
  }
  let hit = 0;
  for (const g of c) if (s.has(g)) hit++;
  return c.size > 0 ? hit / c.size : 0;
}

function charTrigrams(text: string): Set<string> {
  const out = new Set<string>();
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) out.add(padded.slice(i, i + 3));
  }
  return out;
}

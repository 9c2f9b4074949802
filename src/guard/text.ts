import { createRequire } from 'node:module';
import type * as GptTokenizer from 'gpt-tokenizer';
import { stemmer } from 'stemmer';

// Words that carry no claim of their own; they neither support nor need support.
const STOPWORDS = new Set(
  `a about above after again against all also am an and any are as at be because been before being below between both but by can
  could did do does doing down during each few for from further had has have having he her here hers herself him himself his how i
  if in into is it its itself just me more most my myself no nor not of off on once only or other our ours ourselves out over own
  same she should so some such than that the their theirs them themselves then there these they this those through to too under
  until up very was we were what when where which while who whom why will with would you your yours yourself yourselves may might
  must shall upon within without however thus therefore whereas whether via per among`.split(/\s+/),
);

const ABBREVIATION = /\b(?:dr|mr|mrs|ms|prof|st|vs|etc|fig|al|no|e\.g|i\.e|approx|inc|ltd|co|jr|sr)\.\s*$/i;

/** A sentence with its character offsets in the text it came from. */
export interface Sentence {
  text: string;
  start: number;
  end: number;
}

// One segmenter for every call: making one costs more than segmenting a paragraph with it.
const SENTENCES = new Intl.Segmenter('en', { granularity: 'sentence' });

/** Sentences of a text (Unicode sentence boundaries, not split after common abbreviations), with offsets. */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let pending: Sentence | null = null;
  for (const seg of SENTENCES.segment(text)) {
    const current: Sentence = pending
      ? { text: pending.text + seg.segment, start: pending.start, end: seg.index + seg.segment.length }
      : { text: seg.segment, start: seg.index, end: seg.index + seg.segment.length };
    if (ABBREVIATION.test(current.text)) {
      pending = current;
      continue;
    }
    pending = null;
    out.push(current);
  }
  if (pending) out.push(pending);
  return out
    .map((s) => {
      const lead = s.text.length - s.text.trimStart().length;
      const trimmed = s.text.trim();
      return { text: trimmed, start: s.start + lead, end: s.start + lead + trimmed.length };
    })
    .filter((s) => s.text.length > 0);
}

/** Lower-cased word tokens (letters, digits, inner hyphens and apostrophes). */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:[-'’][\p{L}\p{N}]+)*/gu) ?? [];
}

const stemCache = new Map<string, string>();
// Stemming is the costliest step of reading a context; words repeat across chunks, answers and checks.
function stem(word: string): string {
  let s = stemCache.get(word);
  if (s === undefined) {
    s = stemmer(word);
    if (stemCache.size < 100_000) stemCache.set(word, s);
  }
  return s;
}

/** Stemmed content words: what a claim asserts and what a passage says. */
export function contentTerms(text: string): string[] {
  return contentWords(text).map((w) => w.term);
}

/** Content words with their stem (`term`) and surface form. */
export function contentWords(text: string): { term: string; word: string }[] {
  const out: { term: string; word: string }[] = [];
  for (const w of words(text)) {
    if (STOPWORDS.has(w) || w.length < 2) continue;
    for (const part of w.split(/[-'’]/)) {
      if (part.length > 1 && !STOPWORDS.has(part)) out.push({ term: /^\d/.test(part) ? part : stem(part), word: part });
    }
  }
  return out;
}

let tokenizer: typeof GptTokenizer | null = null;
// Loaded on first use: its encodings take a third of a second that every start would pay otherwise.
const encode = (text: string): number[] => (tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer') as typeof GptTokenizer).encode(text);

const LOG_VOCABULARY = Math.log(200_000);
const rarityCache = new Map<string, number>();

/**
 * How rare a word is in general English, 0…1, without a word list: byte-pair vocabularies give frequent words
 * low token ids and split rare words into several tokens, so the id of the first token and the token count
 * are a usable offline proxy for corpus frequency.
 */
export function rarity(word: string): number {
  let r = rarityCache.get(word);
  if (r === undefined) {
    const ids = encode(` ${word}`);
    r = Math.min(1, (Math.log(1 + (ids[0] ?? 0)) + 1.5 * (ids.length - 1)) / LOG_VOCABULARY);
    if (rarityCache.size < 100_000) rarityCache.set(word, r);
  }
  return r;
}

/** Numbers in a text, normalised (`1,200` → `1200`, `5.0` → `5`), with a trailing % kept. */
export function numbers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?<![\p{L}\d.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?\s*(%|percent)?/gu)) {
    const whole = (m[1] ?? '').replace(/,/g, '');
    const frac = (m[2] ?? '').replace(/0+$/, '');
    out.push(`${whole}${frac ? `.${frac}` : ''}${m[3] ? '%' : ''}`);
  }
  return out;
}

/**
 * Names a claim commits to: acronyms and capitalised words that do not start the sentence (`UK`, `PrP`,
 * `Medicare`). A rough, offline stand-in for named-entity recognition.
 */
export function names(sentence: string): string[] {
  const out = new Set<string>();
  const tokens = sentence.match(/[\p{L}\p{N}]+(?:[-'’][\p{L}\p{N}]+)*/gu) ?? [];
  tokens.forEach((token, i) => {
    const acronym = /^(?=.*\p{Lu}.*\p{Lu})[\p{Lu}\p{N}][\p{L}\p{N}]*$/u.test(token) && token.length >= 2;
    const capitalised = i > 0 && /^\p{Lu}\p{Ll}+$/u.test(token) && !STOPWORDS.has(token.toLowerCase());
    if (acronym || capitalised) out.add(token.toLowerCase());
  });
  return [...out];
}

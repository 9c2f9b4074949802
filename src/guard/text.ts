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

// Tested on a sentence's last characters only: a test of the whole sentence would make a run of abbreviations quadratic.
const ABBREVIATION = /\b(?:dr|mr|mrs|ms|prof|st|vs|etc|fig|al|no|e\.g|i\.e|approx|inc|ltd|co|jr|sr)\.$/i;
// The longest abbreviation and the character before it, which `\b` reads.
const ABBREVIATION_TAIL = 8;

/** A sentence with its character offsets in the text it came from. */
export interface Sentence {
  text: string;
  start: number;
  end: number;
}

// One segmenter for every call: making one costs more than segmenting a paragraph with it.
const SENTENCES = new Intl.Segmenter('en', { granularity: 'sentence' });

// The characters `\s` and `trim()` take for whitespace.
const isSpace = (c: number): boolean =>
  c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;

/** Sentences of a text (Unicode sentence boundaries, not split after common abbreviations), with offsets. */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let pending: number | null = null;
  const push = (start: number, end: number) => {
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    if (end > start) out.push({ text: text.slice(start, end), start, end });
  };
  for (const seg of SENTENCES.segment(text)) {
    const start: number = pending ?? seg.index;
    const end = seg.index + seg.segment.length;
    let last = end;
    while (last > start && isSpace(text.charCodeAt(last - 1))) last--;
    if (ABBREVIATION.test(text.slice(Math.max(start, last - ABBREVIATION_TAIL), last))) {
      pending = start;
      continue;
    }
    pending = null;
    push(start, end);
  }
  if (pending !== null) push(pending, text.length);
  return out;
}

/** Lower-cased word tokens (letters, digits, inner hyphens and apostrophes). */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:[-'’][\p{L}\p{N}]+)*/gu) ?? [];
}

/**
 * Words longer than this are neither stemmed nor looked up in the tokenizer's vocabulary: they are kept as they
 * are and count as rare. No English word comes near it; a run of thousands of letters would cost quadratic time.
 */
export const LONG_WORD_CHARS = 64;

const stemCache = new Map<string, string>();
// Stemming is the costliest step of reading a context; words repeat across chunks, answers and checks.
function stem(word: string): string {
  if (word.length > LONG_WORD_CHARS) return word;
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

/**
 * Longest run of whitespace, or of other characters, that the tokenizer reads in one piece. Byte-pair merging
 * costs time quadratic in the length of a piece, so a longer run is read in pieces of this length; texts
 * without such a run (any prose) are read as the encoding defines.
 */
export const TOKEN_PIECE_CHARS = 256;
// Past this length a piece ends before the next space that follows a visible character: the encoding's
// pre-tokenizer always starts a new piece there, so the cut changes no token and bounds each call's work.
const PIECE_SOFT_CHARS = 2048;

/**
 * The pieces of a text the tokenizer reads one by one: pieces of about 2 KB, cut before a space that follows a
 * visible character (where no token spans), and a run longer than {@link TOKEN_PIECE_CHARS} without such a
 * place (`'a'.repeat(10_000)`, a base64 blob) cut every that many characters (never inside a surrogate pair).
 * Token counts and encodings are the sums of the pieces'.
 *
 * @example
 * tokenPieces('a'.repeat(600)).map((p) => p.length); // [256, 256, 88]
 */
export function tokenPieces(text: string): string[] {
  if (text.length <= TOKEN_PIECE_CHARS) return [text];
  const out: string[] = [];
  let from = 0;
  let run = 0;
  let space = isSpace(text.charCodeAt(0));
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const s = isSpace(c);
    if (s !== space) {
      space = s;
      run = i;
      if (c === 32 && i - from >= PIECE_SOFT_CHARS) {
        out.push(text.slice(from, i));
        from = i;
      }
    } else if (i - run >= TOKEN_PIECE_CHARS && (c < 0xdc00 || c > 0xdfff)) {
      out.push(text.slice(from, i));
      from = i;
      run = i;
    }
  }
  out.push(text.slice(from));
  return out;
}

// Text is text: a special-token string such as <|endoftext|> in a message or a document is counted as the
// characters it is, never refused (gpt-tokenizer throws on it by default).
const AS_TEXT = { disallowedSpecial: new Set<string>() };

let tokenizer: typeof GptTokenizer | null = null;
// Loaded on first use: its encodings take a third of a second that every start would pay otherwise.
const loadTokenizer = (): typeof GptTokenizer => (tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer') as typeof GptTokenizer);

/**
 * Counts, encodes and decodes text in tokens of the `o200k_base` encoding, reading it in {@link tokenPieces}, so
 * that its cost stays linear in the text's length.
 *
 * @example
 * boundedTokenizer.countTokens('Claims must be filed within thirty days.'); // 8
 */
export const boundedTokenizer = {
  countTokens(text: string): number {
    const tok = loadTokenizer();
    let n = 0;
    for (const piece of tokenPieces(text)) n += tok.countTokens(piece, AS_TEXT);
    return n;
  },
  /** The token count of a text if it is at most `limit`, else false, found without counting past the limit. */
  withinLimit(text: string, limit: number): number | false {
    const tok = loadTokenizer();
    let n = 0;
    for (const piece of tokenPieces(text)) {
      const count = tok.isWithinTokenLimit(piece, limit - n, AS_TEXT);
      if (count === false) return false;
      n += count;
    }
    return n;
  },
  encode(text: string): number[] {
    const tok = loadTokenizer();
    const pieces = tokenPieces(text);
    return pieces.length === 1 ? tok.encode(text, AS_TEXT) : pieces.flatMap((p) => tok.encode(p, AS_TEXT));
  },
  decode(tokens: number[]): string {
    return loadTokenizer().decode(tokens);
  },
  pieces: tokenPieces,
};

const LOG_VOCABULARY = Math.log(200_000);
const rarityCache = new Map<string, number>();

/**
 * How rare a word is in general English, 0…1, without a word list: byte-pair vocabularies give frequent words
 * low token ids and split rare words into several tokens, so the id of the first token and the token count
 * are a usable offline proxy for corpus frequency. A word longer than {@link LONG_WORD_CHARS} is rarest (1).
 */
export function rarity(word: string): number {
  if (word.length > LONG_WORD_CHARS) return 1;
  let r = rarityCache.get(word);
  if (r === undefined) {
    const ids = loadTokenizer().encode(` ${word}`, AS_TEXT);
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

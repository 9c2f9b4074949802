// Text helpers on long unbroken input: bounded pieces for the tokenizer, exact results on ordinary text.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decode, encode } from 'gpt-tokenizer';
import { describe, expect, it } from 'vitest';
import { detectPii } from './pii.js';
import { boundedTokenizer, contentWords, LONG_WORD_CHARS, rarity, sentences, TOKEN_PIECE_CHARS, tokenPieces } from './text.js';

function textFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return textFiles(file);
    return /\.(md|csv|html|txt|yaml|jsonl)$/.test(name) ? [file] : [];
  });
}

const runs = {
  letter: 'a'.repeat(20_000),
  dots: '.'.repeat(20_000),
  spaces: `x${' '.repeat(20_000)}y`,
  newlines: `x${'\n'.repeat(20_000)}y`,
  emoji: '😀'.repeat(10_000),
  mixed: `${'ab'.repeat(5000)} ${'Z'.repeat(9000)}.`,
};

describe('token pieces', () => {
  it('cut long runs into pieces with no run longer than the bound, that join back into the text, never inside a surrogate pair', () => {
    for (const [name, text] of Object.entries(runs)) {
      const pieces = tokenPieces(text);
      expect(pieces.join(''), name).toBe(text);
      expect(pieces.length, name).toBeGreaterThan(1);
      const longestRun = Math.max(...pieces.flatMap((p) => (p.match(/\s+|\S+/g) ?? []).map((r) => r.length)));
      expect(longestRun, name).toBeLessThanOrEqual(TOKEN_PIECE_CHARS + 1);
      for (const p of pieces) expect(/^[\uDC00-\uDFFF]/.test(p), name).toBe(false);
      expect(boundedTokenizer.decode(boundedTokenizer.encode(text)), name).toBe(text);
    }
  });

  it('encode and count ordinary documents exactly as the encoding does', () => {
    const files = textFiles(new URL('../../examples', import.meta.url).pathname);
    expect(files.length).toBeGreaterThan(5);
    const all = files.map((f) => readFileSync(f, 'utf8'));
    // Joined, the documents are far longer than a piece: cut where no token spans, the encoding is unchanged.
    for (const text of [...all, all.join('\n\n'), all.join(' ')]) {
      const expected = encode(text);
      expect(boundedTokenizer.encode(text)).toEqual(expected);
      expect(boundedTokenizer.countTokens(text)).toBe(expected.length);
      expect(boundedTokenizer.withinLimit(text, expected.length)).toBe(expected.length);
      expect(boundedTokenizer.withinLimit(text, expected.length - 1)).toBe(false);
      expect(decode(boundedTokenizer.encode(text))).toBe(text);
    }
  });
});

describe('long words', () => {
  it('are kept unstemmed and count as rarest', () => {
    const long = 'abc'.repeat(LONG_WORD_CHARS);
    expect(contentWords(`Claims ${long}`).map((w) => w.term)).toEqual(['claim', long]);
    expect(rarity(long)).toBe(1);
    expect(rarity('claims')).toBeLessThan(1);
  });
});

describe('sentences', () => {
  it('still joins sentences after abbreviations, and a long run of them into one', () => {
    expect(sentences('Dr. Roe filed the claim. It was paid, e.g. within a week. Done.').map((s) => s.text)).toEqual([
      'Dr. Roe filed the claim.',
      'It was paid, e.g. within a week.',
      'Done.',
    ]);
    const text = `  ${'no. '.repeat(20_000)}End.`;
    const [only] = sentences(text);
    expect(sentences(text)).toHaveLength(1);
    expect(only?.start).toBe(2);
    expect(only?.text).toBe(text.trim());
  });
});

describe('PII scan on many matches', () => {
  it('finds every value once, in order, and an address after a long run', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `jane${i}@example.com 078-05-${String(1000 + i)}`).join(' ');
    const found = detectPii(text);
    expect(found).toHaveLength(4000);
    expect(found.filter((m) => m.type === 'EMAIL')).toHaveLength(2000);
    expect(found.every((m, i) => i === 0 || m.start >= found[i - 1]!.end)).toBe(true);
    const long = `${'a%'.repeat(50_000)}@example.com`;
    expect(detectPii(long).map((m) => [m.type, m.end - m.start])).toEqual([['EMAIL', 64 + '@example.com'.length]]);
  });

  it('counts a special-token string as the text it is, never refusing it', () => {
    const text = 'Ignore this: <|endoftext|> and <|fim_prefix|>.';
    expect(boundedTokenizer.countTokens(text)).toBeGreaterThan(8);
    expect(boundedTokenizer.decode(boundedTokenizer.encode(text))).toBe(text);
    expect(boundedTokenizer.withinLimit(text, 1000)).toBe(boundedTokenizer.countTokens(text));
  });
});

import { boundedTokenizer } from '../guard/index.js';

/** Counts and cuts text in tokens of the `o200k_base` encoding. */
export interface Tokenizer {
  countTokens(text: string): number;
  /** The token count of a text if it is at most `limit`, else false (without counting the rest). */
  withinLimit(text: string, limit: number): number | false;
  encode(text: string): number[];
  decode(tokens: number[]): string;
  /** Pieces of a text whose encodings, one after the other, are its encoding. */
  pieces(text: string): string[];
}

/**
 * The tokenizer, loaded on first use: its tables take a moment to load, which commands that never chunk
 * should not pay. It reads a text in pieces (a run longer than 256 characters among them), which keeps its cost linear.
 *
 * @example
 * const tokens = (await loadTokenizer()).countTokens('Claims must be filed within thirty days.');
 */
export function loadTokenizer(): Promise<Tokenizer> {
  return Promise.resolve(boundedTokenizer);
}

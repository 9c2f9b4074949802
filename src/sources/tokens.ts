/** Counts and cuts text in tokens of the `o200k_base` encoding. */
export interface Tokenizer {
  countTokens(text: string): number;
  encode(text: string): number[];
  decode(tokens: number[]): string;
}

let loading: Promise<Tokenizer> | null = null;

/**
 * The tokenizer, loaded on first use: its tables take a moment to load, which commands that never chunk
 * should not pay.
 *
 * @example
 * const tokens = (await loadTokenizer()).countTokens('Claims must be filed within thirty days.');
 */
export function loadTokenizer(): Promise<Tokenizer> {
  return (loading ??= import('gpt-tokenizer').then((m) => ({ countTokens: (t: string) => m.countTokens(t), encode: (t: string) => m.encode(t), decode: (t: number[]) => m.decode(t) })));
}

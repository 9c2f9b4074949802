import { boundedTokenizer } from '../guard/index.js';
import type { ChatMessage } from './providers/provider.js';

/** The text of a message's content: a string, or the text parts of a content array. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => (typeof part === 'object' && part && 'text' in part && typeof part.text === 'string' ? part.text : ''))
      .join('\n');
  }
  return '';
}

// Paragraphs counted lately. A prompt is mostly context chunks that recur from request to request, around a
// question that does not: counting it by paragraph recounts only what is new.
const paragraphs = new Map<string, number>();
const MEMO_MIN_LENGTH = 48;
const MEMO_ENTRIES = 4096;
// Where the o200k pre-tokenizer always starts a new piece: after a run of line breaks, before a character that is
// neither whitespace nor "/" (the only characters a piece may carry across a line break). Tokens never span it,
// so the count of a text is the sum of its parts' counts.
const PARAGRAPH_END = /\n(?=[^\s/])/g;

function countParagraph(text: string): number {
  if (text.length < MEMO_MIN_LENGTH) return boundedTokenizer.countTokens(text);
  const known = paragraphs.get(text);
  if (known !== undefined) return known;
  const count = boundedTokenizer.countTokens(text);
  if (paragraphs.size >= MEMO_ENTRIES) paragraphs.delete(paragraphs.keys().next().value as string);
  paragraphs.set(text, count);
  return count;
}

/** Counts tokens with the o200k encoding (an estimate for models with another tokenizer), by paragraph. */
export function countTextTokens(text: string): number {
  if (text === '') return 0;
  let total = 0;
  let start = 0;
  for (const m of text.matchAll(PARAGRAPH_END)) {
    const end = m.index + 1;
    total += countParagraph(text.slice(start, end));
    start = end;
  }
  return total + (start < text.length ? countParagraph(text.slice(start)) : 0);
}

/**
 * Estimates the input tokens of a message list: content, tool calls and a few tokens of framing per message.
 *
 * @example
 * const tokens = estimateMessageTokens([{ role: 'user', content: 'Hello' }]);
 */
export function estimateMessageTokens(messages: readonly ChatMessage[]): number {
  return messageTokens(messages, countTextTokens);
}

/** Tokens of a message list with `count` for each text: content, tool calls, and framing per message. */
function messageTokens(messages: readonly ChatMessage[], count: (text: string) => number): number {
  let total = 3;
  for (const m of messages) {
    total += 4 + count(messageText(m.content));
    if (m.tool_calls) total += count(JSON.stringify(m.tool_calls));
  }
  return total;
}

/**
 * An upper estimate of a message list's input tokens without a tokenizer, plus the framing
 * {@link estimateMessageTokens} counts. Admission (budget reservations, token rate limits) uses it on every
 * request: the tokenizer's tables (about 15 MB of heap) would lengthen every full garbage collection of the
 * server, and settlement replaces the estimate with the real usage anyway.
 *
 * @example
 * boundMessageTokens([{ role: 'user', content: 'Hello there' }]); // 11 (3 + 4 + 4)
 */
export function boundMessageTokens(messages: readonly ChatMessage[]): number {
  return messageTokens(messages, boundTextTokens);
}

/** An upper estimate of a text's tokens without a tokenizer: a token per 3 bytes, plus half a token per digit or punctuation mark. */
export function boundTextTokens(text: string): number {
  let marks = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // ASCII digits and punctuation: 0x21-0x2f, 0x30-0x39, 0x3a-0x40, 0x5b-0x60, 0x7b-0x7e
    if ((c > 0x20 && c < 0x41) || (c > 0x5a && c < 0x61) || (c > 0x7a && c < 0x7f)) marks++;
  }
  // o200k averages about 4 bytes of prose per token and rarely fewer than 3 for any natural language; digits go in
  // groups of at most three and punctuation often stands alone, so those count extra: ⌈bytes / 3 + marks / 2⌉,
  // in whole sixths of a token: the float form made the optimised code bail out on every call
  // whose sum was not whole ("lost precision"), then be optimised again, over and over.
  const sixths = 2 * Buffer.byteLength(text) + 3 * marks;
  return (sixths - (sixths % 6)) / 6 + (sixths % 6 > 0 ? 1 : 0);
}

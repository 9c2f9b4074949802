import { createRequire } from 'node:module';
import type * as GptTokenizer from 'gpt-tokenizer';
import type { ChatMessage } from './providers/provider.js';

type Tokenizer = typeof GptTokenizer;
let tokenizer: Tokenizer | null = null;

// Loaded on first use: its encodings take a third of a second, which every CLI command would pay otherwise.
function loadTokenizer(): Tokenizer {
  return (tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer') as Tokenizer);
}

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

// Long texts counted lately: a request's prompt is counted to admit it and again for its usage.
const recent = new Map<string, number>();
const MEMO_MIN_LENGTH = 256;
const MEMO_ENTRIES = 64;

/** Counts tokens with the o200k encoding (an estimate for models with another tokenizer). */
export function countTextTokens(text: string): number {
  if (text === '') return 0;
  if (text.length < MEMO_MIN_LENGTH) return loadTokenizer().countTokens(text);
  const known = recent.get(text);
  if (known !== undefined) return known;
  const count = loadTokenizer().countTokens(text);
  if (recent.size >= MEMO_ENTRIES) recent.delete(recent.keys().next().value as string);
  recent.set(text, count);
  return count;
}

/**
 * Estimates the input tokens of a message list: content, tool calls and a few tokens of framing per message.
 *
 * @example
 * const tokens = estimateMessageTokens([{ role: 'user', content: 'Hello' }]);
 */
export function estimateMessageTokens(messages: readonly ChatMessage[]): number {
  let total = 3;
  for (const m of messages) {
    total += 4 + countTextTokens(messageText(m.content));
    if (m.tool_calls) total += countTextTokens(JSON.stringify(m.tool_calls));
  }
  return total;
}

import { randomUUID } from 'node:crypto';
import { checkRelevance, DEFAULT_RELEVANCE_THRESHOLD } from '../../guard/index.js';
import { countTextTokens, estimateMessageTokens, messageText } from '../tokens.js';
import { ProviderError, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider } from './provider.js';

/** What `local/extractive` answers when no sentence addresses the question. */
const NO_ANSWER = 'Extractive answer (quoted, not generated): no sentence in the provided messages supports an answer to this question.';

const STOP_WORDS = new Set(
  'a an and are as at be by can do does for from has have how i in is it its me my of on or our should that the their this to was we what when where which who why will with you your'.split(' '),
);

const words = (text: string) =>
  (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length > 1 && !STOP_WORDS.has(w));

// Sentences quoted besides the best one must score at least this share of it.
const QUOTE_SHARE = 0.5;

// Sentences end after . ! ? followed by a space, and at line breaks (so `a.b@c.com` stays whole).
const SENTENCE_END = /(?<=[.!?])\s+|\n+/;

// Lines read lately, with their sentences' words: the context's chunks recur from request to request. Read-only.
const recentLines = new Map<string, { sentence: string; found: ReadonlySet<string> }[]>();
const RECENT_LINES = 4096;
// Longer lines are not kept: context chunks are shorter, and a huge pasted line would keep a heap of sentences for every garbage collection to walk.
const RECENT_LINE_CHARS = 16_384;

/** A line's sentences that hold a content word, with their words. */
function sentencesOf(line: string): { sentence: string; found: ReadonlySet<string> }[] {
  let known = recentLines.get(line);
  if (!known) {
    known = [];
    for (const part of line.split(SENTENCE_END)) {
      const sentence = part.trim();
      const found = words(sentence);
      if (found.length > 0) known.push({ sentence, found: new Set(found) });
    }
    if (line.length > RECENT_LINE_CHARS) return known;
    if (recentLines.size >= RECENT_LINES) recentLines.delete(recentLines.keys().next().value as string);
    recentLines.set(line, known);
  }
  return known;
}

/**
 * The extractive answer to the last user message: up to three sentences of the earlier messages (of their
 * numbered context passages, when they hold any) that hold the most of its words, quoted in their original
 * order; words weigh by how few passages hold them. When no sentence shares a word with it, or neither its
 * quoted passages together nor any one passage addresses the question (see `checkRelevance`), it says so.
 *
 * @example
 * extractiveAnswer([{ role: 'system', content: 'Paris is the capital of France.' }, { role: 'user', content: 'Capital of France?' }]);
 */
export function extractiveAnswer(messages: ChatBody['messages']): string {
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  const question = lastUser >= 0 ? messageText(messages[lastUser]?.content) : '';
  const asked = [...new Set(words(question))];
  // A numbered context passage (`[3] source/doc v1 …` then its text) lends its number to its sentences as a
  // citation; the passage headers and markdown headings themselves are not quoted.
  const all: { sentence: string; ref: string | null; index: number; found: ReadonlySet<string> }[] = [];
  // Each numbered passage's text, headings included: what relevance reads, as the run's guard does.
  const passageText = new Map<string, string[]>();
  for (const m of messages.slice(0, Math.max(lastUser, 0)).filter((x) => x.role !== 'assistant')) {
    let ref: string | null = null;
    for (const line of messageText(m.content).split('\n')) {
      const header = /^\[(\d+)\] /.exec(line);
      if (header) {
        ref = header[1] ?? null;
        continue;
      }
      if (ref !== null) passageText.set(ref, [...(passageText.get(ref) ?? []), line]);
      if (/^\s*#{1,6}\s/.test(line)) continue;
      for (const { sentence, found } of sentencesOf(line)) all.push({ sentence, ref, index: all.length, found });
    }
  }
  // When the messages hold numbered context passages, only their sentences are quoted: the instructions around
  // them ("You are an assistant for …") are not evidence, even when they share the question's words.
  const fromPassages = all.some((s) => s.ref !== null);
  const candidates = fromPassages ? all.filter((s) => s.ref !== null) : all;
  // A question word weighs by how few passages (or, without passages, sentences) hold it: words every passage
  // shares ("insurance", the company's name) say little.
  // Only the question's words are counted, for each the passages holding it.
  const units = new Set<string>();
  const holders = new Map<string, Set<string>>(asked.map((w) => [w, new Set<string>()]));
  for (const s of candidates) {
    const unit = fromPassages ? (s.ref ?? '') : String(s.index);
    units.add(unit);
    for (const w of asked) if (s.found.has(w)) holders.get(w)?.add(unit);
  }
  const weight = new Map(asked.map((w) => [w, Math.log(1 + (units.size + 1) / ((holders.get(w)?.size ?? 0) + 0.5))]));
  const scored = candidates
    .map((s) => ({ ...s, score: asked.reduce((sum, w) => sum + (s.found.has(w) ? (weight.get(w) ?? 0) : 0), 0) }))
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const best = scored[0]?.score ?? 0;
  if (best === 0) return NO_ANSWER;
  const quoted = scored
    .filter((s) => s.score >= best * QUOTE_SHARE)
    .slice(0, 3)
    .sort((a, b) => a.index - b.index);
  // Sentences that share a word with the question may still be about something else: quote them only when some
  // passage addresses the question.
  const unitOf = (s: { ref: string | null; index: number }) => (fromPassages ? (s.ref ?? '') : String(s.index));
  const texts = fromPassages ? passageText : new Map(candidates.map((s) => [unitOf(s), [s.sentence]]));
  const passages = [...texts].map(([id, lines]) => ({ id, text: lines.join('\n') }));
  // Declined when nothing relevant was retrieved: neither the quoted passages together nor any one passage
  // addresses the question.
  const relevance = checkRelevance(question, quoted.map((s) => s.sentence).join('\n'), passages, quoted.map(unitOf));
  if (Math.max(relevance.score, relevance.contextScore) < DEFAULT_RELEVANCE_THRESHOLD) return NO_ANSWER;
  return `Extractive answer (quoted from the provided messages, not generated): ${quoted.map((s) => `"${s.sentence}"${s.ref ? ` [${s.ref}]` : ''}`).join(' ')}`;
}


const inUse = (v: unknown) => v !== undefined && v !== null && v !== 'none' && v !== 'auto';

/** The first request parameter extractive answers cannot honour (it would be ignored), if any. */
function unsupportedParameter(body: ChatBody): string | null {
  if (Array.isArray(body.tools) && body.tools.length > 0) return 'tools';
  if (inUse(body.tool_choice)) return 'tool_choice';
  if (Array.isArray(body.functions) && body.functions.length > 0) return 'functions';
  if (inUse(body.function_call)) return 'function_call';
  const format = (body.response_format as { type?: unknown } | null | undefined)?.type;
  if (format !== undefined && format !== 'text') return `response_format ${JSON.stringify(format)}`;
  if (typeof body.n === 'number' && body.n > 1) return 'n > 1';
  return null;
}

/**
 * The built-in offline model `local/extractive`: it generates nothing; it quotes the sentences of the system
 * and earlier messages best supported by the last user question, and says so. Usage is counted with gpt-tokenizer.
 *
 * @example
 * const local = new LocalProvider();
 * const completion = await local.chat({ model: 'extractive', messages }, { signal });
 */
export class LocalProvider implements Provider {
  readonly name = 'local';

  private async answer(body: ChatBody): Promise<{ id: string; created: number; text: string; usage: ChatCompletion['usage'] }> {
    if (body.model !== 'extractive') throw new ProviderError(`local: no model ${body.model} (the local provider offers extractive)`, 'unsupported', 404);
    const param = unsupportedParameter(body);
    if (param) throw new ProviderError(`local: extractive does not support ${param}: it quotes text and calls no tools`, 'capability', 400);
    const text = extractiveAnswer(body.messages);
    // Reading and counting a long prompt are two long steps on the main thread: other requests are served between them.
    await new Promise((resolve) => setImmediate(resolve));
    const prompt = estimateMessageTokens(body.messages);
    const completion = countTextTokens(text);
    return {
      id: `chatcmpl-${randomUUID()}`,
      created: Math.floor(Date.now() / 1000),
      text,
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    };
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    options.signal.throwIfAborted();
    const a = await this.answer(body);
    return {
      id: a.id,
      object: 'chat.completion',
      created: a.created,
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: a.text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: a.usage,
    };
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const a = await this.answer(body);
    const base = { id: a.id, object: 'chat.completion.chunk', created: a.created, model: body.model };
    yield { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] };
    for (const piece of a.text.match(/\S+\s*/g) ?? []) {
      options.signal.throwIfAborted();
      yield { ...base, choices: [{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }] };
    }
    yield { ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] };
    yield { ...base, choices: [], usage: a.usage ?? null };
  }

  embeddings(body: Record<string, unknown> & { model: string }): Promise<Record<string, unknown>> {
    return Promise.reject(new ProviderError(`local: ${body.model} does not produce embeddings`, 'capability', 400));
  }
}

import { randomUUID } from 'node:crypto';
import { ProviderError, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider, type Usage } from './provider.js';
import { sseData } from './sse.js';
import { contentParts, functionTools, nowSeconds, parseArguments, stopList, str, textOf, toolCallsOf } from './translate.js';
import { parseEvent, postJson, readJson, streamError } from './upstream.js';

type Part = Record<string, unknown>;
interface Candidate {
  index?: number;
  content?: { parts?: Part[] };
  finishReason?: string;
}
interface GeminiResponse {
  candidates?: Candidate[];
  usageMetadata?: { promptTokenCount?: number; candidatesTokenCount?: number; cachedContentTokenCount?: number; thoughtsTokenCount?: number };
  modelVersion?: string;
  responseId?: string;
}

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']);

function finish(reason: string | undefined, calls: boolean): string | null {
  if (!reason) return null;
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  return calls ? 'tool_calls' : 'stop';
}

function usage(u: GeminiResponse['usageMetadata']): Usage {
  const prompt = u?.promptTokenCount ?? 0;
  const completion = (u?.candidatesTokenCount ?? 0) + (u?.thoughtsTokenCount ?? 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: u?.cachedContentTokenCount ?? 0 } };
}

/**
 * The generateContent request for an OpenAI chat request: system messages become `systemInstruction`,
 * assistant messages `model` turns, tool calls `functionCall` parts and tool messages `functionResponse`
 * parts (named after the call they answer).
 *
 * @example
 * toGeminiRequest({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }] });
 */
export function toGeminiRequest(body: ChatBody): Record<string, unknown> {
  const system: string[] = [];
  const contents: { role: 'user' | 'model'; parts: Part[] }[] = [];
  const callNames = new Map<string, string>();
  const push = (role: 'user' | 'model', parts: Part[]) => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  for (const m of body.messages) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(textOf(m.content));
    } else if (m.role === 'tool' || m.role === 'function') {
      const text = textOf(m.content);
      const name = callNames.get(str(m.tool_call_id)) ?? (str(m.name) || 'tool');
      push('user', [{ functionResponse: { name, response: parseArguments(text) } }]);
    } else {
      const parts: Part[] = contentParts(m.content).map((p) =>
        p.kind === 'text' ? { text: p.text } : p.data ? { inlineData: { mimeType: p.mediaType, data: p.data } } : { fileData: { fileUri: p.url } },
      );
      if (m.role === 'assistant') {
        for (const c of toolCallsOf(m)) {
          callNames.set(c.id, c.name);
          parts.push({ functionCall: { name: c.name, args: parseArguments(c.arguments) } });
        }
      }
      push(m.role === 'assistant' ? 'model' : 'user', parts);
    }
  }
  const tools = functionTools(body.tools);
  const choice = body.tool_choice;
  let mode: string | undefined;
  if (choice === 'auto') mode = 'AUTO';
  else if (choice === 'required') mode = 'ANY';
  else if (choice === 'none') mode = 'NONE';
  const named = typeof choice === 'object' && choice && 'function' in choice ? (choice as { function: { name: string } }).function.name : null;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const generationConfig = {
    ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
    ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
    ...(typeof maxTokens === 'number' ? { maxOutputTokens: maxTokens } : {}),
    ...(stopList(body.stop) ? { stopSequences: stopList(body.stop) } : {}),
    ...(typeof body.n === 'number' ? { candidateCount: body.n } : {}),
  };
  return {
    contents,
    ...(system.length > 0 ? { systemInstruction: { parts: [{ text: system.join('\n\n') }] } } : {}),
    ...(Object.keys(generationConfig).length > 0 ? { generationConfig } : {}),
    ...(tools.length > 0 ? { tools: [{ functionDeclarations: tools }] } : {}),
    ...(named ? { toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [named] } } } : mode && tools.length > 0 ? { toolConfig: { functionCallingConfig: { mode } } } : {}),
  };
}

/** The OpenAI chat completion for a generateContent answer. */
export function fromGeminiResponse(response: GeminiResponse, model: string): ChatCompletion {
  let call = 0;
  const choices = (response.candidates ?? []).map((c, i) => {
    const parts = c.content?.parts ?? [];
    const text = parts.map((p) => (typeof p.text === 'string' && p.thought !== true ? p.text : '')).join('');
    const calls = parts
      .filter((p) => p.functionCall)
      .map((p) => {
        const fc = p.functionCall as { id?: string; name?: string; args?: unknown };
        return { id: fc.id ?? `call_${++call}`, type: 'function', function: { name: String(fc.name ?? ''), arguments: JSON.stringify(fc.args ?? {}) } };
      });
    return {
      index: c.index ?? i,
      message: { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}), refusal: null },
      logprobs: null,
      finish_reason: finish(c.finishReason, calls.length > 0) ?? 'stop',
    };
  });
  return {
    id: response.responseId ? `chatcmpl-${response.responseId}` : `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: response.modelVersion ?? model,
    choices,
    usage: usage(response.usageMetadata),
  };
}

export interface GeminiOptions {
  name: string;
  baseUrl: string;
  apiKey: string | undefined;
}

/**
 * Google's Gemini API (generateContent) behind OpenAI's chat format, both ways, including tools and streaming.
 *
 * @example
 * const gemini = new GeminiProvider({ name: 'gemini', baseUrl: 'https://generativelanguage.googleapis.com/v1beta', apiKey: process.env.GEMINI_API_KEY });
 */
export class GeminiProvider implements Provider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;

  constructor(options: GeminiOptions) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = options.apiKey ? { 'x-goog-api-key': options.apiKey } : {};
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    const url = `${this.baseUrl}/models/${encodeURIComponent(body.model)}:generateContent`;
    const response = await readJson<GeminiResponse>(this.name, await postJson(this.name, url, this.headers, toGeminiRequest(body), options.signal), options.signal);
    if (!response || !Array.isArray(response.candidates)) throw new ProviderError(`${this.name}: the answer has no candidates`, 'malformed');
    return fromGeminiResponse(response, body.model);
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const url = `${this.baseUrl}/models/${encodeURIComponent(body.model)}:streamGenerateContent?alt=sse`;
    const answer = await postJson(this.name, url, this.headers, toGeminiRequest(body), options.signal);
    const id = `chatcmpl-${randomUUID()}`;
    const created = nowSeconds();
    const chunk = (choices: ChatChunk['choices'], extra: Record<string, unknown> = {}): ChatChunk => ({ id, object: 'chat.completion.chunk', created, model: body.model, choices, ...extra });
    let last: GeminiResponse['usageMetadata'];
    let finished = false;
    let started = false;
    let calls = 0;
    try {
      for await (const data of sseData(answer.body)) {
        const event = parseEvent<GeminiResponse & { error?: unknown }>(this.name, data);
        if (event.error) throw new ProviderError(`${this.name}: error event in the stream: ${JSON.stringify(event.error).slice(0, 300)}`, 'http', 500);
        if (event.usageMetadata) last = event.usageMetadata;
        for (const c of event.candidates ?? []) {
          const index = c.index ?? 0;
          if (!started) {
            started = true;
            yield chunk([{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
          }
          const parts = c.content?.parts ?? [];
          const text = parts.map((p) => (typeof p.text === 'string' && p.thought !== true ? p.text : '')).join('');
          if (text !== '') yield chunk([{ index, delta: { content: text }, logprobs: null, finish_reason: null }]);
          const toolCalls = parts
            .filter((p) => p.functionCall)
            .map((p) => {
              const fc = p.functionCall as { id?: string; name?: string; args?: unknown };
              const n = calls++;
              return { index: n, id: fc.id ?? `call_${n + 1}`, type: 'function', function: { name: String(fc.name ?? ''), arguments: JSON.stringify(fc.args ?? {}) } };
            });
          if (toolCalls.length > 0) yield chunk([{ index, delta: { tool_calls: toolCalls }, logprobs: null, finish_reason: null }]);
          const reason = finish(c.finishReason, calls > 0);
          if (reason) {
            finished = true;
            yield chunk([{ index, delta: {}, logprobs: null, finish_reason: reason }]);
          }
        }
      }
    } catch (err) {
      throw streamError(this.name, err, options.signal);
    }
    if (!finished) throw new ProviderError(`${this.name}: the stream ended without a finish reason`, 'network');
    yield chunk([], { usage: usage(last) });
  }

  embeddings(body: Record<string, unknown> & { model: string }): Promise<Record<string, unknown>> {
    return Promise.reject(new ProviderError(`${this.name}: embeddings through the gemini provider are not supported (${body.model})`, 'capability', 400));
  }
}

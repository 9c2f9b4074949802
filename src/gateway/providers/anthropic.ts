import { randomUUID } from 'node:crypto';
import { ProviderError, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider, type Usage } from './provider.js';
import { sseData } from './sse.js';
import { contentParts, functionTools, nowSeconds, parseArguments, stopList, str, textOf, toolCallsOf } from './translate.js';
import { parseEvent, postJson, readJson, streamError } from './upstream.js';

type Block = Record<string, unknown>;
interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: Block[];
}
interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

const FINISH: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter' };

/** OpenAI usage from Anthropic's: cached and cache-writing input tokens are part of the prompt. */
function usage(u: AnthropicUsage): Usage {
  const cached = u.cache_read_input_tokens ?? 0;
  const prompt = (u.input_tokens ?? 0) + cached + (u.cache_creation_input_tokens ?? 0);
  const completion = u.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
}

/**
 * The Messages API request for an OpenAI chat request: system and developer messages become `system`, tool
 * calls `tool_use` blocks, tool messages `tool_result` blocks; consecutive messages of one role are merged,
 * as Anthropic requires alternating roles.
 *
 * @example
 * toAnthropicRequest({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'Hi' }] });
 */
export function toAnthropicRequest(body: ChatBody): Record<string, unknown> {
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  const push = (role: AnthropicMessage['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of body.messages) {
    if (m.role === 'system' || m.role === 'developer') {
      system.push(textOf(m.content));
    } else if (m.role === 'tool' || m.role === 'function') {
      push('user', [{ type: 'tool_result', tool_use_id: str(m.tool_call_id) || str(m.name), content: textOf(m.content) }]);
    } else {
      const blocks: Block[] = contentParts(m.content).map((p) =>
        p.kind === 'text'
          ? { type: 'text', text: p.text }
          : { type: 'image', source: p.data ? { type: 'base64', media_type: p.mediaType, data: p.data } : { type: 'url', url: p.url } },
      );
      if (m.role === 'assistant') for (const c of toolCallsOf(m)) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: parseArguments(c.arguments) });
      push(m.role === 'assistant' ? 'assistant' : 'user', blocks);
    }
  }
  const tools = functionTools(body.tools).map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  const choice = body.tool_choice;
  let toolChoice: Record<string, unknown> | undefined;
  if (choice === 'auto') toolChoice = { type: 'auto' };
  else if (choice === 'required') toolChoice = { type: 'any' };
  else if (typeof choice === 'object' && choice && 'function' in choice) toolChoice = { type: 'tool', name: (choice as { function: { name: string } }).function.name };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return {
    model: body.model,
    max_tokens: typeof maxTokens === 'number' ? maxTokens : 4096,
    messages,
    ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
    ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
    ...(typeof body.top_p === 'number' ? { top_p: body.top_p } : {}),
    ...(stopList(body.stop) ? { stop_sequences: stopList(body.stop) } : {}),
    ...(tools.length > 0 && choice !== 'none' ? { tools } : {}),
    ...(toolChoice && tools.length > 0 ? { tool_choice: toolChoice } : {}),
  };
}

/** The OpenAI chat completion for a Messages API answer. */
export function fromAnthropicMessage(message: { id?: string; model?: string; content?: Block[]; stop_reason?: string; usage?: AnthropicUsage }, model: string): ChatCompletion {
  const blocks = message.content ?? [];
  const text = blocks.filter((b) => b.type === 'text').map((b) => str(b.text)).join('');
  const calls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: String(b.id), type: 'function', function: { name: String(b.name), arguments: JSON.stringify(b.input ?? {}) } }));
  return {
    id: message.id ?? `chatcmpl-${randomUUID()}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: message.model ?? model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}), refusal: null },
        logprobs: null,
        finish_reason: FINISH[message.stop_reason ?? ''] ?? 'stop',
      },
    ],
    usage: usage(message.usage ?? {}),
  };
}

export interface AnthropicOptions {
  name: string;
  baseUrl: string;
  apiKey: string | undefined;
}

/**
 * Anthropic's Messages API behind OpenAI's chat format, both ways, including tools and streaming.
 *
 * @example
 * const claude = new AnthropicProvider({ name: 'anthropic', baseUrl: 'https://api.anthropic.com/v1', apiKey: process.env.ANTHROPIC_API_KEY });
 */
export class AnthropicProvider implements Provider {
  readonly name: string;
  private readonly url: string;
  private readonly headers: Record<string, string>;

  constructor(options: AnthropicOptions) {
    this.name = options.name;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/messages`;
    this.headers = { 'anthropic-version': '2023-06-01', ...(options.apiKey ? { 'x-api-key': options.apiKey } : {}) };
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    const response = await postJson(this.name, this.url, this.headers, toAnthropicRequest(body), options.signal);
    const message = await readJson<{ type?: string; content?: Block[] }>(this.name, response, options.signal);
    if (!message || message.type !== 'message' || !Array.isArray(message.content)) throw new ProviderError(`${this.name}: the answer is not a message`, 'malformed');
    return fromAnthropicMessage(message, body.model);
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const response = await postJson(this.name, this.url, this.headers, { ...toAnthropicRequest(body), stream: true }, options.signal);
    let id = `chatcmpl-${randomUUID()}`;
    let model = body.model;
    const created = nowSeconds();
    const chunk = (choices: ChatChunk['choices'], extra: Record<string, unknown> = {}): ChatChunk => ({ id, object: 'chat.completion.chunk', created, model, choices, ...extra });
    const delta = (d: Record<string, unknown>, finish: string | null = null) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }]);
    const u: AnthropicUsage = {};
    const toolIndex = new Map<number, number>();
    let stopped = false;
    try {
      for await (const data of sseData(response.body)) {
        const event = parseEvent<Record<string, unknown>>(this.name, data);
        switch (event.type) {
          case 'message_start': {
            const m = event.message as { id?: string; model?: string; usage?: AnthropicUsage };
            id = m.id ?? id;
            model = m.model ?? model;
            Object.assign(u, m.usage);
            yield delta({ role: 'assistant', content: '' });
            break;
          }
          case 'content_block_start': {
            const block = event.content_block as Block;
            if (block.type === 'tool_use') {
              const index = toolIndex.size;
              toolIndex.set(Number(event.index), index);
              yield delta({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] });
            }
            break;
          }
          case 'content_block_delta': {
            const d = event.delta as { type?: string; text?: string; partial_json?: string };
            if (d.type === 'text_delta') yield delta({ content: d.text ?? '' });
            if (d.type === 'input_json_delta') yield delta({ tool_calls: [{ index: toolIndex.get(Number(event.index)) ?? 0, function: { arguments: d.partial_json ?? '' } }] });
            break;
          }
          case 'message_delta': {
            Object.assign(u, event.usage);
            const reason = (event.delta as { stop_reason?: string } | undefined)?.stop_reason;
            if (reason) yield delta({}, FINISH[reason] ?? 'stop');
            break;
          }
          case 'message_stop':
            stopped = true;
            yield chunk([], { usage: usage(u) });
            break;
          case 'error':
            throw new ProviderError(`${this.name}: error event in the stream: ${JSON.stringify(event.error).slice(0, 300)}`, 'http', 500);
          default:
            break;
        }
      }
    } catch (err) {
      throw streamError(this.name, err, options.signal);
    }
    if (!stopped) throw new ProviderError(`${this.name}: the stream ended without message_stop`, 'network');
  }

  embeddings(body: Record<string, unknown> & { model: string }): Promise<Record<string, unknown>> {
    return Promise.reject(new ProviderError(`${this.name}: Anthropic offers no embeddings (${body.model})`, 'capability', 400));
  }
}

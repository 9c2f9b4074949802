import { randomUUID } from 'node:crypto';
import { eventStream } from './event-stream.js';
import { ProviderError, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider, type Usage } from './provider.js';
import { contentParts, functionTools, nowSeconds, parseArguments, stopList, str, textOf, toolCallsOf } from './translate.js';
import type { SigV4Signer } from './sigv4.js';
import { postJson, readJson, streamError } from './upstream.js';

type Block = Record<string, unknown>;
interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

const FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

function usage(u: BedrockUsage | undefined): Usage {
  const cached = u?.cacheReadInputTokens ?? 0;
  const prompt = (u?.inputTokens ?? 0) + cached + (u?.cacheWriteInputTokens ?? 0);
  const completion = u?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
}

/**
 * The Converse API request for an OpenAI chat request (Bedrock's one format for every model family).
 *
 * @example
 * toBedrockRequest({ model: 'anthropic.claude-3-5-haiku-20241022-v1:0', messages: [{ role: 'user', content: 'Hi' }] });
 */
export function toBedrockRequest(body: ChatBody): Record<string, unknown> {
  const system: { text: string }[] = [];
  const messages: { role: 'user' | 'assistant'; content: Block[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of body.messages) {
    if (m.role === 'system' || m.role === 'developer') system.push({ text: textOf(m.content) });
    else if (m.role === 'tool' || m.role === 'function') {
      push('user', [{ toolResult: { toolUseId: str(m.tool_call_id) || str(m.name), content: [{ text: textOf(m.content) }] } }]);
    } else {
      const blocks: Block[] = contentParts(m.content).map((p) =>
        p.kind === 'text' ? { text: p.text } : { image: { format: (p.mediaType ?? 'image/png').replace('image/', ''), source: { bytes: p.data ?? '' } } },
      );
      if (m.role === 'assistant') for (const c of toolCallsOf(m)) blocks.push({ toolUse: { toolUseId: c.id, name: c.name, input: parseArguments(c.arguments) } });
      push(m.role === 'assistant' ? 'assistant' : 'user', blocks);
    }
  }
  const tools = functionTools(body.tools).map((t) => ({ toolSpec: { name: t.name, ...(t.description ? { description: t.description } : {}), inputSchema: { json: t.parameters } } }));
  const choice = body.tool_choice;
  let toolChoice: Record<string, unknown> | undefined;
  if (choice === 'auto') toolChoice = { auto: {} };
  else if (choice === 'required') toolChoice = { any: {} };
  else if (typeof choice === 'object' && choice && 'function' in choice) toolChoice = { tool: { name: (choice as { function: { name: string } }).function.name } };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const inferenceConfig = {
    ...(typeof maxTokens === 'number' ? { maxTokens } : {}),
    ...(typeof body.temperature === 'number' ? { temperature: body.temperature } : {}),
    ...(typeof body.top_p === 'number' ? { topP: body.top_p } : {}),
    ...(stopList(body.stop) ? { stopSequences: stopList(body.stop) } : {}),
  };
  return {
    messages,
    ...(system.length > 0 ? { system } : {}),
    ...(Object.keys(inferenceConfig).length > 0 ? { inferenceConfig } : {}),
    ...(tools.length > 0 && choice !== 'none' ? { toolConfig: { tools, ...(toolChoice ? { toolChoice } : {}) } } : {}),
  };
}

export interface BedrockOptions {
  name: string;
  baseUrl: string;
  apiKey: string | undefined;
  /** Signs every request with AWS Signature V4 instead of sending a Bedrock API key. */
  signer?: SigV4Signer | undefined;
}

/**
 * Amazon Bedrock's Converse API behind OpenAI's chat format, both ways, including tools and streaming (the
 * AWS event-stream encoding). Authenticates with a Bedrock API key (`Authorization: Bearer`) or, given a
 * signer, with AWS Signature V4 over each request.
 *
 * @example
 * const bedrock = new BedrockProvider({ name: 'bedrock', baseUrl: 'https://bedrock-runtime.eu-west-1.amazonaws.com', apiKey: process.env.AWS_BEARER_TOKEN_BEDROCK });
 */
export class BedrockProvider implements Provider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly headers: Record<string, string> | ((url: string, headers: Record<string, string>, body: string) => Record<string, string>);

  constructor(options: BedrockOptions) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const signer = options.signer;
    this.headers = signer ? (url, headers, body) => signer.sign(url, headers, body) : options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    const url = `${this.baseUrl}/model/${encodeURIComponent(body.model)}/converse`;
    const answer = await readJson<{ output?: { message?: { content?: Block[] } }; stopReason?: string; usage?: BedrockUsage }>(
      this.name,
      await postJson(this.name, url, this.headers, toBedrockRequest(body), options.signal),
      options.signal,
    );
    const blocks = answer?.output?.message?.content;
    if (!Array.isArray(blocks)) throw new ProviderError(`${this.name}: the answer has no output message`, 'malformed');
    const text = blocks.map((b) => str(b.text)).join('');
    const calls = blocks
      .filter((b) => b.toolUse)
      .map((b) => {
        const t = b.toolUse as { toolUseId?: string; name?: string; input?: unknown };
        return { id: t.toolUseId ?? `call_${randomUUID()}`, type: 'function', function: { name: str(t.name), arguments: JSON.stringify(t.input ?? {}) } };
      });
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: nowSeconds(),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, ...(calls.length > 0 ? { tool_calls: calls } : {}), refusal: null },
          logprobs: null,
          finish_reason: FINISH[answer.stopReason ?? ''] ?? 'stop',
        },
      ],
      usage: usage(answer.usage),
    };
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const url = `${this.baseUrl}/model/${encodeURIComponent(body.model)}/converse-stream`;
    const answer = await postJson(this.name, url, this.headers, toBedrockRequest(body), options.signal);
    const id = `chatcmpl-${randomUUID()}`;
    const created = nowSeconds();
    const delta = (d: Record<string, unknown>, finish: string | null = null): ChatChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: body.model,
      choices: [{ index: 0, delta: d, logprobs: null, finish_reason: finish }],
    });
    const toolIndex = new Map<number, number>();
    let stopped = false;
    let u: BedrockUsage | undefined;
    try {
      for await (const message of eventStream(answer.body)) {
        const payload = message.payload.length > 0 ? (JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>) : {};
        if (message.headers[':message-type'] === 'exception') {
          const kind = message.headers[':exception-type'] ?? 'exception';
          const status = kind === 'throttlingException' ? 429 : kind === 'validationException' ? 400 : 500;
          throw new ProviderError(`${this.name}: ${kind} in the stream: ${str(payload.message)}`, 'http', status);
        }
        switch (message.headers[':event-type']) {
          case 'messageStart':
            yield delta({ role: 'assistant', content: '' });
            break;
          case 'contentBlockStart': {
            const start = (payload.start as { toolUse?: { toolUseId?: string; name?: string } } | undefined)?.toolUse;
            if (start) {
              const index = toolIndex.size;
              toolIndex.set(Number(payload.contentBlockIndex), index);
              yield delta({ tool_calls: [{ index, id: start.toolUseId, type: 'function', function: { name: start.name, arguments: '' } }] });
            }
            break;
          }
          case 'contentBlockDelta': {
            const d = payload.delta as { text?: string; toolUse?: { input?: string } } | undefined;
            if (typeof d?.text === 'string') yield delta({ content: d.text });
            if (d?.toolUse) yield delta({ tool_calls: [{ index: toolIndex.get(Number(payload.contentBlockIndex)) ?? 0, function: { arguments: d.toolUse.input ?? '' } }] });
            break;
          }
          case 'messageStop':
            stopped = true;
            yield delta({}, FINISH[str(payload.stopReason)] ?? 'stop');
            break;
          case 'metadata':
            u = payload.usage as BedrockUsage | undefined;
            break;
          default:
            break;
        }
      }
    } catch (err) {
      if (err instanceof SyntaxError) throw new ProviderError(`${this.name}: a stream event is not valid JSON`, 'malformed');
      throw streamError(this.name, err, options.signal);
    }
    if (!stopped) throw new ProviderError(`${this.name}: the stream ended without messageStop`, 'network');
    yield { id, object: 'chat.completion.chunk', created, model: body.model, choices: [], usage: usage(u) };
  }

  embeddings(body: Record<string, unknown> & { model: string }): Promise<Record<string, unknown>> {
    return Promise.reject(new ProviderError(`${this.name}: embeddings through the bedrock provider are not supported (${body.model})`, 'capability', 400));
  }
}

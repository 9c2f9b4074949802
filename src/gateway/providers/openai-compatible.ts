import { ProviderError, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider } from './provider.js';
import { sseData } from './sse.js';
import { parseEvent, postJson, readJson, streamError } from './upstream.js';

export interface OpenAiCompatibleOptions {
  name: string;
  baseUrl: string;
  apiKey: string | undefined;
}

/**
 * Any endpoint speaking OpenAI's API (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp, LM Studio …): requests
 * and responses pass through unchanged.
 *
 * @example
 * const openai = new OpenAiCompatibleProvider({ name: 'openai', baseUrl: 'https://api.openai.com/v1', apiKey: process.env.OPENAI_API_KEY });
 */
export class OpenAiCompatibleProvider implements Provider {
  readonly name: string;
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;

  constructor(options: OpenAiCompatibleOptions) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    const response = await postJson(this.name, `${this.baseUrl}/chat/completions`, this.headers, { ...body, stream: false }, options.signal);
    const completion = await readJson<ChatCompletion>(this.name, response, options.signal);
    if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) {
      throw new ProviderError(`${this.name}: the answer is not a chat completion`, 'malformed');
    }
    return completion;
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const streamOptions = typeof body.stream_options === 'object' && body.stream_options ? body.stream_options : {};
    const request = { ...body, stream: true, stream_options: { ...streamOptions, include_usage: true } };
    const response = await postJson(this.name, `${this.baseUrl}/chat/completions`, this.headers, request, options.signal);
    let done = false;
    try {
      for await (const data of sseData(response.body)) {
        if (data.trim() === '[DONE]') {
          done = true;
          break;
        }
        const chunk = parseEvent<ChatChunk>(this.name, data);
        if (typeof chunk === 'object' && chunk && 'error' in chunk) {
          throw new ProviderError(`${this.name}: error event in the stream: ${JSON.stringify(chunk.error).slice(0, 300)}`, 'http', 500);
        }
        if (!Array.isArray(chunk.choices)) throw new ProviderError(`${this.name}: a stream event is not a chat completion chunk`, 'malformed');
        yield chunk;
      }
    } catch (err) {
      throw streamError(this.name, err, options.signal);
    }
    if (!done) throw new ProviderError(`${this.name}: the stream ended without [DONE]`, 'network');
  }

  async embeddings(body: Record<string, unknown> & { model: string }, options: CallOptions): Promise<Record<string, unknown>> {
    const response = await postJson(this.name, `${this.baseUrl}/embeddings`, this.headers, body, options.signal);
    const result = await readJson<Record<string, unknown>>(this.name, response, options.signal);
    if (!result || typeof result !== 'object' || !Array.isArray(result.data)) throw new ProviderError(`${this.name}: the answer is not an embedding list`, 'malformed');
    return result;
  }
}

import { ProviderError, retryAfterMs, type CallOptions, type ChatBody, type ChatChunk, type ChatCompletion, type Provider } from './provider.js';
import { send, type Answer } from './http.js';
import { sseData } from './sse.js';

export interface OpenAiCompatibleOptions {
  name: string;
  baseUrl: string;
  apiKey: string | undefined;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
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
  private readonly apiKey: string | undefined;

  constructor(options: OpenAiCompatibleOptions) {
    this.name = options.name;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
  }

  private async post(path: string, body: unknown, options: CallOptions): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    let response: Answer;
    try {
      response = await send(`${this.baseUrl}${path}`, headers, JSON.stringify(body), options.signal);
    } catch (err) {
      if (isAbort(err) || options.signal.aborted) throw new ProviderError(`${this.name}: request timed out or was cancelled`, 'timeout');
      throw new ProviderError(`${this.name}: cannot reach the provider: ${(err as Error).message}`, 'network');
    }
    if (response.status < 200 || response.status > 299) {
      const text = await response.text().catch(() => '');
      let upstream: unknown;
      try {
        upstream = (JSON.parse(text) as { error?: unknown }).error;
      } catch {
        upstream = undefined;
      }
      const message = typeof upstream === 'object' && upstream && 'message' in upstream ? String(upstream.message) : text.slice(0, 300);
      throw new ProviderError(`${this.name}: HTTP ${response.status}: ${message}`, 'http', response.status, retryAfterMs(response.header('retry-after')), upstream);
    }
    return response;
  }

  private async json<T>(response: Answer, options: CallOptions): Promise<T> {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      if (isAbort(err) || options.signal.aborted) throw new ProviderError(`${this.name}: request timed out or was cancelled`, 'timeout');
      throw new ProviderError(`${this.name}: connection closed while reading the answer`, 'network');
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ProviderError(`${this.name}: the answer is not valid JSON`, 'malformed');
    }
  }

  async chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion> {
    const completion = await this.json<ChatCompletion>(await this.post('/chat/completions', { ...body, stream: false }, options), options);
    if (!completion || typeof completion !== 'object' || !Array.isArray(completion.choices)) {
      throw new ProviderError(`${this.name}: the answer is not a chat completion`, 'malformed');
    }
    return completion;
  }

  async *chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk> {
    const streamOptions = typeof body.stream_options === 'object' && body.stream_options ? body.stream_options : {};
    const response = await this.post('/chat/completions', { ...body, stream: true, stream_options: { ...streamOptions, include_usage: true } }, options);
    let done = false;
    try {
      for await (const data of sseData(response.body)) {
        if (data.trim() === '[DONE]') {
          done = true;
          break;
        }
        let chunk: ChatChunk;
        try {
          chunk = JSON.parse(data) as ChatChunk;
        } catch {
          throw new ProviderError(`${this.name}: a stream event is not valid JSON`, 'malformed');
        }
        if (typeof chunk === 'object' && chunk && 'error' in chunk) {
          throw new ProviderError(`${this.name}: error event in the stream: ${JSON.stringify(chunk.error).slice(0, 300)}`, 'http', 500);
        }
        if (!Array.isArray(chunk.choices)) throw new ProviderError(`${this.name}: a stream event is not a chat completion chunk`, 'malformed');
        yield chunk;
      }
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      if (isAbort(err) || options.signal.aborted) throw new ProviderError(`${this.name}: stream timed out or was cancelled`, 'timeout');
      throw new ProviderError(`${this.name}: the connection closed mid-stream: ${(err as Error).message}`, 'network');
    }
    if (!done) throw new ProviderError(`${this.name}: the stream ended without [DONE]`, 'network');
  }

  async embeddings(body: Record<string, unknown> & { model: string }, options: CallOptions): Promise<Record<string, unknown>> {
    const result = await this.json<Record<string, unknown>>(await this.post('/embeddings', body, options), options);
    if (!result || typeof result !== 'object' || !Array.isArray(result.data)) throw new ProviderError(`${this.name}: the answer is not an embedding list`, 'malformed');
    return result;
  }
}

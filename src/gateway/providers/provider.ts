/** An OpenAI chat completion request body (passed through as faithfully as possible). */
export type ChatBody = Record<string, unknown> & { model: string; messages: ChatMessage[]; stream?: boolean };

export interface ChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

/** Token usage as OpenAI reports it. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number };
  [key: string]: unknown;
}

/** A chat completion object (`object: "chat.completion"`). */
export type ChatCompletion = Record<string, unknown> & { usage?: Usage; choices: Record<string, unknown>[] };

/** One streamed chunk (`object: "chat.completion.chunk"`). */
export type ChatChunk = Record<string, unknown> & { usage?: Usage | null; choices: Record<string, unknown>[] };

export interface CallOptions {
  signal: AbortSignal;
}

/**
 * One model provider behind the gateway. Requests and responses are in OpenAI's wire format; a provider
 * speaking another format translates both ways.
 *
 * @example
 * const completion = await provider.chat({ model: 'gpt-4o-mini', messages }, { signal });
 */
export interface Provider {
  readonly name: string;
  chat(body: ChatBody, options: CallOptions): Promise<ChatCompletion>;
  /** Chunks in order; the last one carries `usage` when the provider reports it. */
  chatStream(body: ChatBody, options: CallOptions): AsyncIterable<ChatChunk>;
  embeddings(body: Record<string, unknown> & { model: string }, options: CallOptions): Promise<Record<string, unknown>>;
}

/** Why an upstream call failed, and whether another attempt may succeed. */
export class ProviderError extends Error {
  constructor(
    message: string,
    /** `capability`: the model cannot do what the request asks (embeddings, tools …); another target may. */
    readonly kind: 'http' | 'timeout' | 'network' | 'malformed' | 'unsupported' | 'capability',
    /** Upstream HTTP status, when there was one. */
    readonly status: number | null = null,
    /** From Retry-After, in milliseconds. */
    readonly retryAfterMs: number | null = null,
    /** The upstream error body, when it had OpenAI's shape. */
    readonly upstream: unknown = undefined,
  ) {
    super(message);
    this.name = 'ProviderError';
  }

  /** 429, 5xx, timeouts, broken connections and malformed answers may succeed on another attempt. */
  get retryable(): boolean {
    if (this.kind === 'http') return this.status === 429 || (this.status ?? 0) >= 500;
    return this.kind !== 'unsupported' && this.kind !== 'capability';
  }
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

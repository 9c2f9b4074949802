import { send, type Answer } from './http.js';
import { ProviderError, retryAfterMs } from './provider.js';

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/** The message of an error body in OpenAI's, Anthropic's or Gemini's shape (`{"error": {"message": …}}`) or AWS's (`{"message": …}`). */
function upstreamError(text: string): { upstream: unknown; message: string } {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const upstream = parsed.error;
    if (typeof upstream === 'object' && upstream && 'message' in upstream) return { upstream, message: String(upstream.message) };
    // AWS services answer {"message": …}.
    if (upstream === undefined && typeof parsed.message === 'string') return { upstream, message: parsed.message };
    return { upstream, message: text.slice(0, 300) };
  } catch {
    return { upstream: undefined, message: text.slice(0, 300) };
  }
}

/**
 * POSTs JSON to a provider (`headers` may be a function of the URL, the headers and the body, to sign them); any non-2xx answer becomes a {@link ProviderError} carrying the status,
 * Retry-After and the provider's error object.
 *
 * @example
 * const answer = await postJson('openai', 'https://api.openai.com/v1/chat/completions', { authorization: 'Bearer …' }, body, signal);
 */
export async function postJson(
  provider: string,
  url: string,
  headers: Record<string, string> | ((url: string, headers: Record<string, string>, body: string) => Record<string, string>),
  body: unknown,
  signal: AbortSignal,
): Promise<Answer> {
  let response: Answer;
  try {
    const text = JSON.stringify(body);
    // A function signs the exact bytes that are sent (AWS Signature V4).
    const all = typeof headers === 'function' ? headers(url, { 'content-type': 'application/json' }, text) : { 'content-type': 'application/json', ...headers };
    response = await send(url, all, text, signal);
  } catch (err) {
    if (isAbort(err) || signal.aborted) throw new ProviderError(`${provider}: request timed out or was cancelled`, 'timeout');
    throw new ProviderError(`${provider}: cannot reach the provider: ${(err as Error).message}`, 'network');
  }
  if (response.status < 200 || response.status > 299) {
    const { upstream, message } = upstreamError(await response.text().catch(() => ''));
    throw new ProviderError(`${provider}: HTTP ${response.status}: ${message}`, 'http', response.status, retryAfterMs(response.header('retry-after')), upstream);
  }
  return response;
}

/** Reads a whole answer as JSON, or throws `malformed` / `network` / `timeout`. */
export async function readJson<T>(provider: string, response: Answer, signal: AbortSignal): Promise<T> {
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    if (isAbort(err) || signal.aborted) throw new ProviderError(`${provider}: request timed out or was cancelled`, 'timeout');
    throw new ProviderError(`${provider}: connection closed while reading the answer`, 'network');
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ProviderError(`${provider}: the answer is not valid JSON`, 'malformed');
  }
}

/** Maps an error thrown while reading a stream to a {@link ProviderError}. */
export function streamError(provider: string, err: unknown, signal: AbortSignal): ProviderError {
  if (err instanceof ProviderError) return err;
  if (isAbort(err) || signal.aborted) return new ProviderError(`${provider}: stream timed out or was cancelled`, 'timeout');
  return new ProviderError(`${provider}: the connection closed mid-stream: ${(err as Error).message}`, 'network');
}

/** Parses one stream event's JSON, or throws `malformed`. */
export function parseEvent<T>(provider: string, data: string): T {
  try {
    return JSON.parse(data) as T;
  } catch {
    throw new ProviderError(`${provider}: a stream event is not valid JSON`, 'malformed');
  }
}

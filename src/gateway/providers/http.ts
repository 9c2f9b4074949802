import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** An upstream answer: status, headers and a body read once, as text or as a stream of bytes. */
export interface Answer {
  status: number;
  header(name: string): string | null;
  text(): Promise<string>;
  body: AsyncIterable<Uint8Array>;
}

// Kept-alive connections per upstream: a model call should not pay for a TCP or TLS handshake.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 1024 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1024 });

// How a kept-alive connection the upstream closed shows when a request is written to it.
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

/** A request that failed on a reused connection before any byte of an answer: the upstream never took it. */
class StaleConnection extends Error {
  constructor(readonly original: Error) {
    super(original.message);
  }
}

/**
 * POSTs `body` and resolves when the response headers arrive (node:http is lighter per call than fetch). A
 * kept-alive connection that the upstream closed (reset before any answer byte) is retried once on a new one.
 *
 * @example
 * const answer = await send('http://127.0.0.1:8000/v1/chat/completions', { 'content-type': 'application/json' }, '{}', signal);
 */
export async function send(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer> {
  const target = new URL(url);
  const https = target.protocol === 'https:';
  try {
    return await post(target, https ? httpsAgent : httpAgent, headers, body, signal);
  } catch (err) {
    if (!(err instanceof StaleConnection)) throw err;
    // A connection of its own (no pool), so the retry cannot meet another closed one.
    return post(target, false, headers, body, signal).catch((retryErr: unknown) => {
      throw retryErr instanceof StaleConnection ? retryErr.original : retryErr;
    });
  }
}

function post(target: URL, agent: HttpAgent | false, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Answer> {
  const https = target.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      target,
      { method: 'POST', agent, signal, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res: IncomingMessage) => {
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = res.headers[name];
            return typeof v === 'string' ? v : null;
          },
          body: res,
          text: async () => {
            const parts: Buffer[] = [];
            for await (const part of res) parts.push(part as Buffer);
            if (!res.complete) throw new Error('the connection closed before the answer was complete');
            return Buffer.concat(parts).toString('utf8');
          },
        });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Only an error before the response counts: once it resolved, failures surface while reading the body.
      reject(req.reusedSocket && !signal.aborted && STALE_CONNECTION.has(err.code ?? '') ? new StaleConnection(err) : err);
    });
    req.end(body);
  });
}

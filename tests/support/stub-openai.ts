// A local stub of an OpenAI-compatible provider on 127.0.0.1, with fault injection chosen by model name:
//   ok | echo (answers with the last user message) | tools | no-usage | fail-500 | rate-limit (429, Retry-After: 0)
//   | hang | malformed | bad-request (400) | midstream-fail (stream breaks after two chunks) | slow-stream
//   | flaky-N (the first N requests of that model fail with 503, then it answers)
//   | judge-S (answers a groundedness verdict {"score": S, "unsupported": []})
//   | quote (answers with the first sentence of the first numbered context passage, whatever was asked)
//   | tools-echo (a tool call whose arguments hold the last user message; streamed four characters a chunk)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  path: string;
  body: Record<string, unknown> & { model: string; messages?: { role: string; content: unknown }[] };
  authorization: string | undefined;
}

export interface StubOpenAi {
  url: string;
  requests: StubRequest[];
  /** Requests whose client went away before the answer was complete. */
  cancelled: number;
  close(): Promise<void>;
}

const USAGE = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };

/** The first sentence after the first `[1] …` passage header of the messages. */
function firstPassageSentence(body: StubRequest['body']): string {
  const text = (body.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
  const lines = text.split('\n');
  const header = lines.findIndex((l) => l.startsWith('[1] '));
  const line = lines.slice(header + 1).find((l) => l.trim() !== '' && !l.startsWith('#')) ?? '';
  return /^.*?[.!?](?=\s|$)/.exec(line.trim())?.[0] ?? line.trim();
}

function lastUser(body: StubRequest['body']): string {
  const m = [...(body.messages ?? [])].reverse().find((x) => x.role === 'user');
  return typeof m?.content === 'string' ? m.content : '';
}

export async function startStubOpenAi(): Promise<StubOpenAi> {
  const seen = new Map<string, number>();
  const stub: Omit<StubOpenAi, 'url' | 'close'> = { requests: [], cancelled: 0 };
  const handle = async (req: IncomingMessage, res: ServerResponse, text: string) => {
    const body = JSON.parse(text) as StubRequest['body'];
    stub.requests.push({ path: req.url ?? '', body, authorization: req.headers.authorization });
    const model = body.model;
    const count = (seen.get(model) ?? 0) + 1;
    seen.set(model, count);
    res.on('close', () => {
      if (!res.writableFinished) stub.cancelled++;
    });
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    const flaky = /^flaky-(\d+)$/.exec(model);
    if (model === 'fail-500' || (flaky && count <= Number(flaky[1]))) return json(model === 'fail-500' ? 500 : 503, { error: { message: 'upstream exploded', type: 'server_error', code: null } });
    if (model === 'rate-limit') return json(429, { error: { message: 'slow down', type: 'rate_limit_error' } }, { 'retry-after': '0' });
    if (model === 'bad-request') return json(400, { error: { message: 'temperature must be at most 2', type: 'invalid_request_error', param: 'temperature', code: null } });
    if (model === 'hang') return;
    if (model === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"id": "x", "choices": [');
    }
    if (req.url === '/v1/embeddings') {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      return json(200, { object: 'list', data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] })), model, usage: { prompt_tokens: 8, total_tokens: 8 } });
    }
    const verdict = /^judge-(\d+(?:\.\d+)?)$/.exec(model);
    const content = model === 'echo' ? lastUser(body) : model === 'quote' ? firstPassageSentence(body) : verdict ? JSON.stringify({ score: Number(verdict[1]), unsupported: [] }) : 'Hello from the stub upstream.';
    const toolArguments = model === 'tools' ? JSON.stringify({ city: 'Paris' }) : model === 'tools-echo' ? JSON.stringify({ note: lastUser(body) }) : null;
    const toolCalls = toolArguments !== null ? [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: toolArguments } }] : undefined;
    const base = { id: 'chatcmpl-stub', created: 1_700_000_000, model };
    if (body.stream !== true) {
      return json(200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: toolCalls ? null : content, ...(toolCalls ? { tool_calls: toolCalls } : {}), refusal: null }, logprobs: null, finish_reason: toolCalls ? 'tool_calls' : 'stop' }],
        ...(model === 'no-usage' ? {} : { usage: USAGE }),
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (chunk: unknown) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...(chunk as object) })}\n\n`);
    const pieces = content.match(/\S+\s*|\s+/g) ?? [];
    send({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    if (model === 'tools-echo' && toolArguments !== null) {
      send({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] });
      for (const piece of toolArguments.match(/[^]{1,4}/g) ?? []) send({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, finish_reason: null }] });
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] });
      if ((body.stream_options as { include_usage?: boolean } | undefined)?.include_usage) send({ choices: [], usage: USAGE });
      return res.end('data: [DONE]\n\n');
    }
    for (const [i, piece] of pieces.entries()) {
      if (model === 'midstream-fail' && i === 2) {
        // Let the first chunks reach the client before the connection breaks.
        await new Promise((r) => setTimeout(r, 30));
        return res.destroy();
      }
      if (model === 'slow-stream') await new Promise((r) => setTimeout(r, 50));
      if (res.destroyed) return;
      send({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    }
    if (model === 'slow-stream') await new Promise((r) => setTimeout(r, 2000));
    if (res.destroyed) return;
    send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage && model !== 'no-usage') send({ choices: [], usage: USAGE });
    res.end('data: [DONE]\n\n');
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => void handle(req, res, text).catch(() => res.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

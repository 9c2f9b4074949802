// Local stubs of Anthropic's Messages API, Google's Gemini API and Amazon Bedrock's Converse API on 127.0.0.1,
// speaking their wire formats.
// Models: ok (text), tools (a tool call), overloaded (Anthropic 529 / Gemini 503).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sigV4Problem, type SigV4Expectation } from './sigv4.js';

export interface StubProvider {
  url: string;
  requests: { path: string; headers: IncomingMessage['headers']; body: Record<string, unknown>; method: string; raw: string }[];
  close(): Promise<void>;
}

async function serve(handle: (path: string, body: Record<string, unknown>, res: ServerResponse, req: StubProvider['requests'][number]) => void): Promise<StubProvider> {
  const requests: StubProvider['requests'] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      const recorded = { path: req.url ?? '', headers: req.headers, body, method: req.method ?? '', raw: text };
      requests.push(recorded);
      handle(req.url ?? '', body, res, recorded);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const sse = (res: ServerResponse, events: unknown[], named = false) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(`${named ? `event: ${(e as { type: string }).type}\n` : ''}data: ${JSON.stringify(e)}\n\n`);
  res.end();
};

export function startStubAnthropic(): Promise<StubProvider> {
  return serve((_path, body, res) => {
    if (body.model === 'overloaded') {
      res.writeHead(529, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
      return;
    }
    const tools = body.model === 'tools';
    const usage = { input_tokens: 12, output_tokens: 6, cache_read_input_tokens: 4 };
    if (body.stream !== true) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: tools ? [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] : [{ type: 'text', text: 'Hello from Claude.' }],
          stop_reason: tools ? 'tool_use' : 'end_turn',
          usage,
        }),
      );
      return;
    }
    sse(
      res,
      [
        { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: body.model, content: [], usage: { input_tokens: 12, output_tokens: 1, cache_read_input_tokens: 4 } } },
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        { type: 'ping' },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello ' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'from Claude.' } },
        { type: 'content_block_stop', index: 0 },
        ...(tools
          ? [
              { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } },
              { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city": ' } },
              { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
              { type: 'content_block_stop', index: 1 },
            ]
          : []),
        { type: 'message_delta', delta: { stop_reason: tools ? 'tool_use' : 'end_turn' }, usage: { output_tokens: 6 } },
        { type: 'message_stop' },
      ],
      true,
    );
  });
}

export function startStubGemini(): Promise<StubProvider> {
  return serve((path, body, res) => {
    const model = /models\/([^:]+):/.exec(path)?.[1] ?? '';
    if (model === 'overloaded') {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
      return;
    }
    const tools = model === 'tools';
    const usageMetadata = { promptTokenCount: 9, candidatesTokenCount: 4, totalTokenCount: 13 };
    const parts = tools ? [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] : [{ text: 'Hello from Gemini.' }];
    if (!path.includes('streamGenerateContent')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ candidates: [{ index: 0, content: { role: 'model', parts }, finishReason: 'STOP' }], usageMetadata, modelVersion: model }));
      return;
    }
    void body;
    sse(res, [
      { candidates: [{ index: 0, content: { role: 'model', parts: tools ? parts : [{ text: 'Hello ' }] } }], modelVersion: model },
      { candidates: [{ index: 0, content: { role: 'model', parts: tools ? [] : [{ text: 'from Gemini.' }] }, finishReason: 'STOP' }], usageMetadata, modelVersion: model },
    ]);
  });
}

/** One AWS event-stream message with string headers (CRCs left zero: the reader under test skips them). */
function encodeEvent(headers: Record<string, string>, payload: unknown): Buffer {
  const parts = Object.entries(headers).map(([name, value]) => {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(1 + n.length + 3);
    head.writeUInt8(n.length, 0);
    n.copy(head, 1);
    head.writeUInt8(7, 1 + n.length);
    head.writeUInt16BE(v.length, 2 + n.length);
    return Buffer.concat([head, v]);
  });
  const headerBytes = Buffer.concat(parts);
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(12 + headerBytes.length + body.length + 4, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  return Buffer.concat([prelude, headerBytes, body, Buffer.alloc(4)]);
}

/**
 * Amazon Bedrock's Converse and ConverseStream. Models: ok, tools, throttled (a throttling exception mid-stream,
 * 429 otherwise). With `sigv4`, a request whose AWS Signature V4 does not verify gets 403, as from AWS.
 */
export function startStubBedrock(options: { sigv4?: SigV4Expectation } = {}): Promise<StubProvider> {
  return serve((path, _body, res, req) => {
    const problem = options.sigv4 ? sigV4Problem(req.method, req.path, req.headers, req.raw, options.sigv4) : null;
    if (problem) {
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidSignatureException' });
      res.end(JSON.stringify({ message: `The request signature we calculated does not match the signature you provided: ${problem}` }));
      return;
    }
    const model = decodeURIComponent(/\/model\/([^/]+)\//.exec(path)?.[1] ?? '');
    const tools = model.endsWith('tools');
    const usage = { inputTokens: 11, outputTokens: 7, totalTokens: 18 };
    if (!path.endsWith('/converse-stream')) {
      if (model.endsWith('throttled')) {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Too many requests' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      const content = tools ? [{ toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] : [{ text: 'Hello from Bedrock.' }];
      res.end(JSON.stringify({ output: { message: { role: 'assistant', content } }, stopReason: tools ? 'tool_use' : 'end_turn', usage, metrics: { latencyMs: 5 } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
    const event = (type: string, payload: unknown) => res.write(encodeEvent({ ':event-type': type, ':content-type': 'application/json', ':message-type': 'event' }, payload));
    event('messageStart', { role: 'assistant' });
    event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello ' } });
    if (model.endsWith('throttled')) {
      res.write(encodeEvent({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, { message: 'slow down' }));
      res.end();
      return;
    }
    event('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'from Bedrock.' } });
    event('contentBlockStop', { contentBlockIndex: 0 });
    if (tools) {
      event('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather' } } });
      event('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '{"city":' } } });
      event('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input: '"Paris"}' } } });
      event('contentBlockStop', { contentBlockIndex: 1 });
    }
    event('messageStop', { stopReason: tools ? 'tool_use' : 'end_turn' });
    event('metadata', { usage, metrics: { latencyMs: 5 } });
    res.end();
  });
}

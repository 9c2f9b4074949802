// The gateway end to end: the official openai client against Tarmac, Tarmac against a local stub upstream.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

let server: TestServer;
let stub: StubOpenAi;
let url: string;
let client: OpenAI;

function config(stubUrl: string): string {
  return `version: 1
teams:
  - name: claims
policies:
  - name: default
    egress:
      public: ["*"]
      internal: ["*"]
      confidential: ["local", "stub"]
      restricted: ["local"]
    pii:
      default: allow
      byClassification:
        public: redact
        confidential: pseudonymise
gateway:
  providers:
    - name: stub
      type: openai-compatible
      baseUrl: ${stubUrl}
      apiKeyEnv: STUB_API_KEY
      models: [ok]
    - name: backup
      type: openai-compatible
      baseUrl: ${stubUrl}
  routes:
    - { name: main, targets: [{ provider: stub, model: ok }] }
    - { name: fallback, retries: 0, targets: [{ provider: stub, model: fail-500 }, { provider: backup, model: ok }] }
    - { name: retry, retries: 2, backoffMs: 1, targets: [{ provider: stub, model: flaky-2 }] }
    - { name: ratelimited, retries: 1, backoffMs: 1, targets: [{ provider: stub, model: rate-limit }, { provider: backup, model: ok }] }
    - { name: slow, retries: 0, targets: [{ provider: stub, model: hang, timeoutMs: 200 }, { provider: backup, model: ok }] }
    - { name: timeout, retries: 0, targets: [{ provider: stub, model: hang, timeoutMs: 200 }] }
    - { name: malformed, retries: 0, targets: [{ provider: stub, model: malformed }] }
    - { name: rejected, targets: [{ provider: stub, model: bad-request }, { provider: backup, model: ok }] }
    - { name: breaker, retries: 0, targets: [{ provider: stub, model: fail-500 }, { provider: backup, model: ok }] }
    - { name: midstream, retries: 0, targets: [{ provider: stub, model: midstream-fail }, { provider: backup, model: ok }] }
    - { name: slow-stream, targets: [{ provider: stub, model: slow-stream }] }
    - { name: echo, targets: [{ provider: stub, model: echo }] }
    - { name: mixed, targets: [{ provider: stub, model: ok }, { provider: local, model: extractive }] }
    - { name: tools, targets: [{ provider: stub, model: tools }] }
    - { name: tools-echo, targets: [{ provider: stub, model: tools-echo }] }
    - { name: extractive-first, targets: [{ provider: local, model: extractive }, { provider: backup, model: ok }] }
    - { name: flaky-once, retries: 1, backoffMs: 1, targets: [{ provider: stub, model: flaky-1 }, { provider: backup, model: ok }] }
    - { name: unpriced, targets: [{ provider: stub, model: no-usage }] }
    - { name: cached, cacheTtlSeconds: 60, targets: [{ provider: stub, model: ok }] }
    - { name: gpt-4o-mini, targets: [{ provider: stub, model: gpt-4o-mini }] }
  breaker: { errorRatio: 0.5, minRequests: 3, windowSeconds: 60, openSeconds: 60 }
  prices:
    - { model: ok, inputPerMillion: 1000, outputPerMillion: 2000 }
    - { model: no-usage, inputPerMillion: 1000, outputPerMillion: 1000 }
`;
}

const traces = async (where: string, params: unknown[] = []) => {
  await server.gateway.traces.flush();
  return (await server.db.query<Record<string, unknown>>(`select * from gateway_traces where ${where} order by at`, params)).rows;
};

beforeAll(async () => {
  stub = await startStubOpenAi();
  server = await openTestServer();
  await server.workspace.applyAs({ actor: systemActor('test') }, config(stub.url), 'gateway.yaml', { dryRun: false });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: server.adminToken, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  await stub?.close();
});

describe('the openai client through the gateway', () => {
  it('gets a plain completion, with run id and cost headers, and a trace', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from the stub upstream.');
    expect(data.usage).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 });
    const runId = response.headers.get('x-tarmac-run-id');
    expect(runId).toMatch(/^run_/);
    // 10 input tokens at $1000/M plus 5 output tokens at $2000/M.
    expect(response.headers.get('x-tarmac-cost-usd')).toBe('0.02');
    const [trace] = await traces('id = $1', [runId]);
    expect(trace).toMatchObject({ route: 'main', provider: 'stub', model: 'ok', status: 'ok', input_tokens: 10, output_tokens: 5, cost_estimated: false, fallbacks: 0 });
    expect(Number(trace?.cost_usd)).toBeCloseTo(0.02, 9);
    expect(stub.requests.at(-1)?.body.model).toBe('ok');
  });

  it('streams with a final usage chunk when include_usage is set, and without it otherwise', async () => {
    const stream = await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the stub upstream.');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 5 });
    const plain = await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const plainChunks = [];
    for await (const chunk of plain) plainChunks.push(chunk);
    expect(plainChunks.every((c) => c.usage === undefined && c.choices.length === 1)).toBe(true);
    const rows = await traces("route = 'main' and stream");
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.input_tokens === 10 && r.output_tokens === 5 && r.first_token_ms !== null)).toBe(true);
  });

  it('passes tool calls through', async () => {
    const completion = await client.chat.completions.create({
      model: 'tools',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(stub.requests.at(-1)?.body.tools).toHaveLength(1);
  });

  it('answers with local/extractive from the messages, saying it is extractive', async () => {
    const completion = await client.chat.completions.create({
      model: 'local/extractive',
      messages: [
        { role: 'system', content: 'The claims desk opens at 9am. Hail damage claims need photos of the roof. Parking is free.' },
        { role: 'user', content: 'What do hail damage claims need?' },
      ],
    });
    const text = completion.choices[0]?.message.content ?? '';
    expect(text).toContain('Extractive answer');
    expect(text).toContain('"Hail damage claims need photos of the roof."');
    expect(text).not.toContain('Parking');
    expect(completion.usage?.prompt_tokens).toBeGreaterThan(10);
  });

  it('serves embeddings and lists models', async () => {
    const embeddings = await client.embeddings.create({ model: 'stub/text-embedding-3-small', input: ['a', 'b'] });
    expect(embeddings.data).toHaveLength(2);
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    expect(models).toEqual(expect.arrayContaining(['main', 'fallback', 'stub/ok', 'local/extractive']));
  });

  it('answers errors in OpenAI shape: unknown model, invalid messages, bad key', async () => {
    const unknown = await client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown).toMatchObject({ status: 404, code: 'model_not_found', type: 'not_found_error' });
    const invalid = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'main', messages: [{ role: 'robot', content: 'x' }] }),
    });
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: unknown }).error).toMatchObject({ code: 'validation_failed', type: 'invalid_request_error', param: null });
    const big = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024) }] }),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: unknown }).error).toMatchObject({ code: 'payload_too_large', type: 'invalid_request_error' });
    const badKey = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-not-tarmac', maxRetries: 0 });
    await expect(badKey.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('routes: fallbacks, retries, timeouts, circuit breaker', () => {
  const ask = (model: string) => client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();

  it('falls back to the next target when one fails, and records the attempts', async () => {
    const { data, response } = await ask('fallback');
    expect(data.choices[0]?.message.content).toBe('Hello from the stub upstream.');
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect(trace).toMatchObject({ provider: 'backup', model: 'ok', fallbacks: 1 });
    expect((trace?.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(['error', 'ok']);
  });

  it('retries 5xx with backoff, and honours Retry-After on 429 before falling back', async () => {
    const { response } = await ask('retry');
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect((trace?.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(['error', 'error', 'ok']);
    const limited = await ask('ratelimited');
    const [t2] = await traces('id = $1', [limited.response.headers.get('x-tarmac-run-id')]);
    expect((t2?.attempts as { provider: string; status: number }[]).map((a) => `${a.provider}:${a.status ?? ''}`)).toEqual(['stub:429', 'stub:429', 'backup:']);
  });

  it('times out a hanging upstream: falls back, or answers upstream_timeout', async () => {
    const { data } = await ask('slow');
    expect(data.choices[0]?.message.content).toBe('Hello from the stub upstream.');
    await expect(ask('timeout')).rejects.toMatchObject({ status: 504, code: 'upstream_timeout' });
  });

  it('answers upstream_error for malformed JSON and upstream_rejected (without fallback) for a 400', async () => {
    await expect(ask('malformed')).rejects.toMatchObject({ status: 502, code: 'upstream_error' });
    const rejected = await ask('rejected').catch((e: unknown) => e);
    expect(rejected).toMatchObject({ status: 400, code: 'upstream_rejected' });
    expect((rejected as { error: { details: { upstream: { param: string } } } }).error.details.upstream.param).toBe('temperature');
  });

  it('opens the circuit after repeated failures and skips the target', async () => {
    for (let i = 0; i < 3; i++) await ask('breaker');
    const before = stub.requests.filter((r) => r.body.model === 'fail-500').length;
    const { response } = await ask('breaker');
    expect(stub.requests.filter((r) => r.body.model === 'fail-500').length).toBe(before);
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect((trace?.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(['skipped_circuit', 'ok']);
  });
});

describe('streams that fail or lose their client', () => {
  it('ends a stream that fails after its first token with an error event, never a clean end', async () => {
    const stream = await client.chat.completions.create({ model: 'midstream', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toContain('after its first token');
    expect(text).toBe('Hello from ');
    const [trace] = await traces("route = 'midstream'");
    expect(trace).toMatchObject({ status: 'error', error_code: 'upstream_error', cost_estimated: true, provider: 'stub' });
    expect(trace?.output_tokens).toBeGreaterThan(0);
  });

  it('cancels the upstream request when the client disconnects, and records usage so far', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'slow-stream', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { signal: controller.signal });
    let n = 0;
    await (async () => {
      for await (const _chunk of stream) if (++n === 3) controller.abort();
    })().catch(() => undefined);
    await expect.poll(() => stub.cancelled, { timeout: 5000 }).toBeGreaterThan(0);
    await expect.poll(async () => (await traces("route = 'slow-stream'"))[0]?.status, { timeout: 5000 }).toBe('cancelled');
    const [trace] = await traces("route = 'slow-stream'");
    expect(trace?.output_tokens).toBeGreaterThan(0);
    expect(trace?.error_code).toBe('client_disconnected');
  });
});

describe('egress and PII', () => {
  const post = (model: string, content: string, classification?: string, stream = false) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', ...(classification ? { 'x-tarmac-classification': classification } : {}) },
      body: JSON.stringify({ model, stream, messages: [{ role: 'system', content: 'You help. Claims go to claims@example.com.' }, { role: 'user', content }] }),
    });

  it('denies a route whose providers may not receive the classification, and skips them in mixed routes', async () => {
    const denied = await post('main', 'Hi', 'restricted');
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('egress_denied');
    const before = stub.requests.length;
    const mixed = await post('mixed', 'Where do claims go?', 'restricted');
    expect(mixed.status).toBe(200);
    expect(((await mixed.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toContain('claims@example.com');
    expect(stub.requests.length).toBe(before);
    const bad = await post('main', 'Hi', 'secret');
    expect(bad.status).toBe(400);
  });

  it('pseudonymises personal data on the way out and restores it in the answer, also in streams', async () => {
    const text = 'Dr Jane Roe (jane.roe@example.com, card 4111 1111 1111 1111) asks about Dr Jane Roe.';
    const res = await post('echo', text, 'confidential');
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    const sent = stub.requests.at(-1)?.body.messages?.at(-1)?.content;
    expect(sent).toBe('Dr <PERSON_1> (<EMAIL_2>, card <CARD_1>) asks about Dr <PERSON_1>.');
    expect(body.choices[0]?.message.content).toBe(text);
    const streamed = await post('echo', text, 'confidential', true);
    const events = (await streamed.text()).split('\n\n').filter((e) => e.startsWith('data: {'));
    const joined = events.map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '').join('');
    expect(joined).toBe(text);
    const [trace] = await traces('id = $1', [res.headers.get('x-tarmac-run-id')]);
    expect([...(trace?.pii_types as string[])].sort()).toEqual(['CARD', 'EMAIL', 'PERSON']);
    expect(JSON.stringify(trace)).not.toContain('Jane');
  });
});

describe('prices, cache and spend', () => {
  it('estimates usage with the tokenizer when the provider reports none, and marks it', async () => {
    const { response } = await client.chat.completions.create({ model: 'unpriced', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(response.headers.get('x-tarmac-cost-estimated')).toBe('true');
    expect(Number(response.headers.get('x-tarmac-cost-usd'))).toBeGreaterThan(0);
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect(trace).toMatchObject({ cost_estimated: true });
  });

  it('uses the bundled price table for known models', async () => {
    const { response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    // gpt-4o-mini: $0.15/M input, $0.60/M output: 10 × 0.15e-6 + 5 × 0.6e-6.
    expect(Number(response.headers.get('x-tarmac-cost-usd'))).toBeCloseTo(0.0000045, 10);
  });

  it('serves a repeated request from the route cache, scoped to the team', async () => {
    const ask = () => client.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: 'cache me' }] }).withResponse();
    const before = stub.requests.length;
    await ask();
    const second = await ask();
    expect(stub.requests.length).toBe(before + 1);
    expect(second.response.headers.get('x-tarmac-cost-usd')).toBe('0');
    const [trace] = await traces('id = $1', [second.response.headers.get('x-tarmac-run-id')]);
    expect(trace?.cache_hit).toBe(true);
  });

  it('reports spend by model and day', async () => {
    await server.gateway.traces.flush();
    const res = await server.app.inject({ method: 'GET', url: '/api/v1/spend?groupBy=model,day', headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(res.statusCode).toBe(200);
    const rows = res.json<{ rows: { model: string; day: string; requests: number; costUsd: number }[] }>().rows;
    const ok = rows.find((r) => r.model === 'stub/ok');
    // the requests were traced earlier in this file: on the UTC day of its start, or of now across midnight
    const days = [new Date(Date.now() - 10 * 60_000).toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)];
    expect(days).toContain(ok?.day);
    expect(ok?.costUsd).toBeGreaterThan(0);
    const bad = await server.app.inject({ method: 'GET', url: '/api/v1/spend?groupBy=colour', headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(bad.statusCode).toBe(400);
  });
});

describe('one trace and spend by use case', () => {
  it('reads a trace by its x-tarmac-run-id for its team and admins, 404 for another team, and groups spend by use case', async () => {
    await server.identity.createTeam({ principal: server.admin }, { name: 'elsewhere' });
    const mine = await server.identity.createKey({ principal: server.admin }, { name: 'claims app', team: 'claims', teamRole: 'builder', scopes: ['read', 'write'] });
    const theirs = await server.identity.createKey({ principal: server.admin }, { name: 'other app', team: 'elsewhere', teamRole: 'owner', scopes: ['read', 'write'] });
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mine.token}`, 'content-type': 'application/json', 'x-tarmac-use-case': 'claims-triage' },
      body: JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(200);
    const runId = res.headers.get('x-tarmac-run-id');
    await server.gateway.traces.flush();
    const read = (token: string, id = runId ?? '') => server.app.inject({ method: 'GET', url: `/api/v1/gateway/traces/${id}`, headers: { authorization: `Bearer ${token}` } });
    const own = await read(mine.token);
    expect(own.statusCode).toBe(200);
    expect(own.json()).toMatchObject({ id: runId, team: 'claims', useCase: 'claims-triage', endpoint: 'chat', route: 'main', provider: 'stub', model: 'ok', status: 'ok', httpStatus: 200 });
    expect(own.json<{ attempts: unknown[] }>().attempts).toEqual([expect.objectContaining({ provider: 'stub', model: 'ok', outcome: 'ok' })]);
    expect((await read(server.adminToken)).statusCode).toBe(200);
    const other = await read(theirs.token);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await read(server.adminToken, 'nope')).statusCode).toBe(404);

    const spend = await server.app.inject({ method: 'GET', url: '/api/v1/spend?groupBy=usecase', headers: { authorization: `Bearer ${server.adminToken}` } });
    expect(spend.statusCode).toBe(200);
    expect(spend.json<{ rows: { usecase: string | null; requests: number }[] }>().rows.find((r) => r.usecase === 'claims-triage')?.requests).toBe(1);
  });
});

describe('classification from the key', () => {
  it("applies the key's default classification when the request names none, and the header over it", async () => {
    const { token } = await server.identity.createKey({ principal: server.admin }, { name: 'restricted app', scopes: ['read', 'write'], classification: 'restricted' });
    const ask = (headers: Record<string, string> = {}) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'Hi' }] }),
      });
    expect((await ask()).status).toBe(403);
    expect((await ask({ 'x-tarmac-classification': 'public' })).status).toBe(200);
  });
});

describe('tarmac spend', () => {
  it('prints spend through the API, and refuses an unknown group', async () => {
    const { runCli } = await import('../cli/index.js');
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
    const env = { TARMAC_URL: url, TARMAC_API_KEY: server.adminToken };
    await server.gateway.flush();
    expect(await runCli(['spend', '--group-by', 'model', '--json'], io, env)).toBe(0);
    const rows = JSON.parse(out.join('\n')) as { model: string; requests: number }[];
    expect(rows.find((r) => r.model === 'stub/ok')?.requests).toBeGreaterThan(0);
    out.length = 0;
    expect(await runCli(['spend', '--group-by', 'usecase,model'], io, env)).toBe(0);
    expect(out.join('\n')).toMatch(/^USECASE\s+MODEL\s+REQUESTS/);
    out.length = 0;
    expect(await runCli(['spend', '--group-by', 'colour'], io, env)).toBe(1);
    expect(out.join('\n')).toContain('validation_failed');
  });
});

describe('personal data in addresses and tool calls', () => {
  const post = (body: Record<string, unknown>, classification: string) =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json', 'x-tarmac-classification': classification },
      body: JSON.stringify(body),
    });

  it('redacts IP addresses followed by punctuation before they leave', async () => {
    const res = await post({ model: 'echo', messages: [{ role: 'user', content: 'record: 203.0.113.42. Then 2001:db8::8a2e:370:7334: approved' }] }, 'public');
    expect(res.status).toBe(200);
    expect(stub.requests.at(-1)?.body.messages?.at(-1)?.content).toBe('record: <IP>. Then <IP>: approved');
  });

  it('restores pseudonyms in tool-call arguments, also streamed with a placeholder split across chunks', async () => {
    const text = 'Write to jane.roe@example.com about 203.0.113.42.';
    const confidential = new OpenAI({ baseURL: `${url}/v1`, apiKey: server.adminToken, maxRetries: 0, defaultHeaders: { 'x-tarmac-classification': 'confidential' } });
    const plain = await confidential.chat.completions.create({ model: 'tools-echo', messages: [{ role: 'user', content: text }] });
    expect(stub.requests.at(-1)?.body.messages?.at(-1)?.content).toBe('Write to <EMAIL_1> about <IP_1>.');
    const call = plain.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : null).toEqual({ note: text });
    const stream = await confidential.chat.completions.create({ model: 'tools-echo', messages: [{ role: 'user', content: text }], stream: true });
    let args = '';
    let pieces = 0;
    for await (const chunk of stream) {
      for (const c of chunk.choices[0]?.delta.tool_calls ?? []) {
        args += c.function?.arguments ?? '';
        pieces++;
      }
    }
    expect(pieces).toBeGreaterThan(3);
    expect(JSON.parse(args)).toEqual({ note: text });
  });
});

describe('what local/extractive cannot do', () => {
  const ask = (extra: Record<string, unknown>, model = 'local/extractive') =>
    client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'Claims close in 30 days.' },
        { role: 'user', content: 'When do claims close?' },
      ],
      ...extra,
    } as OpenAI.ChatCompletionCreateParamsNonStreaming);
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];

  it('refuses embeddings with 400 model_capability_unsupported, which clients do not retry', async () => {
    const err = await client.embeddings.create({ model: 'local/extractive', input: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: 'model_capability_unsupported' });
    expect((err as Error).message).toContain('embeddings');
  });

  it('refuses tools, tool_choice, a JSON response_format and n > 1, naming the parameter', async () => {
    for (const [extra, param] of [
      [{ tools }, 'tools'],
      [{ tool_choice: 'required' }, 'tool_choice'],
      [{ response_format: { type: 'json_object' } }, 'response_format'],
      [{ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }, 'response_format'],
      [{ n: 2 }, 'n > 1'],
      [{ tools, stream: true }, 'tools'],
    ] as const) {
      const err = await ask(extra).catch((e: unknown) => e);
      expect(err, param).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err).toMatchObject({ status: 400, code: 'model_capability_unsupported' });
      expect((err as Error).message).toContain(param);
    }
    const text = await ask({ response_format: { type: 'text' }, n: 1, tool_choice: 'none' });
    expect(text.choices[0]?.message.content).toContain('30 days');
  });

  it('falls back to a target that can, when the route has one', async () => {
    const { data, response } = await ask({ tools }, 'extractive-first').withResponse();
    expect(data.choices[0]?.message.content).toBe('Hello from the stub upstream.');
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect(trace).toMatchObject({ provider: 'backup', fallbacks: 1 });
  });
});

describe('fallbacks in traces', () => {
  it('counts the targets abandoned, not a target that answered on its retry', async () => {
    const { response } = await client.chat.completions.create({ model: 'flaky-once', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    const [trace] = await traces('id = $1', [response.headers.get('x-tarmac-run-id')]);
    expect(trace).toMatchObject({ provider: 'stub', model: 'flaky-1', fallbacks: 0 });
    expect((trace?.attempts as { outcome: string }[]).map((a) => a.outcome)).toEqual(['error', 'ok']);
  });
});

describe('refused keys', () => {
  it('records requests refused for a bad, revoked or under-scoped key, without the key, and not as spend', async () => {
    const revoked = await server.identity.createKey({ principal: server.admin }, { name: 'revoked app', scopes: ['read', 'write'] });
    await server.identity.revokeKey({ principal: server.admin }, revoked.key.id);
    const readOnly = await server.identity.createKey({ principal: server.admin }, { name: 'read-only app', scopes: ['read'] });
    const unknown = `tmk_${'z'.repeat(12)}_${'A'.repeat(43)}`;
    const cases = [
      { token: 'sk-not-tarmac', id: 'refused-malformed', status: 401, keyId: null },
      { token: unknown, id: 'refused-unknown', status: 401, keyId: null },
      { token: revoked.token, id: 'refused-revoked', status: 401, keyId: revoked.key.id },
      { token: readOnly.token, id: 'refused-scope', status: 403, keyId: readOnly.key.id },
    ];
    for (const c of cases) {
      const keyClient = new OpenAI({ baseURL: `${url}/v1`, apiKey: c.token, maxRetries: 0, defaultHeaders: { 'x-request-id': c.id } });
      const err = await keyClient.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: c.status });
    }
    const rows = await traces("request_id like 'refused-%'");
    expect(rows.map((r) => [r.request_id, r.status, r.http_status, r.error_code, r.key_id, r.endpoint])).toEqual(
      cases.map((c) => [c.id, 'refused', c.status, c.status === 401 ? 'unauthorized' : 'forbidden', c.keyId, 'chat']),
    );
    const stored = JSON.stringify(rows);
    for (const c of cases) expect(stored).not.toContain(c.token.slice(-20));
    const spend = await server.app.inject({ method: 'GET', url: '/api/v1/spend?groupBy=key', headers: { authorization: `Bearer ${server.adminToken}` } });
    const keys = spend.json<{ rows: { key: string | null }[] }>().rows.map((r) => r.key);
    expect(keys).not.toContain(revoked.key.id);
    expect(keys).not.toContain(readOnly.key.id);
  });
});

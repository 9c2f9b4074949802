// Streaming runs over HTTP: events in order, governance before release, failures and a client that goes away.
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, stubGatewayYaml, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

const gatewayYaml = (url: string) =>
  stubGatewayYaml(
    url,
    `    - { name: stub-ok, targets: [{ provider: stub, model: ok }] }
    - { name: stub-broken, retries: 0, targets: [{ provider: stub, model: midstream-fail }] }
    - { name: stub-slow, targets: [{ provider: stub, model: slow-stream }] }
  prices:
    - { model: ok, inputPerMillion: 1000, outputPerMillion: 2000 }
    - { model: slow-stream, inputPerMillion: 1000, outputPerMillion: 2000 }
`,
  );

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

describe(`streaming runs (${BACKEND})`, () => {
  let s: TestServer;
  let stub: StubOpenAi;
  let token: string;
  let url: string;

  const declare = (name: string, route: string, belowThreshold: 'flagged' | 'held_for_review') =>
    s.usecases.declare({ principal: s.admin }, { name, team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route, posture: { deliverThreshold: 0.6, belowThreshold } });
  const stream = async (useCase: string, input: string) => {
    const res = await s.app.inject({ method: 'POST', url: `/api/v1/usecases/${useCase}/runs`, headers: bearer(token), payload: { input, stream: true } });
    return { res, events: res.headers['content-type']?.toString().startsWith('text/event-stream') ? parseSse(res.payload) : [] };
  };

  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServer();
    await s.workspace.applyAs({ actor: systemActor('test') }, gatewayYaml(stub.url), 'gateway.yaml', { dryRun: false });
    token = await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw-held', posture: { deliverThreshold: 0.6 } } });
    await declare('uw-flagged', 'local/extractive', 'flagged');
    await declare('stub-flagged', 'stub-ok', 'flagged');
    await declare('stub-held', 'stub-ok', 'held_for_review');
    await declare('stub-broken', 'stub-broken', 'flagged');
    await declare('stub-slow', 'stub-slow', 'flagged');
    await s.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(s.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await s.close();
    await stub.close();
  });

  it('streams the answer as it is generated when the posture can only flag, then the decision', async () => {
    const { res, events } = await stream('uw-flagged', 'What is the maximum roof age for a standard homeowners policy?');
    expect(res.statusCode).toBe(200);
    expect(events[0]).toMatchObject({ event: 'run', data: { runId: expect.stringMatching(/^run_/), useCase: 'uw-flagged' } });
    expect(events[1]).toMatchObject({ event: 'context', data: { delivery: 'progressive', chunks: [expect.objectContaining({ documentId: 'guide.md', source: 'kb' })] } });
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(1);
    const last = events.at(-1)!;
    expect(last.event).toBe('decision');
    expect(last.data).toMatchObject({ runId: events[0]!.data.runId, decision: 'delivered', status: 'completed' });
    expect(deltas.map((d) => d.data.text).join('')).toBe(last.data.answer);
    expect(last.data.answer).toContain('roofs up to 20 years old');
  });

  it('sends nothing of an answer that could be held before the decision, and nothing at all when it is held', async () => {
    const delivered = await stream('uw-held', 'What is the maximum roof age for a standard homeowners policy?');
    expect(delivered.events.map((e) => e.event)).toEqual(['run', 'context', 'delta', 'decision']);
    expect(delivered.events[1]!.data.delivery).toBe('after_decision');
    expect(delivered.events[2]!.data.text).toBe(delivered.events[3]!.data.answer);

    const held = await stream('stub-held', 'What is the maximum roof age for a standard homeowners policy?');
    expect(held.events.map((e) => e.event)).toEqual(['run', 'context', 'decision']);
    expect(held.events[2]!.data).toMatchObject({ decision: 'held_for_review', answer: null });
    expect(held.res.payload).not.toContain('stub upstream');
  });

  it('streams from an OpenAI-compatible upstream and records the cost and tokens of the stream', async () => {
    const { events } = await stream('stub-flagged', 'What is the maximum roof age for a standard homeowners policy?');
    const deltas = events.filter((e) => e.event === 'delta').map((e) => e.data.text);
    expect(deltas.join('')).toBe('Hello from the stub upstream.');
    const decision = events.at(-1)!;
    expect(decision).toMatchObject({ event: 'decision', data: { decision: 'flagged', answer: 'Hello from the stub upstream.' } });
    expect(decision.data.costUsd).toBeGreaterThan(0);
    const record = await s.runs.get({ principal: s.admin }, decision.data.runId as string);
    expect(record).toMatchObject({ status: 'completed', model: 'ok', tokens: { input: 10, output: 5 } });
  });

  it('ends a stream that breaks upstream with an error event naming the recorded failed run', async () => {
    const { res, events } = await stream('stub-broken', 'What is the maximum roof age?');
    expect(res.statusCode).toBe(200);
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data).toMatchObject({ error: { code: 'upstream_error', details: { runId: events[0]!.data.runId } } });
    expect(events.some((e) => e.event === 'decision')).toBe(false);
    const record = await s.runs.get({ principal: s.admin }, events[0]!.data.runId as string);
    expect(record).toMatchObject({ status: 'failed', decision: null, answer: null });
    expect(record.error).toContain('upstream_error');
  });

  it('answers a plain JSON error when the run cannot start', async () => {
    await s.usecases.pause({ principal: s.admin }, 'stub-held', 'test');
    const { res, events } = await stream('stub-held', 'anything');
    expect(res.statusCode).toBe(503);
    expect(events).toEqual([]);
    expect(res.json()).toMatchObject({ error: { code: 'use_case_paused' } });
  });

  it('cancels the model call when the client goes away, and records the run as cancelled with usage so far', async () => {
    const { port } = s.app.server.address() as AddressInfo;
    const cancelledBefore = stub.cancelled;
    const runId = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/usecases/stub-slow/runs', headers: { ...bearer(token), 'content-type': 'application/json' } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
            const events = parseSse(text.slice(0, text.lastIndexOf('\n\n') + 2));
            if (events.some((e) => e.event === 'delta')) {
              req.destroy();
              resolve(events[0]!.data.runId as string);
            }
          });
        },
      );
      req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
      req.end(JSON.stringify({ input: 'What is the maximum roof age?', stream: true }));
    });
    let record = null;
    while (!record) record = await s.runs.get({ principal: s.admin }, runId).catch(() => null).then((r) => (r ? r : new Promise<null>((ok) => setTimeout(() => ok(null), 50))));
    expect(record).toMatchObject({ status: 'cancelled', decision: null, answer: null, error: expect.stringContaining('run_cancelled') });
    expect(record.tokens.output).toBeGreaterThan(0);
    expect(record.costUsd).toBeGreaterThan(0);
    expect(stub.cancelled).toBe(cancelledBefore + 1);
  });

  it('tarmac ask --stream prints the answer as it arrives, and fails on an error event', async () => {
    const { runCli } = await import('../cli/index.js');
    const pieces: string[] = [];
    const lines: string[] = [];
    const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t), write: (t: string) => pieces.push(t) };
    const env = { TARMAC_URL: url, TARMAC_API_KEY: token };
    expect(await runCli(['ask', 'stub-flagged', 'What is the maximum roof age?', '--stream'], io, env)).toBe(0);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe('Hello from the stub upstream.');
    expect(lines.join('\n')).toContain('flagged');

    lines.length = 0;
    expect(await runCli(['ask', 'stub-broken', 'What is the maximum roof age?', '--stream'], io, env)).toBe(1);
    expect(lines.join('\n')).toContain('upstream_error');
  });

  it('waits for the decision when the policy would block personal data in the answer', async () => {
    const strict = gatewayYaml(stub.url).replace('egress: {', 'pii: { default: redact }\n    egress: {');
    await s.workspace.applyAs({ actor: systemActor('test') }, strict, 'gateway.yaml', { dryRun: false });
    const { events } = await stream('uw-flagged', 'What is the maximum roof age for a standard homeowners policy?');
    expect(events[1]!.data.delivery).toBe('after_decision');
    expect(events.map((e) => e.event)).toEqual(['run', 'context', 'delta', 'decision']);
  });
});

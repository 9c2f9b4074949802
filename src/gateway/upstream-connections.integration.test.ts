// Kept-alive upstream connections that the upstream closes: the official openai client against Tarmac, Tarmac
// against local stubs that drop idle connections at once or reset a reused one before answering.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-stub',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'ok',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Noted.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 },
});

interface Stub {
  url: string;
  /** Requests answered (a reset request is not answered). */
  answered: number;
  /** Requests received on a connection that had served one before. */
  reused: number;
  server: Server;
}

/**
 * An upstream answering every request that closes a connection idle for `closeIdleAfterMs` without saying so in
 * advance (no `Keep-Alive: timeout` hint, as many servers do); `resetReused` resets a kept-alive connection at its
 * next request instead of answering it.
 */
async function startStub(options: { closeIdleAfterMs: number; resetReused: boolean }): Promise<Stub> {
  const served = new WeakMap<Socket, number>();
  const idle = new WeakMap<Socket, NodeJS.Timeout>();
  const stub = { url: '', answered: 0, reused: 0 } as Stub;
  stub.server = createServer((req, res) => {
    const socket = req.socket;
    clearTimeout(idle.get(socket));
    const before = served.get(socket) ?? 0;
    served.set(socket, before + 1);
    if (before > 0) stub.reused++;
    req.resume();
    req.on('end', () => {
      if (options.resetReused && before > 0) {
        socket.resetAndDestroy();
        return;
      }
      stub.answered++;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(COMPLETION) });
      res.end(COMPLETION);
    });
    res.on('finish', () => idle.set(socket, setTimeout(() => socket.destroy(), options.closeIdleAfterMs)));
  });
  stub.server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}/v1`;
  return stub;
}

const KEEP_ALIVE_MS = 20;

let server: TestServer;
let client: OpenAI;
let eager: Stub;
let resetting: Stub;

beforeAll(async () => {
  eager = await startStub({ closeIdleAfterMs: KEEP_ALIVE_MS, resetReused: false });
  resetting = await startStub({ closeIdleAfterMs: 60_000, resetReused: true });
  server = await openTestServer();
  const yaml = `version: 1
gateway:
  providers:
    - { name: eager, type: openai-compatible, baseUrl: ${eager.url} }
    - { name: resetting, type: openai-compatible, baseUrl: ${resetting.url} }
  routes:
    - { name: eager, retries: 0, targets: [{ provider: eager, model: ok }] }
    - { name: resetting, retries: 0, targets: [{ provider: resetting, model: ok }] }
`;
  await server.workspace.applyAs({ actor: systemActor('test') }, yaml, 'gateway.yaml', { dryRun: false });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  client = new OpenAI({ baseURL: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`, apiKey: server.adminToken, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  for (const stub of [eager, resetting]) {
    stub?.server.closeAllConnections();
    await new Promise((resolve) => stub?.server.close(resolve));
  }
});

const ask = (model: string) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).then(
    () => 'ok',
    (err: unknown) => `${(err as { status?: number }).status ?? '?'} ${(err as Error).message}`,
  );

describe('upstream connections the upstream closes', () => {
  it('retries a request once on a fresh connection when its reused connection is reset before any answer', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await ask('resetting'));
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Each reset request reached the stub once and was answered once, on its fresh connection.
    expect(resetting.reused).toBeGreaterThan(0);
    expect(resetting.answered).toBe(5);
  });

  it('answers every request of bursts paced around the keep-alive timeout of an upstream that closes idle connections', async () => {
    const outcomes: string[] = [];
    // Bursts of concurrent requests, each after a pause near the upstream's keep-alive timeout: a burst's
    // requests meet the connections the upstream is closing.
    for (let round = 0; round < 40; round++) {
      outcomes.push(...(await Promise.all(Array.from({ length: 8 }, () => ask('eager')))));
      await new Promise((r) => setTimeout(r, KEEP_ALIVE_MS - 5 + (round % 10)));
    }
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
    expect(outcomes).toHaveLength(320);
  });
});

// Budgets and rate limits: reserve-then-settle in the database, and the errors callers see.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';
import { BudgetLedger, type Limit } from './budgets.js';

let server: TestServer;
let stub: StubOpenAi;
let url: string;
let budgetKey: { id: string; token: string };
let teamToken: string;

beforeAll(async () => {
  stub = await startStubOpenAi();
  server = await openTestServer();
  const caller = { principal: server.admin };
  await server.workspace.applyAs({ actor: systemActor('test') }, 'version: 1\nteams:\n  - name: claims\n', 'teams.yaml', { dryRun: false });
  const created = await server.identity.createKey(caller, { name: 'budgeted', scopes: ['read', 'write'] });
  budgetKey = { id: created.key.id, token: created.token };
  teamToken = (await server.identity.createKey(caller, { name: 'claims app', team: 'claims', scopes: ['read', 'write'] })).token;
  const yaml = `version: 1
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: ${stub.url} }
  routes:
    - { name: main, targets: [{ provider: stub, model: ok }] }
  prices:
    - { model: ok, inputPerMillion: 1000, outputPerMillion: 2000 }
  budgets:
    - { scope: key, name: ${budgetKey.id}, dailyUsd: 0.05 }
    - { scope: team, name: claims, requestsPerMinute: 2 }
    - { scope: useCase, name: triage, tokensPerMinute: 10 }
`;
  await server.workspace.applyAs({ actor: systemActor('test') }, yaml, 'gateway.yaml', { dryRun: false });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await server?.close();
  await stub?.close();
});

const ask = (token: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'main', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
  });

// Per-minute limits count in calendar minutes: a test whose requests straddled a minute's end would see them
// in two windows. Start such a test with at least five seconds of the minute left.
async function startOfAMinute(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe('budgets and rate limits', () => {
  it('refuses a key once its daily budget is spent, naming the scope and the reset time', async () => {
    // Each call costs $0.02; the cap is $0.05: the third call starts under the cap and is the last admitted.
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await ask(budgetKey.token)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await ask(budgetKey.token);
    const body = (await refused.json()) as { error: { code: string; type: string; details: { scope: string; limit: string; resetAt: string } } };
    expect(body.error).toMatchObject({ code: 'budget_exceeded', type: 'rate_limit_error', details: { scope: `key:${budgetKey.id}`, limit: 'dailyUsd' } });
    const midnight = new Date();
    midnight.setUTCHours(24, 0, 0, 0);
    expect(body.error.details.resetAt).toBe(midnight.toISOString());
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: budgetKey.token, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('rate-limits a team per minute, on every route', async () => {
    await startOfAMinute();
    expect((await ask(teamToken)).status).toBe(200);
    const embeddings = await fetch(`${url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${teamToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stub/text-embedding-3-small', input: 'hello' }),
    });
    expect(embeddings.status).toBe(200);
    const third = await ask(teamToken);
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { code: string; details: { scope: string } } }).error).toMatchObject({ code: 'rate_limited', details: { scope: 'team:claims' } });
    expect(Number(third.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('limits tokens per minute for a use case', async () => {
    await startOfAMinute();
    expect((await ask(server.adminToken, { 'x-tarmac-use-case': 'triage' })).status).toBe(200);
    const second = await ask(server.adminToken, { 'x-tarmac-use-case': 'triage' });
    expect(second.status).toBe(429);
    expect((await ask(server.adminToken, { 'x-tarmac-use-case': 'other' })).status).toBe(200);
  });

  it('records refused requests too', async () => {
    await server.gateway.traces.flush();
    const { rows } = await server.db.query<{ n: number }>("select count(*)::int as n from gateway_traces where error_code in ('budget_exceeded', 'rate_limited')");
    expect(rows[0]?.n).toBeGreaterThanOrEqual(4);
  });
});

describe('BudgetLedger', () => {
  const limit: Limit = { scope: 'test:ledger', window: 'day', label: 'dailyUsd', usdCap: 1, requestCap: null, tokenCap: null };

  it('holds reservations until they settle, then counts what was used', async () => {
    const ledger = new BudgetLedger(server.db, { settleMs: 60_000 });
    // Admitted while settled plus reserved spend is under the cap: the request that crosses it is the last.
    const a = await ledger.reserve([limit], { usd: 0.6, tokens: 0 });
    const b = await ledger.reserve([limit], { usd: 0.5, tokens: 0 });
    await expect(ledger.reserve([limit], { usd: 0.2, tokens: 0 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    ledger.settle(a, { usd: 0.1, tokens: 0 });
    await ledger.flush();
    const c = await ledger.reserve([limit], { usd: 0.2, tokens: 0 });
    ledger.settle(b, { usd: 0.3, tokens: 0 });
    ledger.settle(c, { usd: 0.2, tokens: 0 });
    await ledger.close();
    const { rows } = await server.db.query<{ spent_usd: string; reserved_usd: string; requests: number }>("select * from gateway_counters where scope = 'test:ledger'");
    expect(rows.map((r) => [Number(r.spent_usd), Number(r.reserved_usd), r.requests])).toEqual([[0.6, 0, 3]]);
  });

  it('reserves in all limits or in none', async () => {
    const ledger = new BudgetLedger(server.db, { settleMs: 60_000 });
    const full: Limit = { scope: 'test:full', window: 'minute', label: 'requestsPerMinute', usdCap: null, requestCap: 1, tokenCap: null };
    const other: Limit = { scope: 'test:other', window: 'day', label: 'dailyUsd', usdCap: 5, requestCap: null, tokenCap: null };
    await ledger.reserve([full], { usd: 0, tokens: 0 });
    await expect(ledger.reserve([other, full], { usd: 1, tokens: 0 })).rejects.toMatchObject({ code: 'rate_limited' });
    await ledger.close();
    const { rows } = await server.db.query("select * from gateway_counters where scope = 'test:other'");
    expect(rows).toEqual([]);
  });

  const counter = async (scope: string) =>
    (await server.db.query<{ spent_usd: string; reserved_usd: string; requests: number }>('select * from gateway_counters where scope = $1', [scope])).rows.map((r) => [
      Number(r.spent_usd),
      Number(r.reserved_usd),
      r.requests,
    ]);

  it('leases headroom to the process, admits against it without SQL, and returns what is left on close', async () => {
    const ledger = new BudgetLedger(server.db, { settleMs: 60_000, idleMs: 60_000 });
    const lease: Limit = { scope: 'test:lease', window: 'day', label: 'dailyUsd', usdCap: 10, requestCap: null, tokenCap: null };
    const a = await ledger.reserve([lease], { usd: 0.01, tokens: 0 });
    // An eighth of the headroom is held, so other processes see it as reserved.
    expect(await counter('test:lease')).toEqual([[0, 1.25, 0]]);
    const b = await ledger.reserve([lease], { usd: 0.01, tokens: 0 });
    expect(await counter('test:lease')).toEqual([[0, 1.25, 0]]);
    ledger.settle(a, { usd: 0.004, tokens: 0 });
    ledger.settle(b, { usd: 0.006, tokens: 0 });
    await ledger.close();
    expect(await counter('test:lease')).toEqual([[0.01, 0, 2]]);
  });

  it('returns an idle lease, so another process can spend it', async () => {
    const limit: Limit = { scope: 'test:idle', window: 'day', label: 'dailyUsd', usdCap: 1, requestCap: null, tokenCap: null };
    const first = new BudgetLedger(server.db, { settleMs: 20, idleMs: 50 });
    const second = new BudgetLedger(server.db, { settleMs: 60_000, idleMs: 60_000 });
    first.settle(await first.reserve([limit], { usd: 1, tokens: 0 }), { usd: 0.1, tokens: 0 });
    // The first process holds 0.9 it does not use; once returned, the second may take it.
    await expect(second.reserve([limit], { usd: 0.5, tokens: 0 })).rejects.toMatchObject({ code: 'budget_exceeded' });
    await expect.poll(async () => (await counter('test:idle'))[0]?.[1], { interval: 20, timeout: 5000 }).toBe(0);
    const held = await second.reserve([limit], { usd: 0.5, tokens: 0 });
    second.settle(held, { usd: 0.5, tokens: 0 });
    await first.close();
    await second.close();
    expect(await counter('test:idle')).toEqual([[0.6, 0, 2]]);
  });

  it('lets two processes together pass a cap by at most one estimate, and strands nothing', async () => {
    const limit: Limit = { scope: 'test:shared', window: 'day', label: 'dailyUsd', usdCap: 1, requestCap: null, tokenCap: null };
    const ledgers = [new BudgetLedger(server.db, { settleMs: 60_000, idleMs: 60_000 }), new BudgetLedger(server.db, { settleMs: 60_000, idleMs: 60_000 })];
    let admitted = 0;
    for (let i = 0; i < 10; i++) {
      for (const ledger of ledgers) {
        const held = await ledger.reserve([limit], { usd: 0.3, tokens: 0 }).catch(() => null);
        if (!held) continue;
        admitted++;
        ledger.settle(held, { usd: 0.3, tokens: 0 });
      }
    }
    for (const ledger of ledgers) await ledger.close();
    const [row] = await counter('test:shared');
    expect(admitted).toBe(4);
    expect(row).toEqual([1.2, 0, 4]);
  });

  it('counts a counter that two limits name once', async () => {
    const ledger = new BudgetLedger(server.db, { settleMs: 60_000, idleMs: 60_000 });
    const twice: Limit = { scope: 'test:twice', window: 'day', label: 'dailyUsd', usdCap: 1, requestCap: null, tokenCap: null };
    const held = await ledger.reserve([twice, { ...twice }], { usd: 0.5, tokens: 0 });
    expect(await counter('test:twice')).toEqual([[0, 0.5, 0]]);
    ledger.settle(held, { usd: 0.25, tokens: 0 });
    await ledger.close();
    expect(await counter('test:twice')).toEqual([[0.25, 0, 1]]);
  });
});

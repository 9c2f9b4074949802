// Crash test: a gateway killed with SIGKILL right after its last answer has the trace of every call it answered
// (on the embedded database once the next start has replayed the journal), and on PostgreSQL its settled spend.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../db/index.js';
import { cliEnv, startServe, tempDataDir } from '../../tests/support/cli.js';
import { BACKEND, createPostgresDatabase, POSTGRES_URL } from '../../tests/support/db.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

const CALLS = 200;
const STREAMED = 50;
// The stub reports 10 input and 5 output tokens: 10 × $1/M + 5 × $2/M.
const COST_PER_CALL = 0.00002;

describe(`gateway traces survive SIGKILL (${BACKEND})`, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup) await c();
  });

  it('keeps the trace and the spend of every answered call', async () => {
    const stub: StubOpenAi = await startStubOpenAi();
    cleanup.push(() => stub.close());
    const dir = tempDataDir();
    let databaseUrl = '';
    if (POSTGRES_URL) {
      const created = await createPostgresDatabase();
      databaseUrl = created.url;
      cleanup.push(created.drop);
    }
    const config = path.join(dir, 'tarmac.yaml');
    writeFileSync(
      config,
      `version: 1
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: ${stub.url} }
  routes:
    - { name: main, retries: 0, targets: [{ provider: stub, model: ok }] }
  prices:
    - { model: ok, inputPerMillion: 1, outputPerMillion: 2 }
  budgets:
    - { scope: global, dailyUsd: 1000 }
`,
    );
    const server = await startServe(cliEnv(dir, { TARMAC_CONFIG: config, TARMAC_SEED_DEMO: 'false', ...(databaseUrl ? { TARMAC_DATABASE_URL: databaseUrl } : {}) }));
    cleanup.push(async () => {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      await server.done;
    });
    const token = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: token, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Hi' }];

    const call = async (i: number): Promise<string> => {
      if (i < STREAMED) {
        const { data, response } = await client.chat.completions.create({ model: 'main', messages, stream: true, stream_options: { include_usage: true } }).withResponse();
        for await (const chunk of data) void chunk;
        return response.headers.get('x-tarmac-run-id')!;
      }
      const { response } = await client.chat.completions.create({ model: 'main', messages }).withResponse();
      return response.headers.get('x-tarmac-run-id')!;
    };
    const runIds = await Promise.all(Array.from({ length: CALLS }, (_, i) => call(i)));
    server.child.kill('SIGKILL');
    const ended = await server.done;
    expect(ended.signal).toBe('SIGKILL');

    expect(new Set(runIds).size).toBe(CALLS);
    if (!databaseUrl) {
      // The next start replays the embedded database's trace journal.
      const again = await startServe(cliEnv(dir, { TARMAC_CONFIG: config, TARMAC_SEED_DEMO: 'false' }));
      again.child.kill('SIGTERM');
      expect((await again.done).code).toBe(0);
    }
    const db = await openDatabase(databaseUrl ? { url: databaseUrl, poolSize: 1 } : { dataDir: dir, command: 'crash-test' });
    try {
      const { rows } = await db.query<{ id: string; status: string }>('select id, status from gateway_traces where id = any($1::text[])', [runIds]);
      expect(rows.length).toBe(CALLS);
      expect(rows.every((r) => r.status === 'ok')).toBe(true);
      const counter = await db.query<{ spent_usd: string }>("select spent_usd from gateway_counters where scope = 'global'");
      // On the embedded database the settlements of the last calls may not have been committed.
      if (databaseUrl) expect(Number(counter.rows[0]?.spent_usd)).toBeCloseTo(CALLS * COST_PER_CALL, 9);
      else expect(Number(counter.rows[0]?.spent_usd)).toBeLessThanOrEqual(CALLS * COST_PER_CALL + 1e-9);
    } finally {
      await db.close();
    }
  }, 120_000);
});

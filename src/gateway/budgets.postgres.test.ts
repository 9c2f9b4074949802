// One budget under real concurrency: three Tarmac server processes on one PostgreSQL, hammered at once.
// Total spend may pass the cap by at most one request per process.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../db/index.js';
import { cliEnv, startServe, tempDataDir } from '../../tests/support/cli.js';
import { createPostgresDatabase } from '../../tests/support/db.js';
import { startStubOpenAi } from '../../tests/support/stub-openai.js';

const CAP_USD = 0.5;
// The stub reports 10 input and 5 output tokens: 10 × $1000/M + 5 × $2000/M.
const COST_PER_REQUEST = 0.02;
const PROCESSES = 3;

describe('a budget shared by several server processes', () => {
  it('never overspends by more than one request per process', async () => {
    const stub = await startStubOpenAi();
    const { url, drop } = await createPostgresDatabase();
    const servers: Awaited<ReturnType<typeof startServe>>[] = [];
    try {
      const dir = tempDataDir();
      const config = path.join(dir, 'tarmac.yaml');
      writeFileSync(
        config,
        `version: 1
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: ${stub.url} }
  routes:
    - { name: main, targets: [{ provider: stub, model: ok }] }
  prices:
    - { model: ok, inputPerMillion: 1000, outputPerMillion: 2000 }
  budgets:
    - { scope: global, dailyUsd: ${CAP_USD} }
`,
      );
      const env = (d: string) => cliEnv(d, { TARMAC_DATABASE_URL: url, TARMAC_CONFIG: config, TARMAC_SEED_DEMO: 'false' });
      servers.push(await startServe(env(dir)));
      const token = readFileSync(path.join(dir, 'admin-key'), 'utf8').trim();
      for (let i = 1; i < PROCESSES; i++) servers.push(await startServe(env(tempDataDir())));

      const hammer = async (base: string) => {
        const statuses: number[] = [];
        const worker = async () => {
          for (let i = 0; i < 10; i++) {
            const res = await fetch(`${base}/v1/chat/completions`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'main', max_tokens: 5, messages: [{ role: 'user', content: 'Hi' }] }),
            });
            statuses.push(res.status);
            await res.arrayBuffer();
          }
        };
        await Promise.all([worker(), worker(), worker(), worker()]);
        return statuses;
      };
      const statuses = (await Promise.all(servers.map((s) => hammer(s.url)))).flat();
      for (const s of servers) s.child.kill('SIGTERM');
      await Promise.all(servers.map((s) => s.done));

      const db = await openDatabase({ url, poolSize: 1 });
      try {
        const { rows } = await db.query<{ spent: string; ok: number; refused: number; total: number }>(
          `select coalesce(sum(cost_usd), 0) as spent, count(*) filter (where status = 'ok')::int as ok,
                  count(*) filter (where error_code = 'budget_exceeded')::int as refused, count(*)::int as total
           from gateway_traces`,
        );
        const row = rows[0]!;
        const spent = Number(row.spent);
        expect(row.total).toBe(statuses.length);
        expect(row.ok).toBe(statuses.filter((s) => s === 200).length);
        expect(row.refused).toBe(statuses.filter((s) => s === 429).length);
        expect(row.refused).toBeGreaterThan(0);
        expect(spent).toBeGreaterThanOrEqual(CAP_USD);
        expect(spent).toBeLessThanOrEqual(CAP_USD + PROCESSES * COST_PER_REQUEST + 1e-9);
        const counter = await db.query<{ spent_usd: string; reserved_usd: string }>("select spent_usd, reserved_usd from gateway_counters where scope = 'global'");
        expect(Number(counter.rows[0]?.spent_usd)).toBeCloseTo(spent, 9);
        expect(Number(counter.rows[0]?.reserved_usd)).toBe(0);
      } finally {
        await db.close();
      }
    } finally {
      for (const s of servers) if (s.child.exitCode === null) s.child.kill('SIGKILL');
      await stub.close();
      await drop();
    }
  });
});

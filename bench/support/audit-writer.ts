// One writer process of the audit benchmark: opens the database at --url, prints {"ready":true}, waits for a line on
// stdin (so that every writer starts together and process start-up is not timed), appends --count entries, each in
// its own transaction, and prints its own timings as one JSON line.
//   node --import tsx bench/support/audit-writer.ts --url postgres://… --count 1000 [--mode audit|plain] [--id 1]
// Modes: `audit` appends through AuditLog.transaction (the product path); `plain` commits one row per transaction into
// the table bench_plain with no chain, which is the database's own commit rate (the baseline).
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { systemActor } from '../../src/access/index.js';
import { AuditLog } from '../../src/audit/index.js';
import { openDatabase } from '../../src/db/index.js';
import { intArg, quantile, round, stringArg } from './common.js';

const url = stringArg('url', undefined);
if (!url) throw new Error('--url is required');
const count = intArg('count', 1000);
const id = intArg('id', 1);
const mode = stringArg('mode', 'audit');
if (mode !== 'audit' && mode !== 'plain') throw new Error('--mode must be audit or plain');

const db = await openDatabase({ url, poolSize: 2 });
const audit = new AuditLog(db, { checkpointEvery: 1_000_000, signingKey: null });
const ctx = { actor: systemActor(`bench-writer-${id}`), requestId: null };

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const lines = createInterface({ input: process.stdin });
await once(lines, 'line');
lines.close();

const latencies: number[] = [];
const startedAt = performance.timeOrigin + performance.now();
for (let i = 0; i < count; i++) {
  const t = performance.now();
  const after = { writer: id, i, name: `entry ${i} of writer ${id}` };
  if (mode === 'audit') {
    await audit.transaction(ctx, async (_tx, record) => {
      await record({ action: 'bench.appended', targetType: 'bench', targetId: `${id}-${i}`, after });
    });
  } else {
    await db.transaction(async (tx) => {
      await tx.query('insert into bench_plain (actor_id, action, target_id, after) values ($1, $2, $3, $4)', [
        ctx.actor.id,
        'bench.appended',
        `${id}-${i}`,
        JSON.stringify(after),
      ]);
    });
  }
  latencies.push(performance.now() - t);
}
const finishedAt = performance.timeOrigin + performance.now();
await db.close();

process.stdout.write(
  `${JSON.stringify({
    id,
    mode,
    count,
    startedAt,
    finishedAt,
    ms: round(finishedAt - startedAt),
    perSecond: round((count * 1000) / (finishedAt - startedAt)),
    latencyMs: { p50: round(quantile(latencies, 0.5), 2), p99: round(quantile(latencies, 0.99), 2), max: round(Math.max(...latencies), 2) },
  })}\n`,
);

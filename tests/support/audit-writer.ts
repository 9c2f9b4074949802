// Child process for the multi-process audit test: appends COUNT audit entries to the PostgreSQL database at
// URL, each in its own transaction, then exits 0.
//   node --import tsx tests/support/audit-writer.ts URL COUNT [WRITER_ID]
// With AUDIT_WRITER_BARRIER=1 it prints "ready" once connected and waits for a line on stdin before
// writing, so that the parent can start several writers at the same moment.
import { createInterface } from 'node:readline';
import { systemActor } from '../../src/access/index.js';
import { AuditLog } from '../../src/audit/index.js';
import { openDatabase } from '../../src/db/index.js';

async function waitForGo(): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  try {
    for await (const line of lines) {
      if (line.trim() === 'go') return;
    }
    throw new Error('stdin closed before "go"');
  } finally {
    lines.close();
  }
}

async function main(): Promise<void> {
  const [url, countArg, writerArg] = process.argv.slice(2);
  const count = Number(countArg);
  if (!url || !Number.isInteger(count) || count < 0) throw new Error('usage: audit-writer.ts URL COUNT [WRITER_ID]');
  const writer = writerArg ?? `writer-${process.pid}`;
  const db = await openDatabase({ url, poolSize: 2 });
  try {
    const audit = new AuditLog(db, { checkpointEvery: 1000, signingKey: null });
    const ctx = { actor: systemActor(writer), requestId: `${writer}-req` };
    if (process.env.AUDIT_WRITER_BARRIER === '1') {
      process.stdout.write('ready\n');
      await waitForGo();
    }
    for (let i = 0; i < count; i++) {
      await audit.transaction(ctx, async (_tx, record) => {
        await record({
          action: 'thing.changed',
          targetType: 'thing',
          targetId: `${writer}-${i}`,
          before: { i },
          after: { i: i + 1, writer, nested: { b: 2, a: [1, 'x'] } },
        });
      });
    }
  } finally {
    await db.close();
  }
  process.stdout.write(`done ${count}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

// Child process for the concurrent-migration test: opens the PostgreSQL database at URL, runs the bundled
// migrations once and prints `{"applied": [...]}` as one JSON line.
//   node --import tsx tests/support/migrate-once.ts URL
// With MIGRATE_BARRIER=1 it prints "ready" once connected and waits for a line "go" on stdin first, so that
// the parent can make several processes migrate at the same moment.
import { createInterface } from 'node:readline';
import { migrate, openDatabase } from '../../src/db/index.js';

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
  const url = process.argv[2];
  if (!url) throw new Error('usage: migrate-once.ts URL');
  const db = await openDatabase({ url, poolSize: 2 });
  try {
    if (process.env.MIGRATE_BARRIER === '1') {
      process.stdout.write('ready\n');
      await waitForGo();
    }
    const { applied } = await migrate(db);
    process.stdout.write(`${JSON.stringify({ applied })}\n`);
  } finally {
    await db.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

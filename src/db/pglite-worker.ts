// The embedded database on its own thread: PGlite runs here, so SQL never blocks the server's event loop.
// Messages from PgliteThreadDatabase (pglite-thread.ts): query, exec, begin/commit/rollback, close.
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { CHANGE_CHANNEL } from './changes.js';
import { errorFields, SESSION_SETTINGS, type ThreadChange, type ThreadRequest, type ThreadResponse } from './pglite-protocol.js';

const port = parentPort;
if (!port) throw new Error('pglite-worker must run in a worker thread');
const { dataDir } = workerData as { dataDir: string };

type Target = PGlite | Transaction;
const open = new Map<number, { tx: Transaction; finish: (commit: boolean) => void; done: Promise<void> }>();
let nextTx = 1;
// Thrown inside PGlite's transaction callback to make it roll back; never leaves this thread.
class Rollback extends Error {}

async function query(target: Target, sql: string, params: unknown[] | undefined) {
  const result = await target.query(sql, params);
  // Statements that return rows count them; others report the rows they changed (as node-postgres does).
  return { rows: result.rows, rowCount: result.fields.length > 0 ? result.rows.length : (result.affectedRows ?? 0) };
}

async function exec(target: Target, sql: string) {
  const results = await target.exec(sql);
  const last = results[results.length - 1];
  return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
}

function target(db: PGlite, tx: number | undefined): Target {
  if (tx === undefined) return db;
  const held = open.get(tx);
  if (!held) throw new Error(`transaction ${tx} is not open`);
  return held.tx;
}

/** Opens a transaction and resolves with its id once it has begun; it stays open until commit or rollback. */
function begin(db: PGlite): Promise<number> {
  const id = nextTx++;
  let finish: (commit: boolean) => void = () => undefined;
  const decided = new Promise<boolean>((resolve) => (finish = resolve));
  return new Promise((started, failed) => {
    let began = false;
    const done: Promise<void> = db
      .transaction(async (tx) => {
        began = true;
        open.set(id, { tx, finish, done });
        started(id);
        if (!(await decided)) throw new Rollback('rollback');
      })
      .then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof Rollback)) throw err;
        },
      )
      .finally(() => open.delete(id));
    done.catch((err: unknown) => {
      if (!began) failed(err instanceof Error ? err : new Error(String(err)));
    });
  });
}

async function end(tx: number, commit: boolean): Promise<void> {
  const held = open.get(tx);
  if (!held) throw new Error(`transaction ${tx} is not open`);
  held.finish(commit);
  await held.done;
}

const db = await PGlite.create(path.join(dataDir, 'pglite'), { extensions: { vector } });
await db.exec(SESSION_SETTINGS);
await db.listen(CHANGE_CHANNEL, (table) => port.postMessage({ change: table } satisfies ThreadChange));

port.on('message', (message: ThreadRequest) => {
  const run = async (): Promise<unknown> => {
    switch (message.op) {
      case 'query':
        return query(target(db, message.tx), message.sql, message.params);
      case 'exec':
        return exec(target(db, message.tx), message.sql);
      case 'begin':
        return begin(db);
      case 'commit':
        return end(message.tx, true);
      case 'rollback':
        return end(message.tx, false);
      case 'close':
        if (!db.closed) await db.close();
        return null;
    }
  };
  run().then(
    (value) => port.postMessage({ id: message.id, ok: true, value } satisfies ThreadResponse),
    (err: unknown) => port.postMessage({ id: message.id, ok: false, error: errorFields(err) } satisfies ThreadResponse),
  );
});
port.postMessage({ id: 0, ok: true, value: 'ready' } satisfies ThreadResponse);

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
/** Open transactions by the id the caller chose; `ready` settles once PGlite has begun the transaction. */
const open = new Map<number, { ready: Promise<Transaction>; finish: (commit: boolean) => void; done: Promise<void> }>();
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

function target(db: PGlite, tx: number | undefined): Promise<Target> {
  if (tx === undefined) return Promise.resolve(db);
  const held = open.get(tx);
  if (!held) return Promise.reject(new Error(`transaction ${tx} is not open`));
  return held.ready;
}

/**
 * Opens transaction `id` (chosen by the caller, who sends its statements without waiting for the answer to this
 * message: they wait here until it has begun). Resolves once it has begun; it stays open until commit or rollback.
 */
function begin(db: PGlite, id: number): Promise<void> {
  if (open.has(id)) return Promise.reject(new Error(`transaction ${id} is already open`));
  let finish: (commit: boolean) => void = () => undefined;
  const decided = new Promise<boolean>((resolve) => (finish = resolve));
  let started: (tx: Transaction) => void = () => undefined;
  let failed: (err: Error) => void = () => undefined;
  const ready = new Promise<Transaction>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });
  ready.catch(() => undefined); // answered through the begin message and every statement of the transaction
  const done: Promise<void> = db
    .transaction(async (tx) => {
      started(tx);
      if (!(await decided)) throw new Rollback('rollback');
    })
    .then(
      () => undefined,
      (err: unknown) => {
        if (!(err instanceof Rollback)) throw err;
      },
    )
    .finally(() => open.delete(id));
  // A transaction that never began fails its statements with the reason; one that ended reports it on commit.
  done.catch((err: unknown) => failed(err instanceof Error ? err : new Error(String(err))));
  open.set(id, { ready, finish, done });
  return ready.then(() => undefined);
}

async function end(tx: number, commit: boolean): Promise<void> {
  const held = open.get(tx);
  if (!held) throw new Error(`transaction ${tx} is not open`);
  await held.ready.catch(() => undefined);
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
        return query(await target(db, message.tx), message.sql, message.params);
      case 'exec':
        return exec(await target(db, message.tx), message.sql);
      case 'begin':
        return begin(db, message.tx);
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

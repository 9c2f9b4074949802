import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ChangeFeed } from './changes.js';
import type { ChangeListener, Database, QueryResult, Queryable } from './database.js';
import { toError, type ThreadChange, type ThreadRequest, type ThreadResponse } from './pglite-protocol.js';

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Starts the worker script beside this module; from source (`.ts`, tests and benchmarks) through tsx. */
function startWorker(dataDir: string): Worker {
  const url = new URL(`./pglite-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  if (url.pathname.endsWith('.js')) return new Worker(url, { workerData: { dataDir } });
  const api = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(url.href)}))`;
  return new Worker(boot, { eval: true, workerData: { dataDir } });
}

class ThreadQueryable implements Queryable {
  constructor(
    protected readonly thread: PgliteThread,
    private readonly tx: number | undefined,
  ) {}

  query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.thread.call({ op: 'query', sql, ...(params ? { params: [...params] } : {}), ...(this.tx === undefined ? {} : { tx: this.tx }) }) as Promise<QueryResult<R>>;
  }

  exec(sql: string): Promise<QueryResult<Record<string, unknown>>> {
    return this.thread.call({ op: 'exec', sql, ...(this.tx === undefined ? {} : { tx: this.tx }) }) as Promise<QueryResult<Record<string, unknown>>>;
  }
}

/** The worker and the calls waiting for its answers. */
class PgliteThread {
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;
  readonly feed = new ChangeFeed();

  constructor(private readonly worker: Worker) {
    this.feed.live = true;
    worker.on('message', (m: ThreadResponse | ThreadChange) => {
      if ('change' in m) return this.feed.emit({ table: m.change });
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) worker.unref();
      if (m.ok) w.resolve(m.value);
      else w.reject(toError(m.error));
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.feed.down();
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the embedded database thread exited (code ${code})`)));
  }

  call(request: Request): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    // The thread keeps the process alive only while it has work: an idle open database does not.
    if (this.waiting.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

class PgliteThreadDatabase extends ThreadQueryable implements Database {
  readonly kind = 'pglite' as const;
  private closed: Promise<void> | null = null;
  private nextTx = 1;

  constructor(
    thread: PgliteThread,
    private readonly release: () => void,
  ) {
    super(thread, undefined);
  }

  get watching(): boolean {
    return this.thread.feed.live;
  }

  watch(listener: ChangeListener): () => void {
    return this.thread.feed.watch(listener);
  }

  /**
   * The transaction's id is chosen here and its first statements follow the begin at once: the thread runs them
   * once the transaction has begun, and the transaction holds the embedded database's one session a round trip
   * less (other statements wait while it is open).
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const tx = this.nextTx++;
    const began = this.thread.call({ op: 'begin', tx });
    began.catch(() => undefined); // its failure reaches the caller through the statements and the commit
    let value: T;
    try {
      value = await fn(new ThreadQueryable(this.thread, tx));
    } catch (err) {
      await this.thread.call({ op: 'rollback', tx }).catch(() => undefined);
      throw err;
    }
    await began;
    await this.thread.call({ op: 'commit', tx });
    return value;
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      try {
        await this.thread.call({ op: 'close' });
        await this.thread.terminate();
      } finally {
        this.release();
      }
    })();
    return this.closed;
  }
}

/**
 * Opens the embedded database in `dataDir` on a worker thread: every statement runs on another core than the
 * HTTP server, and a long one (a batch of trace inserts) never delays requests. Same interface and errors
 * (message, code, detail, constraint …) as the in-process database.
 */
export async function openPgliteThread(dataDir: string, release: () => void): Promise<Database> {
  const worker = startWorker(dataDir);
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (m: ThreadResponse) => {
      if (m.id !== 0) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the embedded database thread exited (code ${code}) while opening ${dataDir}`)));
  });
  try {
    await ready;
  } catch (err) {
    await worker.terminate().catch(() => undefined);
    throw err;
  }
  worker.unref();
  return new PgliteThreadDatabase(new PgliteThread(worker), release);
}

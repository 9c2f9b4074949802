import PgBoss from 'pg-boss';
import type { ZodType } from 'zod';
import type { Database } from '../db/index.js';
import { parseInput } from '../errors/index.js';
import { QUEUES, type QueueName, type QueuePayload } from './queues.js';

export interface JobsOptions {
  /** PostgreSQL URL; absent means pg-boss runs in-process on the embedded database. */
  url?: string | undefined;
  db: Database;
  /** How often an idle worker looks for jobs it was not told about (default 10 s on PostgreSQL, 60 s embedded). */
  pollSeconds?: number;
  onError?: (err: Error) => void;
}

// Idle polling is the only work a quiet server does: every poll is a statement per queue. On PostgreSQL other
// processes add jobs unannounced; the embedded database has one process, whose job inserts wake its workers.
const POLL_SECONDS = { postgres: 10, embedded: 60 };
const JOB_INSERT = /insert into \S+\.job\b/i;

/**
 * Background work on pg-boss, with typed queues. On PostgreSQL every process shares the queues; on the
 * embedded database pg-boss runs in-process over the same connection.
 *
 * @example
 * const jobs = await JobRunner.start({ db });
 * await jobs.work('audit-checkpoint', async () => { await audit.signDueCheckpoints(); });
 * await jobs.send('audit-checkpoint', { reason: 'interval' });
 */
export class JobRunner {
  /** Worker ids by queue, to wake them when this process sends a job. */
  private readonly workers = new Map<QueueName, string[]>();

  private constructor(
    private readonly boss: PgBoss,
    private readonly pollSeconds: number,
    /** pg-boss's statements on the embedded database; it does not await a job's completion before it stops. */
    private readonly inFlight: Set<Promise<unknown>>,
  ) {}

  static async start(options: JobsOptions): Promise<JobRunner> {
    const db = options.db;
    const inFlight = new Set<Promise<unknown>>();
    let runner: JobRunner | null = null;
    const boss = options.url
      ? new PgBoss({ connectionString: options.url, max: 3, application_name: 'tarmac-jobs' })
      : new PgBoss({
          db: {
            executeSql: (text: string, values?: unknown[]) => {
              // pg-boss sends its schema as one multi-statement script without parameters.
              const done = values && values.length > 0 ? db.query(text, values) : db.exec(text);
              inFlight.add(done);
              void done.catch(() => undefined).finally(() => inFlight.delete(done));
              // Scheduled jobs and retries are inserted by pg-boss itself: their workers look at once.
              if (JOB_INSERT.test(text)) void done.then(() => runner?.wakeAll(), () => undefined);
              return done;
            },
          },
        });
    boss.on('error', (err: Error) => options.onError?.(err));
    await boss.start();
    for (const name of Object.keys(QUEUES)) await boss.createQueue(name);
    runner = new JobRunner(boss, options.pollSeconds ?? (options.url ? POLL_SECONDS.postgres : POLL_SECONDS.embedded), inFlight);
    return runner;
  }

  /** Queues one job and wakes this process's workers of the queue; `singletonKey` keeps at most one such job waiting. */
  async send<Q extends QueueName>(queue: Q, payload: QueuePayload<Q>, options: { singletonKey?: string } = {}): Promise<string | null> {
    const data = parseInput(QUEUES[queue] as ZodType<object>, payload, `${queue} payload`);
    const id = await this.boss.send(queue, data, options);
    for (const worker of this.workers.get(queue) ?? []) this.boss.notifyWorker(worker);
    return id;
  }

  private wakeAll(): void {
    for (const ids of this.workers.values()) for (const worker of ids) this.boss.notifyWorker(worker);
  }

  /**
   * Runs `handler` for each job of the queue; a throw marks the job failed and pg-boss retries it. After a job
   * the worker looks again at once (more may wait); an empty queue is polled every `pollSeconds`.
   */
  async work<Q extends QueueName>(queue: Q, handler: (payload: QueuePayload<Q>) => Promise<void>): Promise<void> {
    let self = '';
    self = await this.boss.work<object>(queue, { pollingIntervalSeconds: this.pollSeconds }, async (jobs) => {
      try {
        for (const job of jobs) await handler(parseInput(QUEUES[queue] as ZodType<object>, job.data, `${queue} payload`) as QueuePayload<Q>);
      } finally {
        if (self) this.boss.notifyWorker(self);
      }
    });
    this.workers.set(queue, [...(this.workers.get(queue) ?? []), self]);
  }

  /** Runs the queue on a cron schedule (one schedule per queue across all processes). */
  async schedule<Q extends QueueName>(queue: Q, cron: string, payload: QueuePayload<Q>): Promise<void> {
    await this.boss.schedule(queue, cron, payload);
  }

  /** Stops taking jobs, lets running ones finish, and closes pg-boss's connections. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: timeoutMs, close: true });
    // A job's completion may still be on its way to the database, which closes next.
    await Promise.allSettled([...this.inFlight]);
  }
}

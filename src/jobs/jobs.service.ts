import PgBoss from 'pg-boss';
import type { ZodType } from 'zod';
import type { Database } from '../db/index.js';
import { parseInput } from '../errors/index.js';
import { QUEUES, type QueueName, type QueuePayload } from './queues.js';

export interface JobsOptions {
  /** PostgreSQL URL; absent means pg-boss runs in-process on the embedded database. */
  url?: string | undefined;
  db: Database;
  onError?: (err: Error) => void;
}

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
  private constructor(private readonly boss: PgBoss) {}

  static async start(options: JobsOptions): Promise<JobRunner> {
    const db = options.db;
    const boss = options.url
      ? new PgBoss({ connectionString: options.url, max: 3, application_name: 'tarmac-jobs' })
      : new PgBoss({
          db: {
            // pg-boss sends its schema as one multi-statement script without parameters.
            executeSql: async (text: string, values?: unknown[]) =>
              values && values.length > 0 ? db.query(text, values) : db.exec(text),
          },
        });
    boss.on('error', (err: Error) => options.onError?.(err));
    await boss.start();
    for (const name of Object.keys(QUEUES)) await boss.createQueue(name);
    return new JobRunner(boss);
  }

  /** Queues one job; `singletonKey` keeps at most one such job waiting. */
  async send<Q extends QueueName>(queue: Q, payload: QueuePayload<Q>, options: { singletonKey?: string } = {}): Promise<string | null> {
    const data = parseInput(QUEUES[queue] as ZodType<object>, payload, `${queue} payload`);
    return this.boss.send(queue, data, options);
  }

  /** Runs `handler` for each job of the queue; a throw marks the job failed and pg-boss retries it. */
  async work<Q extends QueueName>(queue: Q, handler: (payload: QueuePayload<Q>) => Promise<void>): Promise<void> {
    await this.boss.work<object>(queue, { pollingIntervalSeconds: 1 }, async (jobs) => {
      for (const job of jobs) await handler(parseInput(QUEUES[queue] as ZodType<object>, job.data, `${queue} payload`) as QueuePayload<Q>);
    });
  }

  /** Runs the queue on a cron schedule (one schedule per queue across all processes). */
  async schedule<Q extends QueueName>(queue: Q, cron: string, payload: QueuePayload<Q>): Promise<void> {
    await this.boss.schedule(queue, cron, payload);
  }

  /** Stops taking jobs, lets running ones finish, and closes pg-boss's connections. */
  async stop(timeoutMs = 10_000): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: timeoutMs, close: true });
  }
}

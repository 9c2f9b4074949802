import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { buildServer } from '../http/index.js';
import type { JobOf } from '../capability/index.js';
import { JobRunner, type QueueName } from '../jobs/index.js';
import { adminKeyPath, createLogger, openServices, packageVersion, type Services } from './app.js';

/** A running server with its workers. */
export interface RunningServer {
  url: string;
  services: Services;
  app: FastifyInstance;
  jobs: JobRunner;
  /** Stops taking requests, finishes in-flight ones and running jobs, then closes the database. */
  stop(): Promise<void>;
}

/** Registers a capability's worker, and its schedule if it has one. */
async function registerJob<Q extends QueueName>(runner: JobRunner, job: JobOf<Q>): Promise<void> {
  await runner.work(job.queue, (payload) => job.work(payload));
  if (job.schedule) await runner.schedule(job.queue, job.schedule.cron, job.schedule.payload);
}

/** Where a running server on the embedded database announces itself, so the CLI can talk to it. */
export function serverInfoPath(config: Config): string {
  return path.join(config.dataDirAbsolute, 'server.json');
}

/**
 * Starts Tarmac: services, the HTTP server, and every capability's background workers and schedules.
 *
 * @example
 * const server = await startServer(loadConfig());
 * process.on('SIGTERM', () => server.stop());
 */
export async function startServer(config: Config, options: { logStream?: NodeJS.WritableStream; replaceAdminKey?: boolean } = {}): Promise<RunningServer> {
  const logger = createLogger(config);
  const services = await openServices(config, { command: 'tarmac serve', logger, replaceAdminKey: options.replaceAdminKey ?? false });
  let jobs: JobRunner | null = null;
  let app: FastifyInstance | null = null;
  try {
    app = await buildServer(
      { db: services.db, registry: services.registry, version: packageVersion() },
      { bodyLimit: config.bodyLimit, maxDocumentBytes: config.maxDocumentBytes, logLevel: config.logLevel, ...(options.logStream ? { logStream: options.logStream } : {}) },
    );
    await app.listen({ port: config.port, host: config.host });
    // Workers start once requests are served: readiness does not wait for the job queue.
    jobs = await JobRunner.start({ db: services.db, url: config.databaseUrl, onError: (err) => logger.error({ err }, 'job queue error') });
    const runner = jobs;
    for (const job of services.registry.jobs(runner)) await registerJob(runner, job);
    // A new installation's demo sources get their first sync now rather than at the next scheduled hour.
    for (const source of services.seededSources) await runner.send('source-sync', { source, reason: 'seed' }, { singletonKey: source });
    await services.registry.start(runner);
    const server = app;
    const address = server.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
    if (!config.databaseUrl) writeFileSync(serverInfoPath(config), JSON.stringify({ pid: process.pid, url }), { mode: 0o600 });

    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        const timer = setTimeout(() => {
          logger.error('shutdown timed out; closing anyway');
          process.exit(1);
        }, config.shutdownTimeoutMs + 5_000);
        timer.unref();
        // In-flight requests get shutdownTimeoutMs to finish; then remaining connections are cut.
        const cut = setTimeout(() => server.server.closeAllConnections(), config.shutdownTimeoutMs);
        try {
          await server.close();
          clearTimeout(cut);
          // Eval runs stop between trials and stay unfinished, for the next server to resume.
          await services.evals.stop();
          await runner.stop(config.shutdownTimeoutMs);
        } finally {
          // Background embedding stops and traces still in memory are written before the database closes.
          await services.registry.close().catch((err: unknown) => logger.error({ err }, 'cannot finish background work'));
          if (!config.databaseUrl) rmSync(serverInfoPath(config), { force: true });
          await services.db.close();
          clearTimeout(timer);
        }
      })());
    return { url, services, app: server, jobs: runner, stop };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await jobs?.stop().catch(() => undefined);
    await services.registry.close().catch(() => undefined);
    await services.db.close().catch(() => undefined);
    throw err;
  }
}

/** The lines `tarmac serve` prints at start: where it listens and where the admin key is (never the key). */
export function startBanner(server: RunningServer): string {
  const { config, installed } = server.services;
  const lines = [`Tarmac ${packageVersion()} is listening on ${server.url}`];
  lines.push(`  database: ${config.databaseUrl ? 'PostgreSQL' : `embedded (PGlite) in ${config.dataDirAbsolute}`}`);
  if (installed) lines.push(`  first start: the bootstrap admin key was written to ${adminKeyPath(config)} (mode 0600)`);
  else lines.push(`  admin key: ${adminKeyPath(config)} (written at first start)`);
  if (server.services.replacedAdminKey) lines.push(`  the previous admin key file was kept as ${server.services.replacedAdminKey}`);
  lines.push(`  try: curl -H "Authorization: Bearer $(cat ${adminKeyPath(config)})" ${server.url}/api/v1/me`);
  return lines.join('\n');
}

import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';
import { buildServer } from '../http/index.js';
import { systemActor } from '../access/index.js';
import { JobRunner } from '../jobs/index.js';
import { dueSources } from '../sources/index.js';
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

/** Where a running server on the embedded database announces itself, so the CLI can talk to it. */
export function serverInfoPath(config: Config): string {
  return path.join(config.dataDirAbsolute, 'server.json');
}

/**
 * Starts Tarmac: services, background workers (audit checkpoints) and the HTTP server.
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
      { ...services, version: packageVersion() },
      { bodyLimit: config.bodyLimit, maxDocumentBytes: config.maxDocumentBytes, logLevel: config.logLevel, ...(options.logStream ? { logStream: options.logStream } : {}) },
    );
    await app.listen({ port: config.port, host: config.host });
    // Workers start once requests are served: readiness does not wait for the job queue.
    jobs = await JobRunner.start({ db: services.db, url: config.databaseUrl, onError: (err) => logger.error({ err }, 'job queue error') });
    const runner = jobs;
    if (services.audit.signingKey) {
      await runner.work('audit-checkpoint', async ({ reason }) => {
        const signed = await services.audit.signDueCheckpoints();
        // The hourly run also anchors the newest entries, so none stay unsigned for long.
        const head = reason === 'schedule' ? await services.audit.checkpointNow() : null;
        if (signed > 0 || head) logger.info({ signed: signed + (head ? 1 : 0), reason }, 'audit checkpoints signed');
      });
      await runner.schedule('audit-checkpoint', '0 * * * *', { reason: 'schedule' });
    }
    await runner.work('source-sync-tick', async () => {
      for (const name of dueSources(await services.sources.all(), new Date())) {
        await runner.send('source-sync', { source: name, reason: 'schedule' }, { singletonKey: name });
      }
    });
    await runner.schedule('source-sync-tick', '* * * * *', { reason: 'schedule' });
    await runner.work('source-sync', async ({ source, reason }) => {
      const row = await services.sources.byRef(source);
      if (!row) return;
      const result = await services.sources.syncAs({ actor: systemActor('scheduler') }, row, { trigger: reason });
      logger.info({ source, runId: result.runId, status: result.status, error: result.error, ...result.counts }, 'source synced');
    });
    await runner.work('review-escalation', async () => {
      const moved = await services.review.escalate();
      if (moved > 0) logger.info({ moved }, 'review tasks escalated');
    });
    await runner.schedule('review-escalation', '* * * * *', { reason: 'schedule' });
    await runner.work('gateway-trace-retention', async () => {
      const result = await services.gateway.pruneTraces(services.audit, { actor: systemActor('scheduler') });
      if (result.deleted > 0) logger.info({ ...result }, 'old gateway traces deleted');
    });
    await runner.schedule('gateway-trace-retention', '17 3 * * *', { reason: 'schedule' });
    await runner.work('eval-run', async ({ evalRun }) => services.evals.execute(evalRun));
    services.evals.dispatchWith(async (id) => {
      await runner.send('eval-run', { evalRun: id }, { singletonKey: id });
    });
    // Eval runs a stopped server left unfinished continue here; stored trials are not run again.
    for (const id of await services.evals.unfinished()) await runner.send('eval-run', { evalRun: id }, { singletonKey: id });
    // A new installation's demo sources get their first sync now rather than at the next scheduled hour.
    for (const source of services.seededSources) await runner.send('source-sync', { source, reason: 'seed' }, { singletonKey: source });
    services.audit.onCheckpointDue(() => {
      runner.send('audit-checkpoint', { reason: 'interval' }, { singletonKey: 'due' }).catch((err: unknown) => logger.error({ err }, 'cannot queue audit checkpoint'));
    });
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
          await services.retrieval.close().catch((err: unknown) => logger.error({ err }, 'cannot stop background embedding'));
          // Traces still in memory are written before the database closes.
          await services.gateway.close().catch((err: unknown) => logger.error({ err }, 'cannot write the last gateway traces'));
          if (!config.databaseUrl) rmSync(serverInfoPath(config), { force: true });
          await services.db.close();
          clearTimeout(timer);
        }
      })());
    return { url, services, app: server, jobs: runner, stop };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await jobs?.stop().catch(() => undefined);
    await services.retrieval.close().catch(() => undefined);
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

import path from 'node:path';
import { systemActor } from '../access/index.js';
import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { registerGatewayRoutes } from './gateway.routes.js';
import { GatewayService, type GatewayOptions } from './gateway.service.js';
import { TraceJournal } from './traces.js';

export const capability = defineCapability({
  name: 'gateway',
  needs: [audit],
  workspace: ['gateway'],
  build: async ({ db, logger, localDir }, options?: Pick<GatewayOptions, 'configTtlMs'>) => {
    // Beside an embedded database a trace is durable once in a local journal, so answers do not wait for commits.
    const traces = localDir ? await TraceJournal.open(db, path.join(localDir, 'gateway-traces.journal')) : null;
    if (traces && traces.replayed > 0) logger.info({ traces: traces.replayed }, 'gateway traces recovered from the journal');
    return new GatewayService(db, { onError: (err, what) => logger.error({ err }, what), ...(traces ? { traceJournal: traces.journal } : {}), ...options });
  },
  routes: (app, gateway, { db }) => registerGatewayRoutes(app, gateway, db),
  jobs: (gateway, { audit, logger }) => [
    {
      queue: 'gateway-trace-retention',
      work: async () => {
        const result = await gateway.pruneTraces(audit, { actor: systemActor('scheduler') });
        if (result.deleted > 0) logger.info({ ...result }, 'old gateway traces deleted');
      },
      schedule: { cron: '17 3 * * *', payload: { reason: 'schedule' } },
    },
  ],
  // Traces still in memory are written before the database closes.
  close: (gateway) => gateway.close(),
});

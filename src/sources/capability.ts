import { systemActor } from '../access/index.js';
import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { dueSources } from './schedule.js';
import { registerSourceRoutes } from './sources.routes.js';
import { SourceService } from './sources.service.js';

export const capability = defineCapability({
  name: 'sources',
  needs: [audit],
  workspace: ['sources'],
  build: ({ db, audit, config }) => new SourceService(db, audit, { maxDocumentBytes: config.maxDocumentBytes }),
  // Pushed documents arrive base64-encoded inside JSON: the push route accepts the largest document that way.
  routes: (app, sources, { bodyLimit, maxDocumentBytes }) => registerSourceRoutes(app, sources, { pushBodyLimit: Math.max(bodyLimit, Math.ceil(maxDocumentBytes * 1.4) + 1024 * 1024) }),
  metrics: (sources, metrics) => metrics.addSourceGauges(() => sources.gauges()),
  jobs: (sources, { runner, logger }) => [
    {
      queue: 'source-sync-tick',
      work: async () => {
        for (const name of dueSources(await sources.all(), new Date())) {
          await runner.send('source-sync', { source: name, reason: 'schedule' }, { singletonKey: name });
        }
      },
      schedule: { cron: '* * * * *', payload: { reason: 'schedule' } },
    },
    {
      queue: 'source-sync',
      work: async ({ source, reason }) => {
        const row = await sources.byRef(source);
        if (!row) return;
        const result = await sources.syncAs({ actor: systemActor('scheduler') }, row, { trigger: reason });
        logger.info({ source, runId: result.runId, status: result.status, error: result.error, ...result.counts }, 'source synced');
      },
    },
  ],
});

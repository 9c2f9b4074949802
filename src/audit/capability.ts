import { defineCapability } from '../capability/index.js';
import { registerAuditRoutes } from './audit.routes.js';
import { AuditLog } from './audit.service.js';
import type { SigningKey } from './signing.js';

/** The keys the installation signs and verifies checkpoints with; without them this process signs none. */
export interface AuditKeys {
  signingKey: SigningKey | null;
  trustedPublicKey?: string | null;
  localPublicKey?: string | null;
}

export const capability = defineCapability({
  name: 'audit',
  needs: [],
  build: ({ db, config }, keys?: AuditKeys) => new AuditLog(db, { checkpointEvery: config.auditCheckpointEvery, signingKey: null, ...keys }),
  routes: (app, audit) => registerAuditRoutes(app, audit),
  jobs: (audit, { logger }) =>
    audit.signingKey
      ? [
          {
            queue: 'audit-checkpoint',
            work: async ({ reason }) => {
              const signed = await audit.signDueCheckpoints();
              // The hourly run also anchors the newest entries, so none stay unsigned for long.
              const head = reason === 'schedule' ? await audit.checkpointNow() : null;
              if (signed > 0 || head) logger.info({ signed: signed + (head ? 1 : 0), reason }, 'audit checkpoints signed');
            },
            schedule: { cron: '0 * * * *', payload: { reason: 'schedule' } },
          },
        ]
      : [],
  start: (audit, { runner, logger }) => {
    audit.onCheckpointDue(() => {
      runner.send('audit-checkpoint', { reason: 'interval' }, { singletonKey: 'due' }).catch((err: unknown) => logger.error({ err }, 'cannot queue audit checkpoint'));
    });
  },
});

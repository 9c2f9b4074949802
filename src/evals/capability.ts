import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { capability as gateway } from '../gateway/index.js';
import { capability as identity } from '../identity/index.js';
import { capability as prompts } from '../prompts/index.js';
import { capability as retrieval } from '../retrieval/index.js';
import { capability as review } from '../review/index.js';
import { capability as runs } from '../runs/index.js';
import { capability as usecases } from '../usecases/index.js';
import { capability as workspace } from '../workspace/index.js';
import { registerEvalRoutes } from './evals.routes.js';
import { EvalService } from './evals.service.js';

export const capability = defineCapability({
  name: 'evals',
  needs: [audit, identity, usecases, prompts, retrieval, review, runs, gateway, workspace],
  workspace: ['datasets'],
  build: ({ db, logger, audit, identity, usecases, prompts, retrieval, review, runs, gateway, workspace }, options?: { now?: () => Date }) => {
    const evals = new EvalService(db, { audit, review, retrieval, identity, usecases, runs, gateway, onError: (err, what) => logger.error({ err }, what), ...(options?.now ? { now: options.now } : {}) });
    // Stage changes and the production label, by the API or by tarmac.yaml, pass the use case's gate.
    usecases.connectGate(evals);
    prompts.connectGate(evals);
    workspace.connectGates({ stage: evals, label: evals });
    workspace.connectDatasets(evals);
    return evals;
  },
  routes: (app, evals) => registerEvalRoutes(app, evals),
  jobs: (evals, { logger }) => [
    { queue: 'eval-run', work: async ({ evalRun }) => evals.execute(evalRun) },
    {
      queue: 'eval-schedule-tick',
      work: async () => {
        const started = await evals.scheduleTick();
        if (started.length > 0) logger.info({ evalRuns: started }, 'scheduled eval runs started');
      },
      schedule: { cron: '* * * * *', payload: { reason: 'schedule' } },
    },
    {
      queue: 'eval-monitor-tick',
      work: async () => {
        const raised = await evals.monitorTick();
        if (raised > 0) logger.warn({ alerts: raised }, 'production signals shifted: online_drift alerts raised');
      },
      schedule: { cron: '40 2 * * *', payload: { reason: 'schedule' } },
    },
  ],
  start: async (evals, { runner }) => {
    evals.dispatchWith(async (id) => {
      await runner.send('eval-run', { evalRun: id }, { singletonKey: id });
    });
    // Eval runs a stopped server left unfinished continue here; stored trials are not run again.
    for (const id of await evals.unfinished()) await runner.send('eval-run', { evalRun: id }, { singletonKey: id });
  },
  // Eval runs stop between trials and stay unfinished, for the next server to resume.
  close: (evals) => evals.stop(),
});

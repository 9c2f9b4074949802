import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { capability as gateway } from '../gateway/index.js';
import { capability as prompts } from '../prompts/index.js';
import { capability as retrieval } from '../retrieval/index.js';
import { capability as review } from '../review/index.js';
import { capability as usecases } from '../usecases/index.js';
import { registerRunRoutes } from './runs.routes.js';
import { RunService } from './runs.service.js';

export const capability = defineCapability({
  name: 'runs',
  needs: [audit, review, usecases, prompts, retrieval, gateway],
  build: ({ db, audit, review, usecases, prompts, retrieval, gateway }) => {
    const runs = new RunService(db, { audit, review, usecases, prompts, retrieval, gateway });
    // A reviewer's decision is applied to the run it holds.
    review.connect(runs);
    return runs;
  },
  routes: (app, runs) => registerRunRoutes(app, runs),
});

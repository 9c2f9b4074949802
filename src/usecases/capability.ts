import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { registerUseCaseRoutes } from './usecases.routes.js';
import { UseCaseService } from './usecases.service.js';

export const capability = defineCapability({
  name: 'usecases',
  needs: [audit],
  workspace: ['usecases'],
  build: ({ db, audit }) => new UseCaseService(db, audit),
  routes: (app, usecases) => registerUseCaseRoutes(app, usecases),
});

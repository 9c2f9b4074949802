import { defineCapability } from '../capability/index.js';
import { registerPolicyRoutes } from './policies.routes.js';
import { PolicyService } from './policies.service.js';

export const capability = defineCapability({
  name: 'policies',
  needs: [],
  workspace: ['policies'],
  build: ({ db }) => new PolicyService(db),
  routes: (app, policies) => registerPolicyRoutes(app, policies),
});

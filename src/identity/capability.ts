import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { registerIdentityRoutes } from './identity.routes.js';
import { IdentityService } from './identity.service.js';

export const capability = defineCapability({
  name: 'identity',
  needs: [audit],
  workspace: ['users', 'teams'],
  build: ({ db, audit, config, serving }) => new IdentityService(db, audit, { authCacheMs: serving ? config.authCacheMs : 0 }),
  routes: (app, identity) => registerIdentityRoutes(app, identity),
  authenticate: (identity, token) => identity.authenticate(token),
});

import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { capability as gateway } from '../gateway/index.js';
import { capability as identity } from '../identity/index.js';
import { registerWorkspaceRoutes } from './workspace.routes.js';
import { checkSections } from './workspace.schema.js';
import { WorkspaceService } from './workspace.service.js';

export const capability = defineCapability({
  name: 'workspace',
  needs: [audit, identity, gateway],
  build: ({ db, audit, identity, gateway, sections }) => {
    checkSections(sections);
    return new WorkspaceService(db, audit, {
      onApplied: () => {
        // Keys and the gateway's configuration may have changed: this process reads them again.
        identity.forgetPrincipals();
        gateway.reload();
      },
    });
  },
  routes: (app, workspace) => registerWorkspaceRoutes(app, workspace),
});

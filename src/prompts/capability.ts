import { capability as audit } from '../audit/index.js';
import { defineCapability } from '../capability/index.js';
import { registerPromptRoutes } from './prompts.routes.js';
import { PromptService } from './prompts.service.js';

export const capability = defineCapability({
  name: 'prompts',
  needs: [audit],
  workspace: ['prompts'],
  build: ({ db, audit }) => new PromptService(db, audit),
  routes: (app, prompts) => registerPromptRoutes(app, prompts),
});

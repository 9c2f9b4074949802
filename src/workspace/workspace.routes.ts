import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { ApplyResult } from './workspace.schema.js';
import type { WorkspaceService } from './workspace.service.js';

const ApplyBody = z.strictObject({
  yaml: z.string().max(10 * 1024 * 1024).describe('The text of a tarmac.yaml'),
  file: z.string().max(500).default('tarmac.yaml').describe('File name shown in errors and recorded in the audit log'),
  dryRun: z.boolean().default(false),
  files: z.record(z.string().max(1000), z.string().max(10 * 1024 * 1024)).default({}).describe('The files the yaml names (dataset cases), by the path written in it'),
});

/** `POST /api/v1/apply`: config as code over HTTP (what `tarmac apply` calls when a server holds the database). */
export function registerWorkspaceRoutes(app: FastifyInstance, workspace: WorkspaceService): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/apply',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Validate a tarmac.yaml and show or apply its changes (platform admins; applying needs the write scope).',
        tags: ['workspace'],
        body: ApplyBody,
        response: { 200: ApplyResult },
      },
    },
    async (request) => workspace.apply(principalOf(request), request.id, request.body.yaml, request.body.file, { dryRun: request.body.dryRun, files: request.body.files }),
  );
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { routeAuth, type ZodTypeProvider } from '../access/index.js';
import { Policy, PolicyName } from './policies.schema.js';
import type { PolicyService } from './policies.service.js';

/** `/api/v1/policies…`: read the platform policies (they change through `tarmac apply`). */
export function registerPolicyRoutes(app: FastifyInstance, policies: PolicyService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    '/api/v1/policies',
    { config: routeAuth({ scope: 'read' }), schema: { summary: 'List platform policies.', tags: ['policies'], response: { 200: z.object({ policies: z.array(Policy) }) } } },
    async () => ({ policies: await policies.list() }),
  );
  r.get(
    '/api/v1/policies/:name',
    {
      config: routeAuth({ scope: 'read' }),
      schema: { summary: 'One platform policy.', tags: ['policies'], params: z.strictObject({ name: PolicyName }), response: { 200: Policy } },
    },
    async (request) => policies.get(request.params.name),
  );
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import type { RetrievalService } from './retrieval.service.js';

const SearchBody = z.strictObject({
  query: z.string().min(1).max(10_000),
  k: z.number().int().min(1).max(200).default(10),
  sources: z.array(z.string().min(1)).max(100).optional().describe('Source names or ids; default all you may read'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('Only chunks whose metadata contains these values'),
  as: z.string().min(1).max(320).optional().describe('Search as this user (platform admins only)'),
});

/** `POST /api/v1/search`: retrieval as the caller. */
export function registerRetrievalRoutes(app: FastifyInstance, retrieval: RetrievalService): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/search',
    { config: routeAuth({ scope: 'read' }), schema: { summary: 'Search the chunks the caller may read (lexical BM25).', tags: ['retrieval'], body: SearchBody } },
    async (request) => retrieval.search(principalOf(request), request.body),
  );
}

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { ContextRecipe } from './context.service.js';
import { AssembledContext, SEARCH_MODES, SearchResult } from './retrieval.schema.js';
import type { RetrievalService } from './retrieval.service.js';

const SearchBody = z.strictObject({
  query: z.string().min(1).max(10_000),
  k: z.number().int().min(1).max(200).default(10),
  sources: z.array(z.string().min(1)).max(100).optional().describe('Source names or ids; default all you may read'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('Only chunks whose metadata contains these values'),
  as: z.string().min(1).max(320).optional().describe('Search as this user (platform admins, and keys with the act_as scope)'),
  mode: z.enum(SEARCH_MODES).optional().describe('lexical, vector or hybrid; default hybrid when an embedding provider is configured, else lexical'),
});

/** `POST /api/v1/search`: retrieval as the caller. */
export function registerRetrievalRoutes(app: FastifyInstance, retrieval: RetrievalService): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/search',
    { config: routeAuth({ scope: 'read' }), schema: { summary: 'Search the chunks the caller may read (lexical BM25, vector or hybrid).', tags: ['retrieval'], body: SearchBody, response: { 200: SearchResult } } },
    async (request) => retrieval.search(principalOf(request), request.body),
  );
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/v1/context',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Assemble context from a recipe as the caller; returns the context and its manifest.',
        tags: ['retrieval'],
        body: z.strictObject({
          query: z.string().min(1).max(10_000),
          recipe: ContextRecipe,
          inputs: z.record(z.string(), z.string()).optional().describe('Values for {placeholders} in lookup keys'),
          as: z.string().min(1).max(320).optional().describe('Assemble as this user (platform admins, and keys with the act_as scope)'),
        }),
        response: { 200: AssembledContext },
      },
    },
    async (request) => retrieval.assemble(principalOf(request), request.body.recipe, request.body),
  );
}

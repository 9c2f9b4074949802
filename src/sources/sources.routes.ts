import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { DeclaredSource, Deleted, FailedDocument, PushedDocument, PushResult, QuarantinedItem, Source, SourceSpec, SourceStatus, SyncResult } from './sources.schema.js';
import type { SourceService } from './sources.service.js';

const SourceParams = z.strictObject({ source: z.string().min(1).max(200) });
const DocumentParams = z.strictObject({ source: z.string().min(1).max(200), doc: z.string().min(1).max(1000) });
const Limit = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });



/** `/api/v1/sources…`: the registry, the push connector, sync, status and quarantine. */
export function registerSourceRoutes(app: FastifyInstance, sources: SourceService, options: { pushBodyLimit: number }): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const read = routeAuth({ scope: 'read' });
  const write = routeAuth({ scope: 'write' });
  const tags = ['sources'];

  r.get('/api/v1/sources', { config: read, schema: { summary: 'Sources of your teams (admins: all).', tags, response: { 200: z.object({ sources: z.array(Source) }) } } }, async (request) => ({ sources: await sources.list(callerOf(request)) }));

  r.post('/api/v1/sources', { config: write, schema: { summary: 'Create or update a source (builders of its team).', tags, body: SourceSpec, response: { 200: DeclaredSource, 201: DeclaredSource } } }, async (request, reply) => {
    const result = await sources.declare(callerOf(request), request.body);
    return reply.code(result.changed ? 201 : 200).send(result);
  });

  r.get('/api/v1/sources/:source', { config: read, schema: { summary: 'A source by id or name.', tags, params: SourceParams, response: { 200: Source } } }, async (request) =>
    sources.get(callerOf(request), request.params.source),
  );

  r.delete('/api/v1/sources/:source', { config: write, schema: { summary: 'Delete a source and its documents (owners of its team).', tags, params: SourceParams, response: { 200: Deleted } } }, async (request) => {
    await sources.remove(callerOf(request), request.params.source);
    return { deleted: true as const };
  });

  r.get('/api/v1/sources/:source/status', { config: read, schema: { summary: 'Freshness, lag, counts and the last sync run.', tags, params: SourceParams, response: { 200: SourceStatus } } }, async (request) =>
    sources.status(callerOf(request), request.params.source),
  );

  r.get('/api/v1/sources/:source/quarantine', { config: read, schema: { summary: 'Quarantined records with the rule they broke.', tags, params: SourceParams, querystring: Limit, response: { 200: z.object({ items: z.array(QuarantinedItem) }) } } }, async (request) => ({
    items: await sources.quarantine(callerOf(request), request.params.source, request.query.limit),
  }));

  r.get('/api/v1/sources/:source/failures', { config: read, schema: { summary: 'Documents that could not be parsed, with the reason.', tags, params: SourceParams, querystring: Limit, response: { 200: z.object({ documents: z.array(FailedDocument) }) } } }, async (request) => ({
    documents: await sources.failures(callerOf(request), request.params.source, request.query.limit),
  }));

  r.post(
    '/api/v1/sources/:source/documents',
    {
      config: write,
      bodyLimit: options.pushBodyLimit,
      schema: { summary: 'Upsert documents into a push source (builders of its team).', tags, params: SourceParams, body: z.strictObject({ documents: z.array(PushedDocument).min(1).max(1000) }), response: { 200: PushResult } },
    },
    async (request) => sources.push(callerOf(request), request.params.source, request.body.documents),
  );

  r.delete('/api/v1/sources/:source/documents/:doc', { config: write, schema: { summary: 'Remove a document from a push source.', tags, params: DocumentParams, response: { 200: Deleted } } }, async (request) => {
    await sources.deleteDocument(callerOf(request), request.params.source, request.params.doc);
    return { deleted: true as const };
  });

  r.post('/api/v1/sources/:source/sync', { config: write, schema: { summary: 'Sync a source now and return the run summary.', tags, params: SourceParams, response: { 200: SyncResult } } }, async (request) =>
    sources.sync(callerOf(request), request.params.source, { trigger: 'api' }),
  );
}

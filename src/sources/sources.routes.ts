import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { DOCUMENT_FORMATS } from './parse.js';
import { SourceSpec } from './sources.schema.js';
import type { SourceService } from './sources.service.js';

const SourceParams = z.strictObject({ source: z.string().min(1).max(200) });
const DocumentParams = z.strictObject({ source: z.string().min(1).max(200), doc: z.string().min(1).max(1000) });
const Limit = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

const PushedDocument = z.strictObject({
  id: z.string().min(1).max(1000).describe('Stable id of the document within the source'),
  title: z.string().max(1000).optional(),
  text: z.string().optional().describe('The content as text (markdown, plain text, HTML, CSV or JSON: see format)'),
  contentBase64: z.string().optional().describe('The content as bytes, base64 (PDF, DOCX, or text in any encoding)'),
  format: z.enum(DOCUMENT_FORMATS).optional().describe('Default from fileName, else text'),
  fileName: z.string().max(1000).optional(),
  fields: z.record(z.string(), z.unknown()).optional().describe('A record instead of content: checked against the field rules'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('Filterable metadata'),
  updatedAt: z.iso.datetime({ offset: true }).optional(),
  allowed: z.array(z.string().min(1)).optional().describe('Access list; mapped through the source ACL mapping. Absent: the source default'),
});


/** `/api/v1/sources…`: the registry, the push connector, sync, status and quarantine. */
export function registerSourceRoutes(app: FastifyInstance, sources: SourceService, options: { pushBodyLimit: number }): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const read = routeAuth({ scope: 'read' });
  const write = routeAuth({ scope: 'write' });
  const tags = ['sources'];

  r.get('/api/v1/sources', { config: read, schema: { summary: 'Sources of your teams (admins: all).', tags } }, async (request) => ({ sources: await sources.list(callerOf(request)) }));

  r.post('/api/v1/sources', { config: write, schema: { summary: 'Create or update a source (builders of its team).', tags, body: SourceSpec } }, async (request, reply) => {
    const result = await sources.declare(callerOf(request), request.body);
    return reply.code(result.changed ? 201 : 200).send(result);
  });

  r.get('/api/v1/sources/:source', { config: read, schema: { summary: 'A source by id or name.', tags, params: SourceParams } }, async (request) =>
    sources.get(callerOf(request), request.params.source),
  );

  r.delete('/api/v1/sources/:source', { config: write, schema: { summary: 'Delete a source and its documents (owners of its team).', tags, params: SourceParams } }, async (request) => {
    await sources.remove(callerOf(request), request.params.source);
    return { deleted: true };
  });

  r.get('/api/v1/sources/:source/status', { config: read, schema: { summary: 'Freshness, lag, counts and the last sync run.', tags, params: SourceParams } }, async (request) =>
    sources.status(callerOf(request), request.params.source),
  );

  r.get('/api/v1/sources/:source/quarantine', { config: read, schema: { summary: 'Quarantined records with the rule they broke.', tags, params: SourceParams, querystring: Limit } }, async (request) => ({
    items: await sources.quarantine(callerOf(request), request.params.source, request.query.limit),
  }));

  r.get('/api/v1/sources/:source/failures', { config: read, schema: { summary: 'Documents that could not be parsed, with the reason.', tags, params: SourceParams, querystring: Limit } }, async (request) => ({
    documents: await sources.failures(callerOf(request), request.params.source, request.query.limit),
  }));

  r.post(
    '/api/v1/sources/:source/documents',
    {
      config: write,
      bodyLimit: options.pushBodyLimit,
      schema: { summary: 'Upsert documents into a push source (builders of its team).', tags, params: SourceParams, body: z.strictObject({ documents: z.array(PushedDocument).min(1).max(1000) }) },
    },
    async (request) => sources.push(callerOf(request), request.params.source, request.body.documents),
  );

  r.delete('/api/v1/sources/:source/documents/:doc', { config: write, schema: { summary: 'Remove a document from a push source.', tags, params: DocumentParams } }, async (request) => {
    await sources.deleteDocument(callerOf(request), request.params.source, request.params.doc);
    return { deleted: true };
  });

  r.post('/api/v1/sources/:source/sync', { config: write, schema: { summary: 'Sync a source now and return the run summary.', tags, params: SourceParams } }, async (request) =>
    sources.sync(callerOf(request), request.params.source, { trigger: 'api' }),
  );
}

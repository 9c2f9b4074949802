import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import { declaredAuth, requireScope, routeAuth, type RouteConfig } from '../access/index.js';
import type { Registry } from '../capability/index.js';
import { pendingMigrations, type Database } from '../db/index.js';
import { isTarmacError, parseInput, TarmacError } from '../errors/index.js';
import { openAiErrorType } from '../gateway/index.js';
import { HttpMetrics } from './metrics.js';
import { OpenApiCollector } from './openapi.js';
import { compileResponseSerializer, requireResponseSchemas } from './responses.js';
import { registerTextRules } from './text.js';

/** Everything the server serves: the built capabilities, whose routes it registers. */
export interface ServerDeps {
  db: Database;
  registry: Registry;
  version: string;
}

export interface ServerOptions {
  bodyLimit: number;
  /** Largest document a source indexes; the push route accepts bodies of that size (base64 included). */
  maxDocumentBytes: number;
  logLevel: string;
  /** Write logs here instead of standard output (tests). */
  logStream?: NodeJS.WritableStream;
  /**
   * Fail a response that its schema does not describe exactly (a field the schema lacks, a value of another type)
   * instead of serialising it without the field. Default: on when NODE_ENV is `test` or `development`.
   */
  checkResponses?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Paths pino replaces with "[redacted]" in every log line. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.authorization',
];

/** Maps Fastify's own errors to Tarmac's stable codes. */
function fromFastify(err: FastifyError): TarmacError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new TarmacError('payload_too_large', err.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TarmacError('unsupported_media_type', err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new TarmacError('invalid_json', err.message);
    default:
      break;
  }
  const status = err.statusCode ?? 500;
  if (status >= 500) return new TarmacError('internal_error', 'internal error');
  if (status === 404) return new TarmacError('route_not_found', err.message);
  if (status === 413) return new TarmacError('payload_too_large', err.message);
  if (status === 415) return new TarmacError('unsupported_media_type', err.message);
  return new TarmacError('bad_request', err.message);
}

// Requests broken below HTTP parsing (bad framing) still get Tarmac's error shape.
function clientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(new TarmacError('bad_request', `malformed HTTP request (${err.code ?? 'client error'})`).toJSON());
  socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * Builds the HTTP server: request ids, JSON logs with secrets redacted, the error shape, body limit,
 * authentication of every non-public route, OpenAPI from the routes' zod schemas, health and metrics.
 *
 * @example
 * const app = await buildServer(deps, { bodyLimit: 1048576, maxDocumentBytes: 52428800, logLevel: 'info' });
 * await app.listen({ port: 8080, host: '127.0.0.1' });
 */
export async function buildServer(deps: ServerDeps, options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    logger: {
      level: options.logLevel,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Requests arriving while the server stops get Tarmac's own 503 (see the onRequest hook).
    return503OnClosing: false,
    clientErrorHandler: clientError,
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      const error = new TarmacError('bad_request', err.message);
      void reply.code(error.status).send(error.toJSON());
    },
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  const metrics = new HttpMetrics();
  deps.registry.metrics(metrics);
  const openapi = new OpenApiCollector();

  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    const auth = declaredAuth(route.config);
    if (!auth) throw new Error(`route ${String(route.method)} ${route.url} declares no auth`);
    requireResponseSchemas(route);
    openapi.add(route, !('public' in auth));
  });

  registerTextRules(app);

  app.setValidatorCompiler(({ schema, httpPart }) => (data) => {
    try {
      return { value: parseInput(schema as ZodType, data, httpPart ?? 'input') };
    } catch (err) {
      return { error: err as Error };
    }
  });
  // Responses serialise through their declared schema; statuses without one (errors) stay on JSON.stringify.
  const checkResponses = options.checkResponses ?? ['test', 'development'].includes(process.env.NODE_ENV ?? '');
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) => compileResponseSerializer(schema as ZodType, `${method} ${url} ${httpStatus}`, checkResponses));

  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) {
      reply.header('connection', 'close');
      throw new TarmacError('not_ready', 'the server is shutting down; retry against a running server');
    }
    const auth = declaredAuth(request.routeOptions.config);
    if (!auth || 'public' in auth) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new TarmacError('unauthorized', 'a valid API key is required: Authorization: Bearer tmk_…');
    request.principal = await deps.registry.authenticate(match[1]);
    requireScope(request.principal, auth.scope);
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError | TarmacError, request, reply) => {
    const error = isTarmacError(err) ? err : fromFastify(err);
    if (error.code === 'internal_error') request.log.error({ err }, 'request failed');
    else request.log.info({ code: error.code, message: error.message }, 'request rejected');
    // The OpenAI-compatible routes also carry OpenAI's `type` and `param`, which its client libraries read.
    if (request.url.startsWith('/v1/')) {
      const body = error.toJSON();
      return reply.code(error.status).send({ error: { ...body.error, type: openAiErrorType(error.status), param: null } });
    }
    return reply.code(error.status).send(error.toJSON());
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new TarmacError('route_not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(error.status).send(error.toJSON());
  });

  const open = { config: { auth: { public: true } } satisfies RouteConfig };
  app.get('/healthz', { ...open, schema: { summary: 'Liveness: the process serves requests.', tags: ['operations'], response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { ...open, schema: { summary: 'Readiness: database reachable and migrations applied.', tags: ['operations'], response: { 200: z.object({ status: z.literal('ready'), database: z.string() }) } } }, async () => {
    try {
      await deps.db.query('select 1');
      const pending = await pendingMigrations(deps.db);
      if (pending.length > 0) throw new TarmacError('not_ready', `migrations pending: ${pending.join(', ')}`);
    } catch (err) {
      throw isTarmacError(err) ? err : new TarmacError('not_ready', `database unreachable: ${(err as Error).message}`);
    }
    return { status: 'ready', database: deps.db.kind };
  });
  app.get('/metrics', { config: routeAuth({ public: true }, { undeclaredResponse: 'Prometheus text format' }), schema: { summary: 'Prometheus metrics.', tags: ['operations'] } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get('/openapi.json', { config: routeAuth({ scope: 'read' }, { undeclaredResponse: 'the document generated from the route schemas' }), schema: { summary: 'This document.', tags: ['operations'] } }, async () =>
    openapi.document({ title: 'Tarmac API', version: deps.version }),
  );

  deps.registry.routes(app, { db: deps.db, bodyLimit: options.bodyLimit, maxDocumentBytes: options.maxDocumentBytes });

  await app.ready();
  return app;
}

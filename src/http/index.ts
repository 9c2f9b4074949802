/**
 * The HTTP server: Fastify with request ids, redacted JSON logs, Tarmac's error shape, authentication of
 * every route, OpenAPI, health, readiness and Prometheus metrics. Registers each capability's routes.
 *
 * @example
 * const app = await buildServer(deps, { bodyLimit: 1048576, maxDocumentBytes: 52428800, logLevel: 'info' });
 */
export { buildServer, REDACTED_LOG_PATHS, type ServerDeps, type ServerOptions } from './server.js';

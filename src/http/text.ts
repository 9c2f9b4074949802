import type { FastifyInstance } from 'fastify';
import { findTextProblem, TarmacError, textProblemError } from '../errors/index.js';

/**
 * The one JSON body parser and the text rules every route inherits (docs/api.md, "What text Tarmac accepts"):
 * no NUL, no lone surrogate, no prototype keys, at most 64 levels of nesting, in the body, the path parameters
 * and the query string alike. Any other body type is refused with 415.
 */
export function registerTextRules(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done(new TarmacError('invalid_json', `the request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
    const problem = findTextProblem(value);
    if (!problem) return done(null, value);
    done(textProblemError(problem, 'body', problem.kind === 'forbidden_key' ? 'invalid_json' : 'validation_failed'), undefined);
  });
  app.addHook('preValidation', async (request) => {
    for (const [where, value] of [
      ['path parameters', request.params],
      ['query string', request.query],
    ] as const) {
      const problem = findTextProblem(value);
      if (problem) throw textProblemError(problem, where);
    }
  });
}

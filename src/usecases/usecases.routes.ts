import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { UseCase, UseCaseSpec } from './usecases.schema.js';
import type { UseCaseService } from './usecases.service.js';

const Params = z.strictObject({ usecase: z.string().min(1).max(100) });
const Reason = z.strictObject({ reason: z.string().min(1).max(1000).describe('Why: recorded in the audit log') });

/** `/api/v1/usecases…`: the use-case registry, stages and the stop button. */
export function registerUseCaseRoutes(app: FastifyInstance, usecases: UseCaseService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const read = routeAuth({ scope: 'read' });
  const write = routeAuth({ scope: 'write' });
  const tags = ['usecases'];

  r.get('/api/v1/usecases', { config: read, schema: { summary: 'Use cases of your teams (admins: all).', tags, response: { 200: z.object({ usecases: z.array(UseCase) }) } } }, async (request) => ({
    usecases: await usecases.list(callerOf(request)),
  }));

  r.post(
    '/api/v1/usecases',
    {
      config: write,
      schema: { summary: 'Create or update a use case from its full declaration (team builders; owner and stage changes need a team owner).', tags, body: UseCaseSpec, response: { 200: UseCase } },
    },
    async (request) => usecases.declare(callerOf(request), request.body),
  );

  r.get('/api/v1/usecases/:usecase', { config: read, schema: { summary: 'One use case.', tags, params: Params, response: { 200: UseCase } } }, async (request) =>
    usecases.get(callerOf(request), request.params.usecase),
  );

  r.post(
    '/api/v1/usecases/:usecase/stage',
    {
      config: write,
      schema: {
        summary: 'Move a use case to pilot, limited, production or retired (team owners).',
        tags,
        params: Params,
        body: z.strictObject({
          stage: z.enum(['pilot', 'limited', 'production', 'retired']),
          reason: Reason.shape.reason,
          overrideGate: z.boolean().default(false).describe('Moves past a failing promotion gate; the reason is recorded as the override (team owners and admins)'),
        }),
        response: { 200: UseCase },
      },
    },
    async (request) => usecases.setStage(callerOf(request), request.params.usecase, request.body.stage, request.body.reason, { overrideGate: request.body.overrideGate }),
  );

  r.post(
    '/api/v1/usecases/:usecase/pause',
    { config: write, schema: { summary: 'The stop button: runs answer 503 use_case_paused at once (team builders and owners).', tags, params: Params, body: Reason, response: { 200: UseCase } } },
    async (request) => usecases.pause(callerOf(request), request.params.usecase, request.body.reason),
  );

  r.post(
    '/api/v1/usecases/:usecase/resume',
    { config: write, schema: { summary: 'Resume a paused use case at its previous stage (team owners).', tags, params: Params, body: Reason, response: { 200: UseCase } } },
    async (request) => usecases.resume(callerOf(request), request.params.usecase, request.body.reason),
  );
}


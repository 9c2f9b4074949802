import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { DECISIONS, ListedRun, OUTCOMES, RunRecord, RunResult } from './runs.schema.js';
import type { RunInput, RunService } from './runs.service.js';

const RunBody = z.strictObject({
  input: z.string().min(1).max(20_000).describe('The question or task'),
  variables: z.record(z.string(), z.string().max(20_000)).optional().describe('Prompt variables and lookup keys'),
  as: z.string().max(320).optional().describe('End user (email or id) the run is for: keys with the act_as scope'),
  stream: z.boolean().optional().describe('Answer as Server-Sent Events: run, context, delta, then decision or error'),
});
const RunParams = z.strictObject({ id: z.string().min(1).max(100) });

/** The error body of an `error` event: the API's error shape; anything unexpected is an internal error. */
function errorEvent(err: unknown): { error: { code: string; message: string; details?: unknown } } {
  const e = isTarmacError(err) ? err : new TarmacError('internal_error', 'internal error');
  return { error: { code: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) } };
}

/**
 * A run as Server-Sent Events. Errors before the run exists (unknown or paused use case, outside the cohort)
 * answer as plain JSON errors; once the `run` event is out, every end is a `decision` or an `error` event.
 */
async function streamRun(runs: RunService, request: FastifyRequest, reply: FastifyReply, useCase: string, input: RunInput): Promise<void> {
  const controller = new AbortController();
  // The response closing before it was fully written means the client went away.
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  const raw = reply.raw;
  let open = false;
  const send = (event: string, data: unknown): void => {
    if (!open) {
      open = true;
      reply.hijack();
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': request.id });
    }
    if (!raw.destroyed) raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  try {
    const result = await runs.run(callerOf(request), useCase, input, { signal: controller.signal, event: send });
    send('decision', result);
    raw.end();
  } catch (err) {
    if (!open) throw err;
    if (!isTarmacError(err)) request.log.error({ err }, 'streaming run failed');
    send('error', errorEvent(err));
    raw.end();
  }
}

/** `POST /api/v1/usecases/:usecase/runs` (the governed run) and `/api/v1/runs…` (records, feedback, outcomes). */
export function registerRunRoutes(app: FastifyInstance, runs: RunService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['runs'];

  r.post(
    '/api/v1/usecases/:usecase/runs',
    {
      config: routeAuth({ scope: 'write' }),
      schema: {
        summary:
          'Run a use case: 200 with the answer when delivered or flagged (or the reasons when blocked), 202 when held for review; with stream: true, Server-Sent Events (run, context, delta, decision or error).',
        tags,
        params: z.strictObject({ usecase: z.string().min(1).max(100) }),
        body: RunBody,
        response: { 200: RunResult, 202: RunResult },
      },
    },
    async (request, reply) => {
      const { stream, ...input } = request.body;
      if (stream === true) return streamRun(runs, request, reply, request.params.usecase, input);
      const result = await runs.run(callerOf(request), request.params.usecase, input);
      return reply.code(result.decision === 'held_for_review' ? 202 : 200).send(result);
    },
  );

  r.get(
    '/api/v1/runs',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Runs, newest first: your own, and those of your teams\' use cases (admins: all).',
        tags,
        querystring: z.strictObject({
          useCase: z.string().max(100).optional(),
          decision: z.enum(DECISIONS).optional(),
          user: z.string().max(320).optional(),
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
          before: z.iso.datetime({ offset: true }).optional().describe('Cursor: runs created before this time'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: z.object({ runs: z.array(ListedRun) }) },
      },
    },
    async (request) => {
      const q = request.query;
      const date = (v: string | undefined) => (v ? new Date(v) : undefined);
      return { runs: await runs.list(callerOf(request), { useCase: q.useCase, decision: q.decision, user: q.user, since: date(q.since), until: date(q.until), before: date(q.before), limit: q.limit }) };
    },
  );

  r.get(
    '/api/v1/runs/:id',
    { config: routeAuth({ scope: 'read' }), schema: { summary: 'One run with spans, context manifest, scores, decision, feedback and outcome.', tags, params: RunParams, response: { 200: RunRecord } } },
    async (request) => runs.get(callerOf(request), request.params.id),
  );

  r.post(
    '/api/v1/runs/:id/feedback',
    {
      config: routeAuth({ scope: 'write' }),
      schema: {
        summary: 'Rate a run, comment on it, or correct its answer.',
        tags,
        params: RunParams,
        body: z
          .strictObject({ rating: z.number().int().min(1).max(5).optional(), comment: z.string().max(5000).optional(), correction: z.string().max(20_000).optional() })
          .refine((b) => b.rating !== undefined || b.comment !== undefined || b.correction !== undefined, { message: 'give a rating, a comment or a correction' }),
        response: { 200: RunRecord },
      },
    },
    async (request) => runs.feedback(callerOf(request), request.params.id, request.body),
  );

  r.post(
    '/api/v1/runs/:id/outcome',
    {
      config: routeAuth({ scope: 'write' }),
      schema: {
        summary: 'Record what became of the answer: accepted, edited, overridden or abandoned.',
        tags,
        params: RunParams,
        body: z.strictObject({ outcome: z.enum(OUTCOMES), timeSpentSeconds: z.number().int().min(0).max(86_400).optional() }),
        response: { 200: RunRecord },
      },
    },
    async (request) => runs.outcome(callerOf(request), request.params.id, request.body),
  );
}

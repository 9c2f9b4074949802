import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { Decision, ReviewTask, TASK_STATUSES } from './review.schema.js';
import type { ReviewService } from './review.service.js';

const Params = z.strictObject({ id: z.string().min(1).max(100) });

/** `/api/v1/reviews…`: the review queue. The run under review is read with `GET /api/v1/runs/:id`. */
export function registerReviewRoutes(app: FastifyInstance, review: ReviewService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ['review'];
  r.get(
    '/api/v1/reviews',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Review tasks of the teams you review for, earliest due first.',
        tags,
        querystring: z.strictObject({
          status: z.enum(TASK_STATUSES).optional(),
          mine: z.enum(['true', 'false']).optional().describe('Only tasks assigned to you'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: z.object({ tasks: z.array(ReviewTask) }) },
      },
    },
    async (request) => ({ tasks: await review.list(callerOf(request), { status: request.query.status, mine: request.query.mine === 'true', limit: request.query.limit }) }),
  );
  r.get('/api/v1/reviews/:id', { config: routeAuth({ scope: 'read' }), schema: { summary: 'One review task.', tags, params: Params, response: { 200: ReviewTask } } }, async (request) =>
    review.get(callerOf(request), request.params.id),
  );
  r.post(
    '/api/v1/reviews/:id/decision',
    {
      config: routeAuth({ scope: 'write' }),
      schema: {
        summary: 'Approve, edit (the edited answer is delivered) or reject (with a reason); 409 review_conflict when decided already or assigned to someone else.',
        tags,
        params: Params,
        body: Decision,
        response: { 200: ReviewTask },
      },
    },
    async (request) => review.decide(callerOf(request), request.params.id, request.body),
  );
  r.post(
    '/api/v1/reviews/:id/assign',
    {
      config: routeAuth({ scope: 'write' }),
      schema: {
        summary: "Assign an open task to a reviewer or owner of its team (team owners and admins); never to the run's own user.",
        tags,
        params: Params,
        body: z.strictObject({ user: z.string().min(1).max(320).describe('Email or id of the person who decides the task') }),
        response: { 200: ReviewTask },
      },
    },
    async (request) => review.assign(callerOf(request), request.params.id, request.body.user),
  );
}

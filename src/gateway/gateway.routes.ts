import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { hasScope, principalOf, routeAuth, type Scope, type ZodTypeProvider } from '../access/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import type { GatewayCaller, GatewayService } from './gateway.service.js';
import type { GatewayTrace } from './traces.js';
import type { ChatBody, ChatChunk } from './providers/provider.js';
import { ModelList, SPEND_GROUPS, SpendReport } from './gateway.schema.js';
import { spend } from './spend.js';
import { readTrace, TraceView } from './trace-view.js';
import type { Database } from '../db/index.js';

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

/** OpenAI's chat request; fields Tarmac does not interpret pass through to the provider unchanged. */
export const ChatCompletionBody = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.enum(ROLES), content: z.unknown().optional() })).min(1),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
});

export const EmbeddingsBody = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1), z.array(z.number()).min(1), z.array(z.array(z.number())).min(1)]),
});

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
};

function caller(request: FastifyRequest, reply: FastifyReply): { caller: GatewayCaller; controller: AbortController } {
  const controller = new AbortController();
  // The response closing before it was fully written means the client went away.
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return {
    controller,
    caller: {
      principal: principalOf(request),
      requestId: request.id,
      classification: header(request, 'x-tarmac-classification'),
      useCase: header(request, 'x-tarmac-use-case'),
      team: header(request, 'x-tarmac-team'),
      signal: controller.signal,
    },
  };
}

/** Adds Retry-After to limit errors, then lets the server's error handler answer. */
function withRetryAfter(reply: FastifyReply, err: unknown): never {
  if (isTarmacError(err) && (err.code === 'rate_limited' || err.code === 'budget_exceeded')) {
    const resetAt = (err.details as { resetAt?: string } | undefined)?.resetAt;
    if (resetAt) reply.header('retry-after', String(Math.max(1, Math.ceil((Date.parse(resetAt) - Date.now()) / 1000))));
  }
  throw err;
}

/** OpenAI's error object for an error event inside a stream. */
export function openAiError(err: unknown): { error: { message: string; type: string; param: null; code: string } } {
  const e = isTarmacError(err) ? err : new TarmacError('internal_error', 'internal error');
  return { error: { message: e.message, type: openAiErrorType(e.status), param: null, code: e.code } };
}

/** OpenAI's `error.type` for an HTTP status. */
export function openAiErrorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

async function streamResponse(gateway: GatewayService, request: FastifyRequest, reply: FastifyReply, body: ChatBody): Promise<void> {
  const { caller: c } = caller(request, reply);
  const session = gateway.chatStream(c, body);
  const chunks = session.chunks;
  let first: IteratorResult<ChatChunk>;
  try {
    first = await chunks.next();
  } catch (err) {
    // Nobody is left to answer; the trace already says `cancelled`.
    if (c.signal.aborted) return void reply.hijack();
    reply.header('x-tarmac-run-id', session.runId);
    return withRetryAfter(reply, err);
  }
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': request.id,
    'x-tarmac-run-id': session.runId,
  });
  const send = (chunk: ChatChunk): void => {
    if (!session.includeUsage) {
      if (chunk.choices.length === 0 && chunk.usage) return;
      delete chunk.usage;
    }
    raw.write(`data: ${JSON.stringify(chunk)}\n\n`);
  };
  try {
    if (!first.done) send(first.value);
    for (;;) {
      if (raw.destroyed) {
        await chunks.return(undefined);
        return;
      }
      const next = await chunks.next();
      if (next.done) break;
      send(next.value);
    }
    raw.end('data: [DONE]\n\n');
  } catch (err) {
    // A failure after the first token ends the stream with an error event, never a clean [DONE].
    if (!raw.destroyed) raw.end(`data: ${JSON.stringify(openAiError(err))}\n\n`);
    if (!isTarmacError(err)) request.log.error({ err }, 'stream failed');
  }
}

/**
 * Route options of a `/v1` endpoint: its scope, and a trace for each request refused at authentication (a bad,
 * revoked or expired key: 401; a key without the scope: 403). Refusals after authentication are traced by the
 * gateway itself.
 */
function v1Route(gateway: GatewayService, scope: Scope, endpoint: GatewayTrace['endpoint'], undeclaredResponse?: string) {
  return {
    config: routeAuth({ scope }, { undeclaredResponse }),
    onError: async (request: FastifyRequest, reply: FastifyReply, err: Error) => {
      if (!isTarmacError(err) || (err.code !== 'unauthorized' && err.code !== 'forbidden')) return;
      const principal = request.principal;
      if (principal && hasScope(principal, scope)) return;
      const keyId = principal?.keyId ?? (err.details as { keyId?: unknown } | undefined)?.keyId;
      await gateway
        .refused({ requestId: request.id, keyId: typeof keyId === 'string' ? keyId : null, endpoint, httpStatus: err.status, code: err.code, totalMs: reply.elapsedTime })
        .catch((e: unknown) => request.log.error({ err: e }, 'could not record a refused request'));
    },
  };
}

/**
 * The OpenAI-compatible endpoints (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`),
 * `GET /api/v1/spend` and `GET /api/v1/gateway/traces/:id`.
 */
export function registerGatewayRoutes(app: FastifyInstance, gateway: GatewayService, db: Database): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    '/v1/chat/completions',
    { ...v1Route(gateway, 'write', 'chat', "the provider's response passes through (fields Tarmac does not interpret included), or an SSE stream"), schema: { summary: 'OpenAI-compatible chat completion (with stream: true for SSE).', tags: ['gateway'], body: ChatCompletionBody } },
    async (request, reply) => {
      const body = request.body as ChatBody;
      if (body.stream === true) return streamResponse(gateway, request, reply, body);
      const { caller: c } = caller(request, reply);
      try {
        const result = await gateway.chat(c, body);
        reply.header('x-tarmac-run-id', result.runId).header('x-tarmac-cost-usd', String(result.costUsd));
        if (result.costEstimated) reply.header('x-tarmac-cost-estimated', 'true');
        return result.body;
      } catch (err) {
        if (c.signal.aborted) return void reply.hijack();
        return withRetryAfter(reply, err);
      }
    },
  );
  r.post(
    '/v1/embeddings',
    { ...v1Route(gateway, 'write', 'embeddings', "the provider's response passes through"), schema: { summary: 'OpenAI-compatible embeddings.', tags: ['gateway'], body: EmbeddingsBody } },
    async (request, reply) => {
      const { caller: c } = caller(request, reply);
      try {
        const result = await gateway.embeddings(c, request.body);
        reply.header('x-tarmac-run-id', result.runId).header('x-tarmac-cost-usd', String(result.costUsd));
        if (result.costEstimated) reply.header('x-tarmac-cost-estimated', 'true');
        return result.body;
      } catch (err) {
        return withRetryAfter(reply, err);
      }
    },
  );
  r.get('/v1/models', { ...v1Route(gateway, 'read', 'models'), schema: { summary: 'Models and routes the gateway serves.', tags: ['gateway'], response: { 200: ModelList } } }, async () =>
    gateway.models(),
  );
  r.get(
    '/api/v1/spend',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Gateway spend by team, key, model, day and/or use case.',
        tags: ['gateway'],
        querystring: z.strictObject({
          groupBy: z
            .string()
            .regex(new RegExp(`^(${SPEND_GROUPS.join('|')})(,(${SPEND_GROUPS.join('|')}))*$`), `comma-separated: ${SPEND_GROUPS.join(', ')}`)
            .optional(),
          from: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
          to: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
        }),
        response: { 200: SpendReport },
      },
    },
    async (request) => {
      const q = request.query;
      const groupBy = (q.groupBy ?? 'team').split(',') as (typeof SPEND_GROUPS)[number][];
      return { groupBy, rows: await spend(db, principalOf(request), { groupBy, from: q.from, to: q.to }) };
    },
  );
  r.get(
    '/api/v1/gateway/traces/:id',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'One gateway trace by the x-tarmac-run-id of its response (its team, its key, or platform admins).',
        tags: ['gateway'],
        params: z.object({ id: z.string().min(1) }),
        response: { 200: TraceView },
      },
    },
    async (request) => {
      await gateway.traces.flush();
      return readTrace(db, principalOf(request), request.params.id);
    },
  );
}

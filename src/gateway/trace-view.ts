import { z } from 'zod';
import { teamsWithRole, type Principal } from '../access/index.js';
import type { Database } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import { findTeam } from '../identity/index.js';
import { TRACE_ENDPOINTS, TRACE_STATUSES, type GatewayTrace } from './traces.js';

/** One gateway trace as the API shows it. */
export const TraceView = z.object({
  id: z.string(),
  at: z.string(),
  requestId: z.string().nullable(),
  keyId: z.string().nullable(),
  teamId: z.string().nullable(),
  /** The team's name. */
  team: z.string().nullable(),
  useCase: z.string().nullable(),
  endpoint: z.enum(TRACE_ENDPOINTS),
  route: z.string().nullable(),
  requestedModel: z.string().nullable(),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  attempts: z.array(
    z.object({
      provider: z.string(),
      model: z.string(),
      outcome: z.enum(['ok', 'error', 'skipped_egress', 'skipped_circuit']),
      error: z.string().optional(),
      status: z.number().nullable().optional(),
      ms: z.number().optional(),
    }),
  ),
  fallbacks: z.number(),
  stream: z.boolean(),
  status: z.enum(TRACE_STATUSES),
  httpStatus: z.number(),
  errorCode: z.string().nullable(),
  classification: z.string().nullable(),
  piiTypes: z.array(z.string()),
  cacheHit: z.boolean(),
  firstTokenMs: z.number().nullable(),
  totalMs: z.number(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  cachedTokens: z.number(),
  costUsd: z.number(),
  costEstimated: z.boolean(),
});
export type TraceView = z.infer<typeof TraceView>;

type TraceRow = Omit<GatewayTrace, 'at' | 'cost_usd'> & { at: Date | string; cost_usd: string | number };

/**
 * One gateway trace by its id (the `x-tarmac-run-id` of the response), seen as the spend report sees traces:
 * platform admins see all; others those of their teams and of their own key. Any other is `not_found`.
 *
 * @example
 * const trace = await readTrace(db, principal, runId);
 */
export async function readTrace(db: Database, principal: Principal, id: string): Promise<TraceView> {
  const params: unknown[] = [id];
  let visible = '';
  if (!principal.isAdmin) {
    params.push(teamsWithRole(principal, 'viewer'), principal.keyId);
    visible = ' and (g.team_id = any($2::text[]) or g.key_id = $3)';
  }
  const { rows } = await db.query<TraceRow>(`select g.* from gateway_traces g where g.id = $1${visible}`, params);
  const r = rows[0];
  if (!r) throw new TarmacError('not_found', `gateway trace ${id} does not exist`);
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    requestId: r.request_id,
    keyId: r.key_id,
    teamId: r.team_id,
    team: r.team_id === null ? null : ((await findTeam(db, r.team_id))?.name ?? r.team_id),
    useCase: r.use_case,
    endpoint: r.endpoint,
    route: r.route,
    requestedModel: r.requested_model,
    provider: r.provider,
    model: r.model,
    attempts: r.attempts,
    fallbacks: r.fallbacks,
    stream: r.stream,
    status: r.status,
    httpStatus: r.http_status,
    errorCode: r.error_code,
    classification: r.classification,
    piiTypes: r.pii_types,
    cacheHit: r.cache_hit,
    firstTokenMs: r.first_token_ms,
    totalMs: r.total_ms,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cachedTokens: r.cached_tokens,
    costUsd: Number(r.cost_usd),
    costEstimated: r.cost_estimated,
  };
}

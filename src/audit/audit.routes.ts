import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  principalOf,
  requireAdmin,
  routeAuth,
  teamsWithRole,
  type ZodTypeProvider,
} from '../access/index.js';
import { TarmacError } from '../errors/index.js';
import { AuditCheckpoint, AuditEntry, VerifyResult } from './audit.schema.js';
import type { AuditLog } from './audit.service.js';

const ListQuery = z.strictObject({
  action: z.string().max(200).optional().describe('Exact action, or a prefix ending in * (e.g. team.*)'),
  actor: z.string().max(200).optional().describe('Key id or user id of the actor'),
  targetType: z.string().max(100).optional(),
  targetId: z.string().max(200).optional(),
  team: z.string().max(200).optional().describe('Team id'),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  before: z.coerce.number().int().min(1).optional().describe('Cursor: entries with a lower sequence number'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `/api/v1/audit…`: read, verify and checkpoint the audit log. Nothing here changes or removes entries. */
export function registerAuditRoutes(app: FastifyInstance, audit: AuditLog): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    '/api/v1/audit',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'List audit entries, newest first. Admins see all; team owners see their teams\' entries.',
        tags: ['audit'],
        querystring: ListQuery,
        response: { 200: z.object({ entries: z.array(AuditEntry), nextBefore: z.number().nullable() }) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const q = request.query;
      let teamIds: string[] | undefined;
      if (!principal.isAdmin) {
        teamIds = teamsWithRole(principal, 'owner');
        if (teamIds.length === 0) throw new TarmacError('forbidden', 'reading the audit log needs a platform admin or a team owner');
        if (q.team) teamIds = teamIds.filter((t) => t === q.team);
      } else if (q.team) {
        teamIds = [q.team];
      }
      const { entries, nextBeforeSeq } = await audit.list({
        action: q.action,
        actorId: q.actor,
        targetType: q.targetType,
        targetId: q.targetId,
        teamIds,
        since: q.since ? new Date(q.since) : undefined,
        until: q.until ? new Date(q.until) : undefined,
        beforeSeq: q.before,
        limit: q.limit,
      });
      return { entries, nextBefore: nextBeforeSeq };
    },
  );

  r.get(
    '/api/v1/audit/verify',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'Recompute the whole hash chain and check every signed checkpoint (platform admins).',
        tags: ['audit'],
        response: { 200: VerifyResult },
      },
    },
    async (request) => {
      requireAdmin(principalOf(request));
      return audit.verify();
    },
  );

  r.get(
    '/api/v1/audit/checkpoints',
    {
      config: routeAuth({ scope: 'read' }),
      schema: { summary: 'List signed checkpoints (platform admins).', tags: ['audit'], response: { 200: z.object({ checkpoints: z.array(AuditCheckpoint) }) } },
    },
    async (request) => {
      requireAdmin(principalOf(request));
      return { checkpoints: await audit.listCheckpoints() };
    },
  );

  r.post(
    '/api/v1/audit/checkpoints',
    {
      config: routeAuth({ scope: 'admin' }),
      schema: {
        summary: 'Sign a checkpoint at the current head now (platform admins).',
        tags: ['audit'],
        response: { 200: z.object({ checkpoint: AuditCheckpoint.nullable() }) },
      },
    },
    async (request) => {
      requireAdmin(principalOf(request));
      return { checkpoint: await audit.checkpointNow() };
    },
  );

  r.get(
    '/api/v1/audit/:seq',
    {
      config: routeAuth({ scope: 'read' }),
      schema: {
        summary: 'One audit entry (platform admins).',
        tags: ['audit'],
        params: z.strictObject({ seq: z.coerce.number().int().min(1) }),
        response: { 200: AuditEntry },
      },
    },
    async (request) => {
      requireAdmin(principalOf(request));
      const entry = await audit.get(request.params.seq);
      if (!entry) throw new TarmacError('not_found', `audit entry ${request.params.seq} does not exist`);
      return entry;
    },
  );
}

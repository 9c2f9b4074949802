/**
 * Access: who is calling and what they may do. Key scopes, team roles, the authenticated principal, the
 * actor recorded in the audit log, each route's auth declaration and the checks that enforce them.
 * Capabilities write their routes against this contract; `identity` creates principals, `http` enforces
 * each route's declaration before the handler runs.
 *
 * @example
 * app.withTypeProvider<ZodTypeProvider>().post('/api/v1/teams', {
 *   config: routeAuth({ scope: 'write' }),
 *   schema: { body: CreateTeamBody, summary: 'Create a team', tags: ['identity'] },
 * }, async (request) => {
 *   const principal = principalOf(request);
 *   requireAdmin(principal);
 *   return teams.create(auditContext(request), request.body);
 * });
 */
import type { FastifyRequest, FastifyTypeProvider } from 'fastify';
import type { z } from 'zod';
import { TarmacError } from '../errors/index.js';

/** What an API key may do. A key acts within its owner's roles and never beyond its scopes. */
export const SCOPES = ['read', 'write', 'admin', 'act_as'] as const;
export type Scope = (typeof SCOPES)[number];

/** Roles a user or team key holds in a team, strongest first. `admin` is platform-wide (a user flag). */
export const TEAM_ROLES = ['owner', 'builder', 'reviewer', 'viewer'] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

const RANK: Record<TeamRole, number> = { owner: 4, builder: 3, reviewer: 2, viewer: 1 };

/** Who did something: a user, an API key (acting for its user, if any), or Tarmac itself. */
export interface Actor {
  type: 'user' | 'key' | 'system';
  id: string;
  userId?: string | null;
}

/** Who acts and in which request; passed to every state-changing service call. */
export interface AuditContext {
  actor: Actor;
  requestId?: string | null;
}

/** An authenticated caller: an API key, the user or team it belongs to, and what that allows. */
export interface Principal {
  keyId: string;
  userId: string | null;
  /** Set for team keys. */
  teamId: string | null;
  /** A platform admin acting through a key with the `admin` scope. */
  isAdmin: boolean;
  scopes: readonly Scope[];
  /** Team id → role. */
  roles: Readonly<Record<string, TeamRole>>;
  actor: Actor;
  /** The data classification of this key's model requests when a request does not name one. */
  classification?: string | null;
}

/** Every route declares who may call it; the server refuses to register a route without this. */
export type RouteAuth = { public: true } | { scope: Scope };

export interface RouteConfig {
  auth: RouteAuth;
  /**
   * Why the route's success responses have no `schema.response` (a stream, a pass-through body, not JSON); every
   * other route declares its responses as zod schemas, and the server refuses to register it otherwise.
   */
  undeclaredResponse?: string;
}

/** Wraps a route's auth declaration (and, for a route without response schemas, why) as Fastify route config. */
export function routeAuth(auth: RouteAuth, options: { undeclaredResponse?: string } = {}): RouteConfig {
  return options.undeclaredResponse ? { auth, undeclaredResponse: options.undeclaredResponse } : { auth };
}

/** The auth a route declared in its config, if any. */
export function declaredAuth(config: unknown): RouteAuth | undefined {
  return typeof config === 'object' && config !== null ? (config as Partial<RouteConfig>).auth : undefined;
}

/** Why a route declared no response schemas, if it said so. */
export function undeclaredResponse(config: unknown): string | undefined {
  return typeof config === 'object' && config !== null ? (config as Partial<RouteConfig>).undeclaredResponse : undefined;
}

/** Types `request.body`, `params` and `querystring` from the zod schemas a route declares. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends z.ZodType ? z.output<this['schema']> : unknown;
  serializer: this['schema'] extends z.ZodType ? z.input<this['schema']> : unknown;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifySchema {
    /** One line for the OpenAPI document. */
    summary?: string;
    tags?: string[];
  }
}

/** The authenticated caller of a non-public route (the server has already refused anonymous calls). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new TarmacError('unauthorized', 'a valid API key is required');
  return request.principal;
}

/** A caller of a service method: who, and in which request. */
export interface Caller {
  principal: Principal;
  requestId?: string | null;
}

/** The caller of a non-public route: its principal and the request id. */
export function callerOf(request: FastifyRequest): Caller {
  return { principal: principalOf(request), requestId: request.id };
}

/** The audit context of a request: its principal's actor and the request id. */
export function auditContext(request: FastifyRequest): AuditContext {
  return { actor: principalOf(request).actor, requestId: request.id };
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes(scope);
}

export function requireScope(principal: Principal, scope: Scope): void {
  if (!hasScope(principal, scope)) throw new TarmacError('forbidden', `this key lacks the "${scope}" scope`);
}

export function requireAdmin(principal: Principal): void {
  if (!principal.isAdmin) throw new TarmacError('forbidden', 'this needs a platform admin');
}

/** The principal's role in a team, or null. */
export function roleIn(principal: Principal, teamId: string): TeamRole | null {
  return principal.roles[teamId] ?? null;
}

export function hasTeamRole(principal: Principal, teamId: string, atLeast: TeamRole): boolean {
  if (principal.isAdmin) return true;
  const role = roleIn(principal, teamId);
  return role !== null && RANK[role] >= RANK[atLeast];
}

/** Who decides held answers: the team's reviewers and owners, and platform admins (builders build, not review). */
export function canReview(principal: Principal, teamId: string): boolean {
  const role = roleIn(principal, teamId);
  return principal.isAdmin || role === 'reviewer' || role === 'owner';
}

/** Admins pass; others need at least `atLeast` in the team. */
export function requireTeamRole(principal: Principal, teamId: string, atLeast: TeamRole): void {
  if (!hasTeamRole(principal, teamId, atLeast)) {
    throw new TarmacError('forbidden', `this needs the ${atLeast} role (or higher) in the team`);
  }
}

/** Teams in which the principal holds at least `atLeast`. */
export function teamsWithRole(principal: Principal, atLeast: TeamRole): string[] {
  return Object.entries(principal.roles)
    .filter(([, role]) => RANK[role] >= RANK[atLeast])
    .map(([team]) => team);
}

/** The actor for work Tarmac does by itself (install, scheduled jobs, config applied at start). */
export function systemActor(id: string): Actor {
  return { type: 'system', id };
}

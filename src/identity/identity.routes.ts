import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, principalOf, routeAuth, SCOPES, TEAM_ROLES, type ZodTypeProvider } from '../access/index.js';
import { CLASSIFICATIONS } from '../policies/index.js';
import { ApiKey, CreatedKey, Me, Team, User } from './identity.schema.js';
import type { IdentityService } from './identity.service.js';

const TeamName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
const Email = z.email().max(320);
const Role = z.enum(TEAM_ROLES);

const CreateUserBody = z.strictObject({ email: Email, name: z.string().max(200).optional(), admin: z.boolean().optional() });
const UpdateUserBody = z.strictObject({ name: z.string().max(200).optional(), admin: z.boolean().optional(), disabled: z.boolean().optional() });
const CreateTeamBody = z.strictObject({ name: TeamName, description: z.string().max(2000).optional() });
const UpdateTeamBody = z.strictObject({ name: TeamName.optional(), description: z.string().max(2000).optional() });
const MemberBody = z.strictObject({ role: Role });
const CreateKeyBody = z.strictObject({
  name: z.string().min(1).max(200),
  user: z.string().max(320).optional().describe('User id or email the key acts as; default yourself'),
  team: z.string().max(200).optional().describe('Team id or name, for an application key owned by a team'),
  teamRole: Role.optional().describe('Role of a team key in its team; default builder'),
  scopes: z.array(z.enum(SCOPES)).min(1).optional().describe('Default read and write'),
  classification: z.enum(CLASSIFICATIONS).optional().describe('Data classification of model requests that name none'),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

const UserParams = z.strictObject({ user: z.string().min(1).max(320) });
const TeamParams = z.strictObject({ team: z.string().min(1).max(200) });
const MemberParams = z.strictObject({ team: z.string().min(1).max(200), user: z.string().min(1).max(320) });


/** `/api/v1/me`, `/api/v1/users…`, `/api/v1/teams…`, `/api/v1/keys…`. */
export function registerIdentityRoutes(app: FastifyInstance, identity: IdentityService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const read = routeAuth({ scope: 'read' });
  const write = routeAuth({ scope: 'write' });

  r.get(
    '/api/v1/me',
    {
      config: read,
      schema: {
        summary: 'The calling key, its user or team, scopes and roles.',
        tags: ['identity'],
        response: { 200: Me },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { keyId: p.keyId, userId: p.userId, teamId: p.teamId, admin: p.isAdmin, scopes: [...p.scopes], roles: { ...p.roles } };
    },
  );

  r.get('/api/v1/users', { config: read, schema: { summary: 'List users (platform admins).', tags: ['identity'], response: { 200: z.object({ users: z.array(User) }) } } }, async (request) => ({
    users: await identity.listUsers(callerOf(request)),
  }));

  r.post(
    '/api/v1/users',
    { config: write, schema: { summary: 'Create a user (platform admins).', tags: ['identity'], body: CreateUserBody, response: { 201: User } } },
    async (request, reply) => reply.code(201).send(await identity.createUser(callerOf(request), request.body)),
  );

  r.get(
    '/api/v1/users/:user',
    { config: read, schema: { summary: 'A user by id or email (admins, or yourself).', tags: ['identity'], params: UserParams, response: { 200: User } } },
    async (request) => identity.getUser(callerOf(request), request.params.user),
  );

  r.patch(
    '/api/v1/users/:user',
    { config: write, schema: { summary: 'Change a user (admins; yourself for your name).', tags: ['identity'], params: UserParams, body: UpdateUserBody, response: { 200: User } } },
    async (request) => identity.updateUser(callerOf(request), request.params.user, request.body),
  );

  r.get('/api/v1/teams', { config: read, schema: { summary: 'Teams you belong to (admins: all).', tags: ['identity'], response: { 200: z.object({ teams: z.array(Team) }) } } }, async (request) => ({
    teams: await identity.listTeams(callerOf(request)),
  }));

  r.post(
    '/api/v1/teams',
    { config: write, schema: { summary: 'Create a team (platform admins).', tags: ['identity'], body: CreateTeamBody, response: { 201: Team } } },
    async (request, reply) => reply.code(201).send(await identity.createTeam(callerOf(request), request.body)),
  );

  r.get(
    '/api/v1/teams/:team',
    { config: read, schema: { summary: 'A team by id or name, with its members.', tags: ['identity'], params: TeamParams, response: { 200: Team } } },
    async (request) => identity.getTeam(callerOf(request), request.params.team),
  );

  r.patch(
    '/api/v1/teams/:team',
    { config: write, schema: { summary: 'Rename or describe a team (team owners).', tags: ['identity'], params: TeamParams, body: UpdateTeamBody, response: { 200: Team } } },
    async (request) => identity.updateTeam(callerOf(request), request.params.team, request.body),
  );

  r.put(
    '/api/v1/teams/:team/members/:user',
    { config: write, schema: { summary: 'Add a member or change their role (team owners).', tags: ['identity'], params: MemberParams, body: MemberBody, response: { 200: Team } } },
    async (request) => identity.setMember(callerOf(request), request.params.team, request.params.user, request.body.role),
  );

  r.delete(
    '/api/v1/teams/:team/members/:user',
    { config: write, schema: { summary: 'Remove a member (team owners).', tags: ['identity'], params: MemberParams, response: { 200: Team } } },
    async (request) => identity.removeMember(callerOf(request), request.params.team, request.params.user),
  );

  r.get('/api/v1/keys', { config: read, schema: { summary: 'Your keys and your teams\' keys (admins: all).', tags: ['identity'], response: { 200: z.object({ keys: z.array(ApiKey) }) } } }, async (request) => ({
    keys: await identity.listKeys(callerOf(request)),
  }));

  r.post(
    '/api/v1/keys',
    {
      config: write,
      schema: {
        summary: 'Create an API key. The token is in this response only; Tarmac stores its hash.',
        tags: ['identity'],
        body: CreateKeyBody,
        response: { 201: CreatedKey },
      },
    },
    async (request, reply) => {
      const { expiresAt, expiresInDays, ...rest } = request.body;
      const expiry = expiresAt ? new Date(expiresAt) : expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null;
      return reply.code(201).send(await identity.createKey(callerOf(request), { ...rest, expiresAt: expiry }));
    },
  );

  r.delete(
    '/api/v1/keys/:id',
    {
      config: write,
      schema: { summary: 'Revoke a key (it stays listed, marked revoked).', tags: ['identity'], params: z.strictObject({ id: z.string().min(1).max(100) }), response: { 200: ApiKey } },
    },
    async (request) => identity.revokeKey(callerOf(request), request.params.id),
  );
}

import { z } from 'zod';
import { SCOPES, TEAM_ROLES } from '../access/index.js';
import { CLASSIFICATIONS } from '../policies/index.js';

const Role = z.enum(TEAM_ROLES);

export const Member = z.object({ userId: z.string(), email: z.string(), role: Role });

/** A team as the API shows it, with its members. */
export const Team = z.object({ id: z.string(), name: z.string(), description: z.string(), createdAt: z.string(), updatedAt: z.string(), members: z.array(Member) });
export type Team = z.output<typeof Team>;

/** A user as the API shows it, with the teams they belong to. */
export const User = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  admin: z.boolean(),
  disabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  teams: z.array(z.object({ teamId: z.string(), name: z.string(), role: Role })),
});
export type User = z.output<typeof User>;

/** An API key as the API shows it: never its secret, which only the response that creates it holds. */
export const ApiKey = z.object({
  id: z.string(),
  prefix: z.string(),
  name: z.string(),
  userId: z.string().nullable(),
  teamId: z.string().nullable(),
  teamRole: Role.nullable(),
  scopes: z.array(z.enum(SCOPES)),
  classification: z.enum(CLASSIFICATIONS).nullable().describe("Data classification of the key's model requests that name none"),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
});
export type ApiKey = z.output<typeof ApiKey>;

export const CreatedKey = z.object({ key: ApiKey, token: z.string() });
export type CreatedKey = z.output<typeof CreatedKey>;

/** The calling key, its user or team, scopes and roles. */
export const Me = z.object({
  keyId: z.string(),
  userId: z.string().nullable(),
  teamId: z.string().nullable(),
  admin: z.boolean(),
  scopes: z.array(z.enum(SCOPES)),
  roles: z.record(z.string(), Role),
});

import type { TeamRole } from '../access/index.js';
import type { Queryable } from '../db/index.js';

export interface TeamRow {
  id: string;
  name: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

export interface UserRow {
  id: string;
  email: string;
  name: string;
  is_admin: boolean;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface MemberRow {
  team_id: string;
  user_id: string;
  role: TeamRole;
  email: string;
  team_name: string;
}

export interface KeyRow {
  id: string;
  name: string;
  secret_hash: string;
  user_id: string | null;
  team_id: string | null;
  team_role: TeamRole | null;
  scopes: string[];
  classification: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_by: string | null;
  created_at: Date;
}

/** A team by id or by name. */
/** The installation record (one row once Tarmac is installed), or null on a new database. */
export async function findInstallation(q: Queryable): Promise<{ auditPublicKey: string | null } | null> {
  const row = (await q.query<{ audit_public_key: string | null }>('select audit_public_key from installation')).rows[0];
  return row ? { auditPublicKey: row.audit_public_key } : null;
}

export async function findTeam(q: Queryable, ref: string): Promise<TeamRow | null> {
  return (await q.query<TeamRow>('select * from teams where id = $1 or name = $1', [ref])).rows[0] ?? null;
}

export async function listTeams(q: Queryable, onlyIds?: string[]): Promise<TeamRow[]> {
  if (onlyIds) return (await q.query<TeamRow>('select * from teams where id = any($1) order by name', [onlyIds])).rows;
  return (await q.query<TeamRow>('select * from teams order by name')).rows;
}

export async function insertTeam(q: Queryable, t: { id: string; name: string; description: string }): Promise<TeamRow> {
  return (
    await q.query<TeamRow>('insert into teams (id, name, description) values ($1, $2, $3) returning *', [t.id, t.name, t.description])
  ).rows[0] as TeamRow;
}

export async function updateTeam(q: Queryable, id: string, t: { name: string; description: string }): Promise<TeamRow> {
  return (
    await q.query<TeamRow>('update teams set name = $2, description = $3, updated_at = now() where id = $1 returning *', [id, t.name, t.description])
  ).rows[0] as TeamRow;
}

/** A user by id or by email. */
export async function findUser(q: Queryable, ref: string): Promise<UserRow | null> {
  return (await q.query<UserRow>('select * from users where id = $1 or email = lower($1)', [ref])).rows[0] ?? null;
}

/** Emails of enabled users whose address starts with `name@`: what a bare name may have meant. */
export async function emailsNamed(q: Queryable, name: string): Promise<string[]> {
  return (await q.query<{ email: string }>(`select email from users where split_part(email, '@', 1) = lower($1) and not disabled order by email limit 3`, [name])).rows.map((r) => r.email);
}

export async function listUsers(q: Queryable): Promise<UserRow[]> {
  return (await q.query<UserRow>('select * from users order by email')).rows;
}

export async function insertUser(q: Queryable, u: { id: string; email: string; name: string; isAdmin: boolean; disabled: boolean }): Promise<UserRow> {
  return (
    await q.query<UserRow>(
      'insert into users (id, email, name, is_admin, disabled) values ($1, $2, $3, $4, $5) returning *',
      [u.id, u.email, u.name, u.isAdmin, u.disabled],
    )
  ).rows[0] as UserRow;
}

export async function updateUser(q: Queryable, id: string, u: { name: string; isAdmin: boolean; disabled: boolean }): Promise<UserRow> {
  return (
    await q.query<UserRow>(
      'update users set name = $2, is_admin = $3, disabled = $4, updated_at = now() where id = $1 returning *',
      [id, u.name, u.isAdmin, u.disabled],
    )
  ).rows[0] as UserRow;
}

const MEMBER_SELECT = `select m.team_id, m.user_id, m.role, u.email, t.name as team_name
  from team_members m join users u on u.id = m.user_id join teams t on t.id = m.team_id`;

export async function membersOfTeam(q: Queryable, teamId: string): Promise<MemberRow[]> {
  return (await q.query<MemberRow>(`${MEMBER_SELECT} where m.team_id = $1 order by u.email`, [teamId])).rows;
}

export async function membershipsOfUser(q: Queryable, userId: string): Promise<MemberRow[]> {
  return (await q.query<MemberRow>(`${MEMBER_SELECT} where m.user_id = $1 order by t.name`, [userId])).rows;
}

export async function upsertMember(q: Queryable, teamId: string, userId: string, role: TeamRole): Promise<void> {
  await q.query(
    `insert into team_members (team_id, user_id, role) values ($1, $2, $3)
     on conflict (team_id, user_id) do update set role = excluded.role`,
    [teamId, userId, role],
  );
}

export async function deleteMember(q: Queryable, teamId: string, userId: string): Promise<boolean> {
  return (await q.query('delete from team_members where team_id = $1 and user_id = $2', [teamId, userId])).rowCount > 0;
}

export async function findKey(q: Queryable, id: string): Promise<KeyRow | null> {
  return (await q.query<KeyRow>('select * from api_keys where id = $1', [id])).rows[0] ?? null;
}

export async function listKeys(q: Queryable, filter: { userId?: string; teamIds?: string[] } | null): Promise<KeyRow[]> {
  if (!filter) return (await q.query<KeyRow>('select * from api_keys order by created_at desc')).rows;
  return (
    await q.query<KeyRow>('select * from api_keys where user_id = $1 or team_id = any($2) order by created_at desc', [
      filter.userId ?? null,
      filter.teamIds ?? [],
    ])
  ).rows;
}

export async function insertKey(q: Queryable, k: Omit<KeyRow, 'created_at' | 'revoked_at' | 'last_used_at'>): Promise<KeyRow> {
  return (
    await q.query<KeyRow>(
      `insert into api_keys (id, name, secret_hash, user_id, team_id, team_role, scopes, classification, expires_at, created_by)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *`,
      [k.id, k.name, k.secret_hash, k.user_id, k.team_id, k.team_role, k.scopes, k.classification, k.expires_at, k.created_by],
    )
  ).rows[0] as KeyRow;
}

export async function revokeKey(q: Queryable, id: string): Promise<KeyRow> {
  return (await q.query<KeyRow>('update api_keys set revoked_at = now() where id = $1 returning *', [id])).rows[0] as KeyRow;
}

/** Records use at most once a minute per key, so authentication stays a read on the hot path. */
export async function touchKey(q: Queryable, id: string): Promise<void> {
  await q.query(
    "update api_keys set last_used_at = now() where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    [id],
  );
}

/** The principals a user holds: `*`, the user by id and email, and each team by id and name. */
export async function principalsOfUser(q: Queryable, userId: string): Promise<{ email: string; principals: string[] } | null> {
  const { rows } = await q.query<{ email: string; team_id: string | null; team_name: string | null }>(
    `select u.email, t.id as team_id, t.name as team_name from users u
     left join team_members m on m.user_id = u.id left join teams t on t.id = m.team_id
     where u.id = $1 or u.email = lower($1)`,
    [userId],
  );
  const first = rows[0];
  if (!first) return null;
  const { rows: ids } = await q.query<{ id: string }>('select id from users where email = $1', [first.email]);
  const set = new Set(['*', `user:${first.email}`, `user:${ids[0]?.id.toLowerCase() ?? ''}`]);
  for (const r of rows) if (r.team_id && r.team_name) set.add(`team:${r.team_id.toLowerCase()}`).add(`team:${r.team_name}`);
  return { email: first.email, principals: [...set].sort() };
}

/** The principals of a team key: `*` and the team by id and name. */
export async function principalsOfTeam(q: Queryable, teamId: string): Promise<string[]> {
  const { rows } = await q.query<{ name: string }>('select name from teams where id = $1', [teamId]);
  return ['*', `team:${teamId.toLowerCase()}`, ...(rows[0] ? [`team:${rows[0].name}`] : [])].sort();
}

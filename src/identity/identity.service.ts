import {
  hasScope,
  requireAdmin,
  requireScope,
  requireTeamRole,
  SCOPES,
  systemActor,
  teamsWithRole,
  type AuditContext,
  type Caller,
  type Principal,
  type Scope,
  type TeamRole,
} from '../access/index.js';
import type { AuditLog, RecordAudit } from '../audit/index.js';
import { LOCK_KEYS, newId, type Database, type Queryable } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import type { CLASSIFICATIONS } from '../policies/index.js';
import * as repo from './identity.repository.js';
import type { ApiKey, CreatedKey, Team, User } from './identity.schema.js';
import { generateKey, parseKey, secretMatches } from './keys.js';
import { PrincipalCache } from './principal-cache.js';

export interface CreateKeyInput {
  name: string;
  /** User the key acts as (id or email); default the caller's own user. */
  user?: string | undefined;
  /** Team the key belongs to (id or name), for application keys; exclusive with `user`. */
  team?: string | undefined;
  teamRole?: TeamRole | undefined;
  scopes?: Scope[] | undefined;
  classification?: Classification | null | undefined;
  expiresAt?: Date | null | undefined;
}

type Classification = (typeof CLASSIFICATIONS)[number];

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function teamView(row: repo.TeamRow, members: repo.MemberRow[]): Team {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    members: members.map((m) => ({ userId: m.user_id, email: m.email, role: m.role })),
  };
}

function userView(row: repo.UserRow, teams: repo.MemberRow[]): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    admin: row.is_admin,
    disabled: row.disabled,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    teams: teams.map((m) => ({ teamId: m.team_id, name: m.team_name, role: m.role })),
  };
}

export function keyView(row: repo.KeyRow): ApiKey {
  return {
    id: row.id,
    prefix: `tmk_${row.id}`,
    name: row.name,
    userId: row.user_id,
    teamId: row.team_id,
    teamRole: row.team_role,
    scopes: row.scopes as Scope[],
    classification: row.classification as Classification | null,
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    lastUsedAt: iso(row.last_used_at),
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
  };
}

// The audit trail shows what changed, never secrets.
const userAudit = (u: repo.UserRow) => ({ email: u.email, name: u.name, admin: u.is_admin, disabled: u.disabled });
const teamAudit = (t: repo.TeamRow) => ({ name: t.name, description: t.description });

/**
 * Writes of identity objects inside a caller's transaction, each with its audit entry. Config as code uses
 * it to apply a whole `tarmac.yaml` in one transaction.
 */
export class IdentityWriter {
  constructor(
    private readonly tx: Queryable,
    private readonly record: RecordAudit,
  ) {}

  async createUser(input: { email: string; name?: string | undefined; admin?: boolean | undefined; disabled?: boolean | undefined }): Promise<repo.UserRow> {
    const email = input.email.toLowerCase();
    if (await repo.findUser(this.tx, email)) throw new TarmacError('conflict', `a user with email ${email} already exists`);
    const row = await repo.insertUser(this.tx, {
      id: newId('usr'),
      email,
      name: input.name ?? '',
      isAdmin: input.admin ?? false,
      disabled: input.disabled ?? false,
    });
    await this.record({ action: 'user.created', targetType: 'user', targetId: row.id, after: userAudit(row) });
    return row;
  }

  async updateUser(current: repo.UserRow, patch: { name?: string | undefined; admin?: boolean | undefined; disabled?: boolean | undefined }): Promise<repo.UserRow> {
    const next = {
      name: patch.name ?? current.name,
      isAdmin: patch.admin ?? current.is_admin,
      disabled: patch.disabled ?? current.disabled,
    };
    if (next.name === current.name && next.isAdmin === current.is_admin && next.disabled === current.disabled) return current;
    const row = await repo.updateUser(this.tx, current.id, next);
    await this.record({ action: 'user.updated', targetType: 'user', targetId: row.id, before: userAudit(current), after: userAudit(row) });
    return row;
  }

  async createTeam(input: { name: string; description?: string | undefined }): Promise<repo.TeamRow> {
    if (await repo.findTeam(this.tx, input.name)) throw new TarmacError('conflict', `a team named ${input.name} already exists`);
    const row = await repo.insertTeam(this.tx, { id: newId('team'), name: input.name, description: input.description ?? '' });
    await this.record({ action: 'team.created', targetType: 'team', targetId: row.id, teamId: row.id, after: teamAudit(row) });
    return row;
  }

  async updateTeam(current: repo.TeamRow, patch: { name?: string | undefined; description?: string | undefined }): Promise<repo.TeamRow> {
    const next = { name: patch.name ?? current.name, description: patch.description ?? current.description };
    if (next.name === current.name && next.description === current.description) return current;
    if (next.name !== current.name && (await repo.findTeam(this.tx, next.name))) {
      throw new TarmacError('conflict', `a team named ${next.name} already exists`);
    }
    const row = await repo.updateTeam(this.tx, current.id, next);
    await this.record({ action: 'team.updated', targetType: 'team', targetId: row.id, teamId: row.id, before: teamAudit(current), after: teamAudit(row) });
    return row;
  }

  async setMember(team: repo.TeamRow, user: repo.UserRow, role: TeamRole): Promise<void> {
    const current = (await repo.membersOfTeam(this.tx, team.id)).find((m) => m.user_id === user.id);
    if (current?.role === role) return;
    await repo.upsertMember(this.tx, team.id, user.id, role);
    await this.record({
      action: current ? 'team.member_updated' : 'team.member_added',
      targetType: 'team',
      targetId: team.id,
      teamId: team.id,
      before: current ? { user: user.email, role: current.role } : null,
      after: { user: user.email, role },
    });
  }

  async removeMember(team: repo.TeamRow, user: repo.UserRow): Promise<boolean> {
    const current = (await repo.membersOfTeam(this.tx, team.id)).find((m) => m.user_id === user.id);
    if (!current) return false;
    await repo.deleteMember(this.tx, team.id, user.id);
    await this.record({
      action: 'team.member_removed',
      targetType: 'team',
      targetId: team.id,
      teamId: team.id,
      before: { user: user.email, role: current.role },
    });
    return true;
  }

  async createKey(input: {
    name: string;
    userId: string | null;
    teamId: string | null;
    teamRole: TeamRole | null;
    scopes: Scope[];
    classification?: Classification | null;
    expiresAt: Date | null;
    createdBy: string | null;
  }): Promise<CreatedKey> {
    const { id, token, secretHash } = generateKey();
    const row = await repo.insertKey(this.tx, {
      id,
      name: input.name,
      secret_hash: secretHash,
      user_id: input.userId,
      team_id: input.teamId,
      team_role: input.teamRole,
      scopes: input.scopes,
      classification: input.classification ?? null,
      expires_at: input.expiresAt,
      created_by: input.createdBy,
    });
    const key = keyView(row);
    await this.record({ action: 'key.created', targetType: 'api_key', targetId: id, teamId: input.teamId, after: key });
    return { key, token };
  }

  async revokeKey(row: repo.KeyRow): Promise<ApiKey> {
    const view = keyView(await repo.revokeKey(this.tx, row.id));
    await this.record({ action: 'key.revoked', targetType: 'api_key', targetId: row.id, teamId: row.team_id, before: keyView(row), after: view });
    return view;
  }
}

/**
 * Teams, users, roles and API keys; authentication of keys into principals.
 *
 * @example
 * const principal = await identity.authenticate(token);
 * const team = await identity.createTeam({ principal }, { name: 'underwriting' });
 */
export class IdentityService {
  private readonly principals: PrincipalCache;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    options: { authCacheMs?: number } = {},
  ) {
    this.principals = new PrincipalCache(options.authCacheMs ?? 0);
  }

  private async write<T>(caller: Caller | AuditContext, fn: (w: IdentityWriter, tx: Queryable) => Promise<T>): Promise<T> {
    const ctx: AuditContext = 'principal' in caller ? { actor: caller.principal.actor, requestId: caller.requestId ?? null } : caller;
    try {
      return await this.audit.transaction(ctx, (tx, record) => fn(new IdentityWriter(tx, record), tx));
    } finally {
      this.principals.clear();
    }
  }

  /** Forgets cached principals (after identity changes made outside this service). */
  forgetPrincipals(): void {
    this.principals.clear();
  }

  /**
   * Turns a bearer token into a principal, or throws `unauthorized` saying why. With `authCacheMs` set, a
   * principal is reused for that long (see {@link PrincipalCache}).
   */
  async authenticate(token: string): Promise<Principal> {
    const cached = this.principals.get(token);
    if (cached) return cached;
    return this.authenticateNow(token);
  }

  private async authenticateNow(token: string): Promise<Principal> {
    const parsed = parseKey(token);
    if (!parsed) throw new TarmacError('unauthorized', 'the API key is malformed (Tarmac keys start with tmk_)');
    const row = await repo.findKey(this.db, parsed.id);
    if (!row || !secretMatches(parsed.secret, row.secret_hash)) throw new TarmacError('unauthorized', 'the API key is not valid');
    const principal = await this.principalOfRow(row);
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) await repo.touchKey(this.db, row.id);
    this.principals.set(token, principal, row.expires_at);
    return principal;
  }

  /**
   * The principal of a key by its id, as it is now: for background work done for the key that started it (an
   * eval run), so a key revoked or a membership lost since stops that work's access too.
   */
  async principalOfKey(keyId: string): Promise<Principal> {
    const row = await repo.findKey(this.db, keyId);
    if (!row) throw new TarmacError('unauthorized', 'the API key no longer exists', { keyId });
    return this.principalOfRow(row);
  }

  /**
   * A principal for background work a user's schedule does (a scheduled eval run): the user's memberships as they
   * are now, read and write scopes, acting as the system actor `id`. Null when the user is gone or disabled.
   */
  async principalOfUser(userId: string, id: string): Promise<Principal | null> {
    const user = await repo.findUser(this.db, userId);
    if (!user || user.disabled) return null;
    const roles: Record<string, TeamRole> = {};
    for (const m of await repo.membershipsOfUser(this.db, user.id)) roles[m.team_id] = m.role;
    return { keyId: `system:${id}`, userId: user.id, teamId: null, isAdmin: false, scopes: ['read', 'write'], roles, actor: systemActor(id) };
  }

  private async principalOfRow(row: NonNullable<Awaited<ReturnType<typeof repo.findKey>>>): Promise<Principal> {
    // Past the secret check the key is known to be this one: its id (never its secret) says which was refused.
    if (row.revoked_at) throw new TarmacError('unauthorized', 'the API key was revoked', { keyId: row.id });
    if (row.expires_at && row.expires_at.getTime() <= Date.now()) throw new TarmacError('unauthorized', 'the API key has expired', { keyId: row.id });
    const scopes = row.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
    let isAdmin = false;
    let roles: Record<string, TeamRole> = {};
    if (row.user_id) {
      const user = await repo.findUser(this.db, row.user_id);
      if (!user || user.disabled) throw new TarmacError('unauthorized', 'the user of this API key is disabled', { keyId: row.id });
      isAdmin = user.is_admin && scopes.includes('admin');
      for (const m of await repo.membershipsOfUser(this.db, user.id)) roles[m.team_id] = m.role;
    } else if (row.team_id && row.team_role) {
      roles = { [row.team_id]: row.team_role };
    }
    return {
      keyId: row.id,
      userId: row.user_id,
      teamId: row.team_id,
      isAdmin,
      scopes,
      roles,
      actor: { type: 'key', id: row.id, userId: row.user_id },
      classification: row.classification,
    };
  }

  // ── users ────────────────────────────────────────────────────────────────────────────────────

  async listUsers(caller: Caller): Promise<User[]> {
    requireAdmin(caller.principal);
    const rows = await repo.listUsers(this.db);
    return Promise.all(rows.map(async (u) => userView(u, await repo.membershipsOfUser(this.db, u.id))));
  }

  async getUser(caller: Caller, ref: string): Promise<User> {
    const row = await repo.findUser(this.db, ref);
    if (!row || (!caller.principal.isAdmin && caller.principal.userId !== row.id)) {
      throw new TarmacError('not_found', `user ${ref} does not exist`);
    }
    return userView(row, await repo.membershipsOfUser(this.db, row.id));
  }

  async createUser(caller: Caller, input: { email: string; name?: string | undefined; admin?: boolean | undefined }): Promise<User> {
    requireScope(caller.principal, 'write');
    requireAdmin(caller.principal);
    const row = await this.write(caller, (w) => w.createUser(input));
    return userView(row, []);
  }

  async updateUser(caller: Caller, ref: string, patch: { name?: string | undefined; admin?: boolean | undefined; disabled?: boolean | undefined }): Promise<User> {
    requireScope(caller.principal, 'write');
    const current = await repo.findUser(this.db, ref);
    const self = current !== null && caller.principal.userId === current.id;
    if (!current || (!caller.principal.isAdmin && !self)) throw new TarmacError('not_found', `user ${ref} does not exist`);
    if (!caller.principal.isAdmin && (patch.admin !== undefined || patch.disabled !== undefined)) {
      throw new TarmacError('forbidden', 'only a platform admin changes admin or disabled');
    }
    const row = await this.write(caller, (w) => w.updateUser(current, patch));
    return userView(row, await repo.membershipsOfUser(this.db, row.id));
  }

  // ── teams ────────────────────────────────────────────────────────────────────────────────────

  async listTeams(caller: Caller): Promise<Team[]> {
    const p = caller.principal;
    const rows = await repo.listTeams(this.db, p.isAdmin ? undefined : Object.keys(p.roles));
    return Promise.all(rows.map(async (t) => teamView(t, await repo.membersOfTeam(this.db, t.id))));
  }

  private async visibleTeam(caller: Caller, ref: string): Promise<repo.TeamRow> {
    const row = await repo.findTeam(this.db, ref);
    if (!row || (!caller.principal.isAdmin && !caller.principal.roles[row.id])) throw new TarmacError('not_found', `team ${ref} does not exist`);
    return row;
  }

  async getTeam(caller: Caller, ref: string): Promise<Team> {
    const row = await this.visibleTeam(caller, ref);
    return teamView(row, await repo.membersOfTeam(this.db, row.id));
  }

  async createTeam(caller: Caller, input: { name: string; description?: string | undefined }): Promise<Team> {
    requireScope(caller.principal, 'write');
    requireAdmin(caller.principal);
    const row = await this.write(caller, (w) => w.createTeam(input));
    return teamView(row, []);
  }

  async updateTeam(caller: Caller, ref: string, patch: { name?: string | undefined; description?: string | undefined }): Promise<Team> {
    requireScope(caller.principal, 'write');
    const current = await this.visibleTeam(caller, ref);
    requireTeamRole(caller.principal, current.id, 'owner');
    const row = await this.write(caller, (w) => w.updateTeam(current, patch));
    return teamView(row, await repo.membersOfTeam(this.db, row.id));
  }

  async setMember(caller: Caller, teamRef: string, userRef: string, role: TeamRole): Promise<Team> {
    requireScope(caller.principal, 'write');
    const team = await this.visibleTeam(caller, teamRef);
    requireTeamRole(caller.principal, team.id, 'owner');
    const user = await repo.findUser(this.db, userRef);
    if (!user) throw new TarmacError('not_found', `user ${userRef} does not exist`);
    await this.write(caller, (w) => w.setMember(team, user, role));
    return teamView(team, await repo.membersOfTeam(this.db, team.id));
  }

  async removeMember(caller: Caller, teamRef: string, userRef: string): Promise<Team> {
    requireScope(caller.principal, 'write');
    const team = await this.visibleTeam(caller, teamRef);
    requireTeamRole(caller.principal, team.id, 'owner');
    const user = await repo.findUser(this.db, userRef);
    if (!user) throw new TarmacError('not_found', `user ${userRef} does not exist`);
    const removed = await this.write(caller, (w) => w.removeMember(team, user));
    if (!removed) throw new TarmacError('not_found', `${user.email} is not a member of ${team.name}`);
    return teamView(team, await repo.membersOfTeam(this.db, team.id));
  }

  // ── API keys ─────────────────────────────────────────────────────────────────────────────────

  /** Creates a key; its token is returned once and never stored. A key never gets scopes its creator lacks. */
  async createKey(caller: Caller, input: CreateKeyInput): Promise<CreatedKey> {
    const p = caller.principal;
    requireScope(p, 'write');
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200) {
      throw new TarmacError('validation_failed', 'a key name has 1 to 200 characters', { issues: [{ path: 'name', message: '1 to 200 characters' }] });
    }
    const scopes = [...new Set(input.scopes ?? (['read', 'write'] as Scope[]))];
    // Platform admins may grant any scope (act_as included); others only what their own key holds.
    const missing = p.isAdmin ? [] : scopes.filter((s) => !hasScope(p, s));
    if (missing.length > 0) throw new TarmacError('forbidden', `a key cannot grant scopes its creator lacks: ${missing.join(', ')}`);
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now()) throw new TarmacError('validation_failed', 'expiresAt must be in the future', { issues: [{ path: 'expiresAt', message: 'must be in the future' }] });
    let userId: string | null = null;
    let teamId: string | null = null;
    let teamRole: TeamRole | null = null;
    if (input.team) {
      if (input.user) throw new TarmacError('validation_failed', 'a key belongs to a user or a team, not both', { issues: [{ path: 'team', message: 'exclusive with user' }] });
      const team = await this.visibleTeam(caller, input.team);
      requireTeamRole(p, team.id, 'owner');
      if (scopes.includes('admin')) throw new TarmacError('forbidden', 'team keys cannot have the admin scope');
      teamId = team.id;
      teamRole = input.teamRole ?? 'builder';
    } else {
      const ref = input.user ?? p.userId;
      if (!ref) throw new TarmacError('validation_failed', 'a team key must name the user or team of the new key', { issues: [{ path: 'user', message: 'required for team keys' }] });
      const user = await repo.findUser(this.db, ref);
      if (!user) throw new TarmacError('not_found', `user ${ref} does not exist`);
      if (user.id !== p.userId) requireAdmin(p);
      if (scopes.includes('admin') && !user.is_admin) throw new TarmacError('forbidden', 'only platform admins can hold keys with the admin scope');
      userId = user.id;
    }
    return this.write(caller, (w) =>
      w.createKey({
        name,
        userId,
        teamId,
        teamRole,
        scopes,
        classification: input.classification ?? null,
        expiresAt: input.expiresAt ?? null,
        createdBy: p.actor.userId ?? p.keyId,
      }),
    );
  }

  async listKeys(caller: Caller): Promise<ApiKey[]> {
    const p = caller.principal;
    const rows = await repo.listKeys(this.db, p.isAdmin ? null : { userId: p.userId ?? '', teamIds: teamsWithRole(p, 'owner') });
    return rows.map(keyView);
  }

  async revokeKey(caller: Caller, id: string): Promise<ApiKey> {
    const p = caller.principal;
    requireScope(p, 'write');
    const keyId = id.startsWith('tmk_') ? id.slice(4, 16) : id;
    const row = await repo.findKey(this.db, keyId);
    const allowed =
      row !== null && (p.isAdmin || (row.user_id !== null && row.user_id === p.userId) || (row.team_id !== null && teamsWithRole(p, 'owner').includes(row.team_id)));
    if (!row || !allowed) throw new TarmacError('not_found', `API key ${id} does not exist`);
    if (row.revoked_at) return keyView(row);
    return this.write(caller, (w) => w.revokeKey(row));
  }

  // ── installation ─────────────────────────────────────────────────────────────────────────────

  /**
   * On a new database: creates the platform admin user and its first key, records the installation and
   * the audit signing key, all in one transaction. `persistKey` runs inside it, so a key that could not be
   * written to disk is never left behind in the database. Returns null when the installation exists.
   */
  async bootstrap(options: {
    adminEmail: string;
    auditPublicKey: string | null;
    persistKey: (token: string) => void;
  }): Promise<{ adminUserId: string; keyId: string } | null> {
    return this.audit.transaction({ actor: systemActor('install') }, async (tx, record) => {
      await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEYS.install]);
      const { rows } = await tx.query('select 1 from installation');
      if (rows.length > 0) return null;
      const w = new IdentityWriter(tx, record);
      const user = (await repo.findUser(tx, options.adminEmail)) ?? (await w.createUser({ email: options.adminEmail, name: 'Platform admin', admin: true }));
      const { key, token } = await w.createKey({
        name: 'bootstrap admin key',
        userId: user.id,
        teamId: null,
        teamRole: null,
        scopes: ['read', 'write', 'admin'],
        expiresAt: null,
        createdBy: 'install',
      });
      await tx.query('insert into installation (id, admin_user_id, audit_public_key) values (1, $1, $2)', [user.id, options.auditPublicKey]);
      await record({ action: 'installation.created', targetType: 'installation', targetId: '1', after: { adminUserId: user.id, auditPublicKey: options.auditPublicKey } });
      options.persistKey(token);
      return { adminUserId: user.id, keyId: key.id };
    });
  }

  /** The installation's recorded audit public key, or null before install. */
  async installationPublicKey(): Promise<string | null> {
    return (await repo.findInstallation(this.db))?.auditPublicKey ?? null;
  }
}

import { createHash } from 'node:crypto';
import { requireAdmin, requireScope, type AuditContext, type Principal } from '../access/index.js';
import { canonicalJson, type AuditLog } from '../audit/index.js';
import { parseYaml, yamlErrorAt } from '../config/index.js';
import type { Database, Queryable } from '../db/index.js';
import { findTeam, findUser, IdentityWriter, membersOfTeam, type TeamRow, type UserRow } from '../identity/index.js';
import { storedGatewayConfig } from '../models/index.js';
import { findPolicy, upsertPolicy, type PolicyRules } from '../policies/index.js';
import { WorkspaceFile } from './workspace.schema.js';

/** One field that an apply changes. */
export interface FieldChange {
  path: string;
  from: unknown;
  to: unknown;
}

/** One object that an apply creates, updates or deletes. */
export interface Change {
  op: 'create' | 'update' | 'delete';
  kind: 'user' | 'team' | 'member' | 'policy' | 'gateway';
  /** Email, team name, `team/email` or policy name. */
  name: string;
  fields: FieldChange[];
}

export interface ApplyResult {
  file: string;
  sha256: string;
  dryRun: boolean;
  changes: Change[];
}

const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

function fieldChanges(prefix: string, from: unknown, to: unknown, out: FieldChange[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(from) && isObj(to)) {
    for (const key of [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()) {
      fieldChanges(prefix ? `${prefix}.${key}` : key, from[key], to[key], out);
    }
  } else if (!same(from, to)) {
    out.push({ path: prefix, from: from ?? null, to: to ?? null });
  }
}

function policyRules(p: WorkspaceFile['policies'][number]): PolicyRules {
  const { name: _name, description: _description, ...rules } = p;
  return JSON.parse(JSON.stringify(rules)) as PolicyRules;
}

interface Plan {
  changes: Change[];
  run: (w: IdentityWriter, tx: Queryable, record: Parameters<typeof upsertPolicy>[1]) => Promise<void>;
}

/** Compares the file with the database and returns the changes and how to make them. */
async function plan(q: Queryable, file: WorkspaceFile, source: { text: string; name: string }): Promise<Plan> {
  const changes: Change[] = [];
  const steps: ((w: IdentityWriter, tx: Queryable, record: Parameters<typeof upsertPolicy>[1]) => Promise<void>)[] = [];
  const users = new Map<string, UserRow | null>();

  for (const u of file.users) {
    const current = await findUser(q, u.email);
    users.set(u.email, current);
    if (!current) {
      changes.push({ op: 'create', kind: 'user', name: u.email, fields: [] });
      steps.push(async (w) => {
        users.set(u.email, await w.createUser(u));
      });
      continue;
    }
    const fields: FieldChange[] = [];
    if (u.name !== undefined && u.name !== current.name) fields.push({ path: 'name', from: current.name, to: u.name });
    if (u.admin !== undefined && u.admin !== current.is_admin) fields.push({ path: 'admin', from: current.is_admin, to: u.admin });
    if (u.disabled !== undefined && u.disabled !== current.disabled) fields.push({ path: 'disabled', from: current.disabled, to: u.disabled });
    if (fields.length > 0) {
      changes.push({ op: 'update', kind: 'user', name: u.email, fields });
      steps.push(async (w) => {
        users.set(u.email, await w.updateUser(current, u));
      });
    }
  }

  for (const [t, team] of file.teams.entries()) {
    const current = await findTeam(q, team.name);
    let row: TeamRow | null = current;
    if (!current) {
      changes.push({ op: 'create', kind: 'team', name: team.name, fields: [] });
      steps.push(async (w) => {
        row = await w.createTeam(team);
      });
    } else if (team.description !== undefined && team.description !== current.description) {
      changes.push({ op: 'update', kind: 'team', name: team.name, fields: [{ path: 'description', from: current.description, to: team.description }] });
      steps.push(async (w) => {
        row = await w.updateTeam(current, team);
      });
    }
    if (!team.members) continue;
    const existing = current ? await membersOfTeam(q, current.id) : [];
    const desired = new Map(team.members.map((m) => [m.user, m.role]));
    for (const [i, m] of team.members.entries()) {
      if (!users.has(m.user)) users.set(m.user, await findUser(q, m.user));
      if (!users.get(m.user) && !file.users.some((u) => u.email === m.user)) {
        throw yamlErrorAt(source.text, source.name, ['teams', t, 'members', i, 'user'], `${m.user} is neither declared in users nor known to Tarmac`);
      }
      const had = existing.find((e) => e.email === m.user);
      if (had?.role === m.role) continue;
      changes.push({
        op: had ? 'update' : 'create',
        kind: 'member',
        name: `${team.name}/${m.user}`,
        fields: [{ path: 'role', from: had?.role ?? null, to: m.role }],
      });
      steps.push(async (w) => {
        await w.setMember(row as TeamRow, users.get(m.user) as UserRow, m.role);
      });
    }
    for (const e of existing) {
      if (desired.has(e.email)) continue;
      changes.push({ op: 'delete', kind: 'member', name: `${team.name}/${e.email}`, fields: [{ path: 'role', from: e.role, to: null }] });
      steps.push(async (w, tx) => {
        await w.removeMember(row as TeamRow, (await findUser(tx, e.email)) as UserRow);
      });
    }
  }

  for (const p of file.policies) {
    const current = await findPolicy(q, p.name);
    const rules = policyRules(p);
    const description = p.description ?? '';
    if (!current) {
      changes.push({ op: 'create', kind: 'policy', name: p.name, fields: [] });
    } else {
      const fields: FieldChange[] = [];
      fieldChanges('', { description: current.description, rules: current.rules }, { description, rules }, fields);
      if (fields.length === 0) continue;
      changes.push({ op: 'update', kind: 'policy', name: p.name, fields });
    }
    steps.push(async (_w, tx, record) => upsertPolicy(tx, record, { name: p.name, description, rules }));
  }

  if (file.gateway) {
    const has = (await q.query('select 1 from gateway_config where id = 1')).rows.length > 0;
    const current = has ? await storedGatewayConfig(q) : null;
    const desired = JSON.parse(JSON.stringify(file.gateway)) as unknown;
    const fields: FieldChange[] = [];
    fieldChanges('', current ?? {}, desired, fields);
    if (!current || fields.length > 0) {
      changes.push({ op: current ? 'update' : 'create', kind: 'gateway', name: 'gateway', fields: current ? fields : [] });
      steps.push(async (_w, tx, record) => {
        await tx.query(
          `insert into gateway_config (id, config) values (1, $1) on conflict (id) do update set config = excluded.config, updated_at = now()`,
          [JSON.stringify(desired)],
        );
        await record({ action: current ? 'gateway.updated' : 'gateway.created', targetType: 'gateway', targetId: 'gateway', before: current, after: desired });
      });
    }
  }

  return {
    changes,
    run: async (w, tx, record) => {
      for (const step of steps) await step(w, tx, record);
    },
  };
}

// Applies take turns, so two at once cannot interleave their plans.
const APPLY_LOCK_KEY = 7_246_004;

/**
 * Config as code: validates a `tarmac.yaml`, shows what it would change, and applies it in one audited
 * transaction. A second apply of the same file changes nothing and writes no audit entry.
 *
 * @example
 * const result = await workspace.apply(principal, text, 'tarmac.yaml', { dryRun: false });
 * console.log(formatChanges(result.changes));
 */
export class WorkspaceService {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    /** `onApplied` runs after an apply that changed something (caches of other services drop stale state). */
    private readonly options: { onApplied?: () => void } = {},
  ) {}

  /** Parses and validates a file's text (file, path and line in every error). */
  parse(text: string, fileName: string): WorkspaceFile {
    return parseYaml(WorkspaceFile, text, fileName);
  }

  /** Applies a validated file as `ctx.actor` (callers authorise first; see {@link apply}). */
  async applyAs(ctx: AuditContext, text: string, fileName: string, options: { dryRun: boolean }): Promise<ApplyResult> {
    const file = this.parse(text, fileName);
    const sha256 = createHash('sha256').update(text).digest('hex');
    if (options.dryRun) {
      const { changes } = await plan(this.db, file, { text, name: fileName });
      return { file: fileName, sha256, dryRun: true, changes };
    }
    const result = await this.audit.transaction(ctx, async (tx, record) => {
      await tx.query('select pg_advisory_xact_lock($1)', [APPLY_LOCK_KEY]);
      const p = await plan(tx, file, { text, name: fileName });
      if (p.changes.length === 0) return { file: fileName, sha256, dryRun: false, changes: [] };
      await p.run(new IdentityWriter(tx, record), tx, record);
      await record({
        action: 'config.applied',
        targetType: 'workspace',
        targetId: fileName,
        after: { sha256, changes: p.changes.length },
      });
      return { file: fileName, sha256, dryRun: false, changes: p.changes };
    });
    if (result.changes.length > 0) this.options.onApplied?.();
    return result;
  }

  /** Applies a file for an authenticated caller: platform admins only. */
  async apply(principal: Principal, requestId: string | null, text: string, fileName: string, options: { dryRun: boolean }): Promise<ApplyResult> {
    requireScope(principal, options.dryRun ? 'read' : 'write');
    requireAdmin(principal);
    return this.applyAs({ actor: principal.actor, requestId }, text, fileName, options);
  }
}

const SYMBOL: Record<Change['op'], string> = { create: '+', update: '~', delete: '-' };

/** Renders changes as a readable diff, one line per object. */
export function formatChanges(changes: Change[]): string {
  if (changes.length === 0) return 'no changes';
  const show = (v: unknown) => JSON.stringify(v);
  return changes
    .map((c) => {
      const head = `${SYMBOL[c.op]} ${c.kind} ${c.name}`;
      if (c.op === 'create' && c.kind !== 'member') return head;
      if (c.kind === 'member') return `${head} (${c.op === 'delete' ? show(c.fields[0]?.from) : show(c.fields[0]?.to)})`;
      return [head, ...c.fields.map((f) => `    ${f.path}: ${show(f.from)} → ${show(f.to)}`)].join('\n');
    })
    .join('\n');
}

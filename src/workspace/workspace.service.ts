import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { requireAdmin, requireScope, type AuditContext, type Principal } from '../access/index.js';
import { canonicalJson, type AuditLog, type RecordAudit } from '../audit/index.js';
import { parseYaml, yamlErrorAt } from '../config/index.js';
import { TarmacError } from '../errors/index.js';
import { LOCK_KEYS, type Database, type Queryable } from '../db/index.js';
import { findTeam, findUser, IdentityWriter, membersOfTeam, type TeamRow, type UserRow } from '../identity/index.js';
import { hasGatewayConfig, storedGatewayConfig, writeGatewayConfig } from '../gateway/index.js';
import { findPolicy, upsertPolicy, type PolicyRules } from '../policies/index.js';
import { changedFields, checkContextSources, findUseCase, UseCaseWriter, type StageGate } from '../usecases/index.js';
import { checkTemplates, contentHash, findPrompt, promptLabels, promptVersions, PromptWriter, type LabelGate, type PromptContent } from '../prompts/index.js';
import { declareSource, sourceDiff } from '../sources/index.js';
import { WorkspaceFile, type ApplyResult, type Change, type FieldChange } from './workspace.schema.js';

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

/** The promotion gates config as code is held to, like the API (the evals capability connects them). */
export interface WorkspaceGates {
  stage: StageGate | null;
  label: LabelGate | null;
}

type Step = (w: IdentityWriter, tx: Queryable, record: RecordAudit, gates: WorkspaceGates) => Promise<void>;

interface Plan {
  changes: Change[];
  run: Step;
}

/** Compares the file with the database and returns the changes and how to make them. */
/**
 * How eval datasets declared in `tarmac.yaml` are compared and written (the evals capability connects it):
 * null when the dataset is as declared.
 */
export interface DatasetDeclarer {
  planDataset(
    q: Queryable,
    declared: { name: string; team: string; description: string },
    cases: string,
    where: string,
  ): Promise<{ op: 'create' | 'update'; fields: FieldChange[]; write(tx: Queryable, record: RecordAudit): Promise<void> } | null>;
}

/** The text of a file a `tarmac.yaml` names, by the path written in it; null when it cannot be had. */
export type FileReader = (relative: string) => string | null;

async function plan(
  q: Queryable,
  file: WorkspaceFile,
  source: { text: string; name: string },
  by: string,
  files: FileReader = () => null,
  datasets: DatasetDeclarer | null = null,
): Promise<Plan> {
  const changes: Change[] = [];
  const steps: Step[] = [];
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

  for (const [i, spec] of file.sources.entries()) {
    const diff = await sourceDiff(q, spec, file.teams.some((t) => t.name === spec.team));
    if (diff === 'unknown_team') throw yamlErrorAt(source.text, source.name, ['sources', i, 'team'], `team ${spec.team} is neither declared in teams nor known to Tarmac`);
    if (diff === null) continue;
    changes.push({ op: diff.op, kind: 'source', name: spec.name, fields: diff.fields });
    steps.push(async (_w, tx, record) => {
      await declareSource(tx, record, spec);
    });
  }
  for (const [i, p] of file.prompts.entries()) await planPrompt(q, file, source, by, i, p, changes, steps);
  for (const [i, d] of file.datasets.entries()) {
    if (!datasets) throw yamlErrorAt(source.text, source.name, ['datasets', i], 'eval datasets cannot be declared here: the evals capability is not running');
    if (!(await findTeam(q, d.team)) && !file.teams.some((t) => t.name === d.team)) {
      throw yamlErrorAt(source.text, source.name, ['datasets', i, 'team'], `team ${d.team} is neither declared in teams nor known to Tarmac`);
    }
    const text = files(d.file);
    if (text === null) throw yamlErrorAt(source.text, source.name, ['datasets', i, 'file'], `cannot read ${d.file} (relative to ${source.name}); \`tarmac apply\` sends the files a tarmac.yaml names`);
    const planned = await datasets.planDataset(q, { name: d.name, team: d.team, description: d.description ?? '' }, text, d.file).catch((err: unknown) => {
      if (err instanceof TarmacError) throw yamlErrorAt(source.text, source.name, ['datasets', i, 'file'], err.message);
      throw err;
    });
    if (!planned) continue;
    changes.push({ op: planned.op, kind: 'dataset', name: d.name, fields: planned.fields });
    steps.push(async (_w, tx, record) => planned.write(tx, record));
  }
  for (const [i, u] of file.usecases.entries()) await planUseCase(q, file, source, i, u, changes, steps);
  if (file.gateway) {
    const current = (await hasGatewayConfig(q)) ? await storedGatewayConfig(q) : null;
    const desired = JSON.parse(JSON.stringify(file.gateway)) as unknown;
    const fields: FieldChange[] = [];
    fieldChanges('', current ?? {}, desired, fields);
    if (!current || fields.length > 0) {
      // A new section lists what it sets, leaving out the empty defaults.
      const created = fields.filter((f) => !Array.isArray(f.to) || f.to.length > 0);
      changes.push({ op: current ? 'update' : 'create', kind: 'gateway', name: 'gateway', fields: current ? fields : created });
      steps.push(async (_w, tx, record) => {
        await writeGatewayConfig(tx, desired);
        await record({ action: current ? 'gateway.updated' : 'gateway.created', targetType: 'gateway', targetId: 'gateway', before: current, after: desired });
      });
    }
  }

  return {
    changes,
    run: async (w, tx, record, gates) => {
      for (const step of steps) await step(w, tx, record, gates);
    },
  };
}

async function planPrompt(
  q: Queryable,
  file: WorkspaceFile,
  source: { text: string; name: string },
  by: string,
  i: number,
  p: WorkspaceFile['prompts'][number],
  changes: Change[],
  steps: Step[],
): Promise<void> {
  const content: PromptContent = { messages: p.messages, variables: p.variables, model: p.model };
  const problem = checkTemplates(content)[0];
  if (problem) throw yamlErrorAt(source.text, source.name, ['prompts', i, ...pathParts(problem.path)], problem.message);
  const team = await findTeam(q, p.team);
  if (!team && !file.teams.some((t) => t.name === p.team)) {
    throw yamlErrorAt(source.text, source.name, ['prompts', i, 'team'], `team ${p.team} is neither declared in teams nor known to Tarmac`);
  }
  const current = await findPrompt(q, p.name);
  if (current && team && current.team_id !== team.id) {
    throw yamlErrorAt(source.text, source.name, ['prompts', i, 'team'], `prompt ${p.name} belongs to another team; a prompt does not move between teams`);
  }
  const description = p.description ?? current?.description ?? '';
  const all = current ? await promptVersions(q, current.id) : [];
  const latest = all[all.length - 1]?.version ?? 0;
  const hash = contentHash(content);
  const existing = [...all].reverse().find((v) => v.content_hash === hash)?.version ?? null;
  const target = existing ?? latest + 1;
  if (!current) {
    changes.push({ op: 'create', kind: 'prompt', name: p.name, fields: [{ path: 'version', from: null, to: 1 }] });
  } else {
    const fields: FieldChange[] = [];
    if (description !== current.description) fields.push({ path: 'description', from: current.description, to: description });
    if (existing === null) fields.push({ path: 'version', from: latest, to: target });
    if (fields.length > 0) changes.push({ op: 'update', kind: 'prompt', name: p.name, fields });
  }
  const labelsNow = current ? await promptLabels(q, current.id) : [];
  const moves = (p.labels ?? []).filter((label) => labelsNow.find((l) => l.label === label)?.version !== target);
  for (const label of moves) {
    const was = labelsNow.find((l) => l.label === label)?.version ?? null;
    changes.push({ op: was === null ? 'create' : 'update', kind: 'label', name: `${p.name}:${label}`, fields: [{ path: 'version', from: was, to: target }] });
  }
  if (current && description === current.description && existing !== null && moves.length === 0) return;
  steps.push(async (_w, tx, record, gates) => {
    const writer = new PromptWriter(tx, record, by, gates.label ? { gate: gates.label, override: null } : null);
    const owner = (await findTeam(tx, p.team)) as TeamRow;
    const row = current ?? (await writer.create({ name: p.name, teamId: owner.id, description }));
    if (current) await writer.describe(current, description);
    const { version } = await writer.addVersion(row, content, `applied from ${source.name}`);
    for (const label of moves) await writer.moveLabel(row, label, version);
  });
}

async function planUseCase(
  q: Queryable,
  file: WorkspaceFile,
  source: { text: string; name: string },
  i: number,
  spec: WorkspaceFile['usecases'][number],
  changes: Change[],
  steps: Step[],
): Promise<void> {
  if (!(await findTeam(q, spec.team)) && !file.teams.some((t) => t.name === spec.team)) {
    throw yamlErrorAt(source.text, source.name, ['usecases', i, 'team'], `team ${spec.team} is neither declared in teams nor known to Tarmac`);
  }
  const at = (err: unknown): never => {
    const details = (err as { details?: { issues?: { path: string }[] } }).details;
    const field = details?.issues?.[0]?.path ?? 'name';
    if (err instanceof TarmacError) throw yamlErrorAt(source.text, source.name, ['usecases', i, ...pathParts(field)], err.message);
    throw err;
  };
  await checkContextSources(
    q,
    spec,
    file.sources.map((s) => s.name),
  ).catch(at);
  const current = await findUseCase(q, spec.name);
  const owner = await findUser(q, spec.owner);
  if (current) {
    const fields: FieldChange[] = owner ? changedFields(current, spec, owner.id) : [{ path: 'owner', from: null, to: spec.owner }];
    if (current.stage !== spec.stage && current.stage !== 'paused' && current.stage !== 'retired') fields.push({ path: 'stage', from: current.stage, to: spec.stage });
    if (fields.length === 0) return;
    changes.push({ op: 'update', kind: 'usecase', name: spec.name, fields });
  } else {
    changes.push({ op: 'create', kind: 'usecase', name: spec.name, fields: [] });
  }
  steps.push(async (_w, tx, record, gates) => {
    await new UseCaseWriter(tx, record, gates.stage).declare(spec).catch(at);
  });
}

/** `messages[0].content` → ['messages', 0, 'content']. */
function pathParts(path: string): (string | number)[] {
  return path.split(/\.|\[(\d+)\]/).filter((part) => part !== undefined && part !== '').map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

// Applies take turns, so two at once cannot interleave their plans.
const APPLY_LOCK_KEY = LOCK_KEYS.apply;

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

  private gates: WorkspaceGates = { stage: null, label: null };
  private datasets: DatasetDeclarer | null = null;

  /** Eval datasets a file declares are planned and written by this declarer from now on. */
  connectDatasets(declarer: DatasetDeclarer): void {
    this.datasets = declarer;
  }

  /** Stage changes and production label moves an apply makes pass these gates from now on. */
  connectGates(gates: WorkspaceGates): void {
    this.gates = gates;
  }

  /** Parses and validates a file's text (file, path and line in every error). */
  parse(text: string, fileName: string): WorkspaceFile {
    return parseYaml(WorkspaceFile, text, fileName);
  }

  /**
   * Applies a validated file as `ctx.actor` (callers authorise first; see {@link apply}). `files` are the texts
   * of the files it names (dataset cases), by the path written in it; `readFrom` lets a trusted caller (the
   * server's own TARMAC_CONFIG, the demo seed) read them from that directory instead.
   */
  async applyAs(ctx: AuditContext, text: string, fileName: string, options: { dryRun: boolean; files?: Record<string, string> | undefined; readFrom?: string | undefined }): Promise<ApplyResult> {
    const file = this.parse(text, fileName);
    const sha256 = createHash('sha256').update(text).digest('hex');
    const read: FileReader = (relative) => {
      if (options.files && Object.prototype.hasOwnProperty.call(options.files, relative)) return options.files[relative] ?? null;
      if (!options.readFrom) return null;
      try {
        return readFileSync(path.resolve(options.readFrom, relative), 'utf8');
      } catch {
        return null;
      }
    };
    if (options.dryRun) {
      const { changes } = await plan(this.db, file, { text, name: fileName }, ctx.actor.userId ?? ctx.actor.id, read, this.datasets);
      return { file: fileName, sha256, dryRun: true, changes };
    }
    const result = await this.audit.transaction(ctx, async (tx, record) => {
      await tx.query('select pg_advisory_xact_lock($1)', [APPLY_LOCK_KEY]);
      const p = await plan(tx, file, { text, name: fileName }, ctx.actor.userId ?? ctx.actor.id, read, this.datasets);
      if (p.changes.length === 0) return { file: fileName, sha256, dryRun: false, changes: [] };
      await p.run(new IdentityWriter(tx, record), tx, record, this.gates);
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
  async apply(principal: Principal, requestId: string | null, text: string, fileName: string, options: { dryRun: boolean; files?: Record<string, string> | undefined }): Promise<ApplyResult> {
    requireScope(principal, options.dryRun ? 'read' : 'write');
    requireAdmin(principal);
    // Over the API the files come with the request: the server never reads its disk for a caller.
    return this.applyAs({ actor: principal.actor, requestId }, text, fileName, { dryRun: options.dryRun, files: options.files });
  }
}

const SYMBOL: Record<Change['op'], string> = { create: '+', update: '~', delete: '-' };

/** A short line for a new gateway setting: named entries by name (with type or targets), other values as JSON. */
function outline(value: unknown): string {
  if (!Array.isArray(value)) return JSON.stringify(value);
  return value
    .map((item: unknown) => {
      const entry = (typeof item === 'object' && item !== null ? item : {}) as { name?: unknown; type?: unknown; targets?: unknown };
      if (typeof entry.name !== 'string') return JSON.stringify(item);
      const type = typeof entry.type === 'string' ? ` (${entry.type})` : '';
      const targets = Array.isArray(entry.targets) ? ` → ${(entry.targets as { provider: string; model: string }[]).map((t) => `${t.provider}/${t.model}`).join(', ')}` : '';
      return `${entry.name}${type}${targets}`;
    })
    .join('; ');
}

/** Renders changes as a readable diff, one line per object. */
export function formatChanges(changes: Change[]): string {
  if (changes.length === 0) return 'no changes';
  const show = (v: unknown) => JSON.stringify(v);
  return changes
    .map((c) => {
      const head = `${SYMBOL[c.op]} ${c.kind} ${c.name}`;
      if (c.op === 'create' && c.kind === 'gateway') return [head, ...c.fields.map((f) => `    ${f.path}: ${outline(f.to)}`)].join('\n');
      if (c.op === 'create' && c.kind !== 'member' && c.kind !== 'label') return head;
      if (c.kind === 'member') return `${head} (${c.op === 'delete' ? show(c.fields[0]?.from) : show(c.fields[0]?.to)})`;
      if (c.kind === 'label') return `${head} → v${show(c.fields[0]?.to)}${c.fields[0]?.from === null ? '' : ` (was v${show(c.fields[0]?.from)})`}`;
      return [head, ...c.fields.map((f) => `    ${f.path}: ${show(f.from)} → ${show(f.to)}`)].join('\n');
    })
    .join('\n');
}

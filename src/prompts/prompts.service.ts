import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { type AuditContext, type Caller, hasTeamRole, type Principal, requireTeamRole, roleIn } from '../access/index.js';
import { canonicalJson, type AuditLog, type RecordAudit } from '../audit/index.js';
import { type Database, newId, type Queryable, ReadCache } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import { findTeam } from '../identity/index.js';
import * as repo from './prompts.repository.js';
import { PRODUCTION_LABEL, type AddedVersion, type PromptContent, type PromptDetail, type PromptDiff, type PromptSummary, type PromptVersion, type RenderedPrompt } from './prompts.schema.js';
import { checkTemplates, renderMessages } from './template.js';

/** Which version: a number, or a label (default `production`). */
export type VersionSelector = { version: number } | { label: string };

export function contentHash(content: PromptContent): string {
  return createHash('sha256').update(canonicalJson({ messages: content.messages, variables: content.variables, model: content.model })).digest('hex');
}

function checkContent(content: PromptContent): void {
  const issues = checkTemplates(content);
  if (issues.length > 0) {
    throw new TarmacError('validation_failed', `invalid prompt: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
}

function versionView(prompt: repo.PromptRow, v: repo.VersionRow, labels: repo.LabelRow[]): PromptVersion {
  return {
    prompt: prompt.name,
    version: v.version,
    messages: v.messages,
    variables: v.variables,
    model: v.model,
    contentHash: v.content_hash,
    note: v.note,
    createdBy: v.created_by,
    createdAt: v.created_at.toISOString(),
    labels: labels.filter((l) => l.version === v.version).map((l) => l.label),
  };
}

function asText(v: repo.VersionRow): string {
  const parts = v.messages.map((m) => `[${m.role}]\n${m.content}\n`);
  parts.push(`[variables]\n${Object.entries(v.variables).map(([k, s]) => `${k}: ${s.type}${s.required ? '' : ' (optional)'}${s.description ? ` — ${s.description}` : ''}`).join('\n')}\n`);
  parts.push(`[model]\n${Object.entries(v.model).map(([k, val]) => `${k}: ${JSON.stringify(val)}`).join('\n')}\n`);
  return parts.join('\n');
}

/**
 * Prompt writes inside a caller's transaction, each with its audit entry (config as code applies a whole
 * file with it).
 */
/**
 * The promotion gate a move of the production label passes (the evals capability): null when no gate applies,
 * what an override waived, or a thrown `gate_failed`.
 */
export interface LabelGate {
  checkLabel(q: Queryable, prompt: { id: string; name: string }, label: string, version: number, override: string | null): Promise<Record<string, unknown> | null>;
}

export class PromptWriter {
  constructor(
    private readonly tx: Queryable,
    private readonly record: RecordAudit,
    private readonly by: string | null,
    private readonly gate: { gate: LabelGate; override: string | null } | null = null,
  ) {}

  async create(input: { name: string; teamId: string; description: string }): Promise<repo.PromptRow> {
    if (await repo.findPrompt(this.tx, input.name)) throw new TarmacError('conflict', `a prompt named ${input.name} already exists`);
    const row = await repo.insertPrompt(this.tx, { id: newId('prm'), ...input });
    await this.record({ action: 'prompt.created', targetType: 'prompt', targetId: row.id, teamId: row.team_id, after: { name: row.name, description: row.description } });
    return row;
  }

  async describe(prompt: repo.PromptRow, description: string): Promise<void> {
    if (prompt.description === description) return;
    await repo.updateDescription(this.tx, prompt.id, description);
    await this.record({ action: 'prompt.updated', targetType: 'prompt', targetId: prompt.id, teamId: prompt.team_id, before: { description: prompt.description }, after: { description } });
  }

  /** Adds a version unless one with the same content exists; returns that version's number either way. */
  async addVersion(prompt: repo.PromptRow, content: PromptContent, note: string): Promise<{ version: number; created: boolean }> {
    checkContent(content);
    const hash = contentHash(content);
    const all = await repo.versions(this.tx, prompt.id);
    const same = [...all].reverse().find((v) => v.content_hash === hash);
    if (same) return { version: same.version, created: false };
    const next = (all[all.length - 1]?.version ?? 0) + 1;
    await repo.insertVersion(this.tx, {
      prompt_id: prompt.id,
      version: next,
      messages: content.messages,
      variables: content.variables,
      model: content.model,
      content_hash: hash,
      note,
      created_by: this.by,
    });
    await this.record({
      action: 'prompt.version_created',
      targetType: 'prompt',
      targetId: prompt.id,
      teamId: prompt.team_id,
      after: { version: next, contentHash: hash, note },
    });
    return { version: next, created: true };
  }

  /** Points a label at a version; returns false when it already does. */
  async moveLabel(prompt: repo.PromptRow, label: string, version: number): Promise<boolean> {
    if (!(await repo.version(this.tx, prompt.id, version))) throw new TarmacError('not_found', `prompt ${prompt.name} has no version ${version}`);
    const current = (await repo.labels(this.tx, prompt.id)).find((l) => l.label === label);
    if (current?.version === version) return false;
    const gate = label === PRODUCTION_LABEL && this.gate ? await this.gate.gate.checkLabel(this.tx, prompt, label, version, this.gate.override) : null;
    await repo.setLabel(this.tx, prompt.id, label, version, this.by);
    await this.record({
      action: 'prompt.label_moved',
      targetType: 'prompt',
      targetId: prompt.id,
      teamId: prompt.team_id,
      before: current ? { label, version: current.version } : null,
      after: { label, version, ...(gate ? { gate } : {}) },
    });
    return true;
  }

  async removeLabel(prompt: repo.PromptRow, label: string): Promise<boolean> {
    const current = (await repo.labels(this.tx, prompt.id)).find((l) => l.label === label);
    if (!current) return false;
    await repo.deleteLabel(this.tx, prompt.id, label);
    await this.record({ action: 'prompt.label_removed', targetType: 'prompt', targetId: prompt.id, teamId: prompt.team_id, before: { label, version: current.version } });
    return true;
  }
}

/** Moving `production` needs an owner (or admin); other labels need a builder. */
export function requireLabelRole(principal: Principal, teamId: string, label: string): void {
  requireTeamRole(principal, teamId, label === PRODUCTION_LABEL ? 'owner' : 'builder');
}

/**
 * The prompt registry: named chat prompts with typed variables, immutable versions, labels moved explicitly
 * (and audited), diffs between versions, and rendering.
 *
 * @example
 * const { messages } = await prompts.render(caller, 'underwriting-answer', { label: 'production' }, { question });
 */
export class PromptService {
  // The version a label points to, for runs: kept until a prompt, version or label changes (in any process).
  private readonly labelled: ReadCache<Awaited<ReturnType<typeof repo.labelledVersion>>>;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
  ) {
    this.labelled = new ReadCache(db, ['prompts', 'prompt_versions', 'prompt_labels']);
  }

  private gate: LabelGate | null = null;

  /** Moves of the production label pass this gate from now on. */
  connectGate(gate: LabelGate): void {
    this.gate = gate;
  }

  private write<T>(caller: Caller, fn: (w: PromptWriter) => Promise<T>, override: string | null = null): Promise<T> {
    const ctx: AuditContext = { actor: caller.principal.actor, requestId: caller.requestId ?? null };
    const gate = this.gate ? { gate: this.gate, override } : null;
    return this.audit.transaction(ctx, (tx, record) => fn(new PromptWriter(tx, record, caller.principal.actor.userId ?? caller.principal.keyId, gate)));
  }

  private async visible(caller: Caller, ref: string): Promise<repo.PromptRow> {
    const row = await repo.findPrompt(this.db, ref);
    if (!row || !hasTeamRole(caller.principal, row.team_id, 'viewer')) throw new TarmacError('not_found', `prompt ${ref} does not exist`);
    return row;
  }

  private async summary(row: repo.PromptRow): Promise<PromptSummary> {
    const latest = await repo.latestVersion(this.db, row.id);
    const labels = await repo.labels(this.db, row.id);
    const team = await findTeam(this.db, row.team_id);
    return {
      id: row.id,
      name: row.name,
      teamId: row.team_id,
      team: team?.name ?? row.team_id,
      description: row.description,
      latestVersion: latest?.version ?? 0,
      labels: Object.fromEntries(labels.map((l) => [l.label, l.version])),
      createdAt: row.created_at.toISOString(),
      updatedAt: row.updated_at.toISOString(),
    };
  }

  async list(caller: Caller): Promise<PromptSummary[]> {
    const p = caller.principal;
    const rows = await repo.listPrompts(this.db, p.isAdmin ? null : Object.keys(p.roles).filter((t) => roleIn(p, t) !== null));
    return Promise.all(rows.map((r) => this.summary(r)));
  }

  async get(caller: Caller, ref: string): Promise<PromptDetail> {
    const row = await this.visible(caller, ref);
    const labels = await repo.labels(this.db, row.id);
    const all = await repo.versions(this.db, row.id);
    return { ...(await this.summary(row)), versions: all.map((v) => versionView(row, v, labels)) };
  }

  private async select(row: repo.PromptRow, selector: VersionSelector): Promise<repo.VersionRow> {
    let number: number;
    if ('version' in selector) {
      number = selector.version;
    } else {
      const label = (await repo.labels(this.db, row.id)).find((l) => l.label === selector.label);
      if (!label) throw new TarmacError('not_found', `prompt ${row.name} has no label ${selector.label}`);
      number = label.version;
    }
    const v = await repo.version(this.db, row.id, number);
    if (!v) throw new TarmacError('not_found', `prompt ${row.name} has no version ${number}`);
    return v;
  }

  async getVersion(caller: Caller, ref: string, selector: VersionSelector): Promise<PromptVersion> {
    const row = await this.visible(caller, ref);
    return versionView(row, await this.select(row, selector), await repo.labels(this.db, row.id));
  }

  /** Creates a prompt with its first version, optionally labelled. */
  async create(
    caller: Caller,
    input: { name: string; team: string; description?: string | undefined; content: PromptContent; note?: string | undefined; labels?: string[] | undefined },
  ): Promise<PromptVersion> {
    const team = await findTeam(this.db, input.team);
    if (!team || !hasTeamRole(caller.principal, team.id, 'viewer')) throw new TarmacError('not_found', `team ${input.team} does not exist`);
    requireTeamRole(caller.principal, team.id, 'builder');
    for (const label of input.labels ?? []) requireLabelRole(caller.principal, team.id, label);
    checkContent(input.content);
    const name = await this.write(caller, async (w) => {
      const prompt = await w.create({ name: input.name, teamId: team.id, description: input.description ?? '' });
      const { version } = await w.addVersion(prompt, input.content, input.note ?? '');
      for (const label of input.labels ?? []) await w.moveLabel(prompt, label, version);
      return prompt.name;
    });
    return this.getVersion(caller, name, { version: 1 });
  }

  /** Adds a version (none when the content equals an existing version) and optionally moves labels to it. */
  async addVersion(
    caller: Caller,
    ref: string,
    input: { content: PromptContent; note?: string | undefined; labels?: string[] | undefined },
  ): Promise<AddedVersion> {
    const row = await this.visible(caller, ref);
    requireTeamRole(caller.principal, row.team_id, 'builder');
    for (const label of input.labels ?? []) requireLabelRole(caller.principal, row.team_id, label);
    const { version, created } = await this.write(caller, async (w) => {
      const result = await w.addVersion(row, input.content, input.note ?? '');
      for (const label of input.labels ?? []) await w.moveLabel(row, label, result.version);
      return result;
    });
    return { ...(await this.getVersion(caller, row.name, { version })), created };
  }

  /** Moves a label to a version (rollback = moving it back). `production` needs a team owner or admin. */
  async moveLabel(caller: Caller, ref: string, label: string, version: number, options: { overrideGate?: string | undefined } = {}): Promise<PromptSummary> {
    const row = await this.visible(caller, ref);
    requireLabelRole(caller.principal, row.team_id, label);
    await this.write(caller, (w) => w.moveLabel(row, label, version), options.overrideGate ?? null);
    return this.summary(row);
  }

  async removeLabel(caller: Caller, ref: string, label: string): Promise<PromptSummary> {
    const row = await this.visible(caller, ref);
    requireLabelRole(caller.principal, row.team_id, label);
    const removed = await this.write(caller, (w) => w.removeLabel(row, label));
    if (!removed) throw new TarmacError('not_found', `prompt ${row.name} has no label ${label}`);
    return this.summary(row);
  }

  async diff(caller: Caller, ref: string, from: number, to: number): Promise<PromptDiff> {
    const row = await this.visible(caller, ref);
    const a = await this.select(row, { version: from });
    const b = await this.select(row, { version: to });
    return {
      prompt: row.name,
      from,
      to,
      patch: createTwoFilesPatch(`${row.name}@v${from}`, `${row.name}@v${to}`, asText(a), asText(b)),
      changed: {
        messages: canonicalJson(a.messages) !== canonicalJson(b.messages),
        variables: canonicalJson(a.variables) !== canonicalJson(b.variables),
        model: canonicalJson(a.model) !== canonicalJson(b.model),
      },
    };
  }

  /**
   * Renders the version a label points at for a governed run: the use case (not the end user) holds the
   * prompt, so no caller check applies here. Fails with `not_found` when the label points nowhere.
   */
  async renderForRun(
    ref: string,
    label: string,
    variables: Record<string, unknown>,
  ): Promise<RenderedPrompt> {
    const row = await this.labelled.get(`${label}\u0000${ref}`, () => repo.labelledVersion(this.db, ref, label));
    if (!row) throw new TarmacError('not_found', `prompt ${ref} does not exist`);
    if (row.label_version === null) throw new TarmacError('not_found', `prompt ${row.name} has no label ${label}`);
    if (row.version === null) throw new TarmacError('not_found', `prompt ${row.name} has no version ${row.label_version}`);
    return { prompt: row.name, version: row.version, messages: renderMessages(row, variables), model: row.model };
  }

  /** Renders one version for a run (an eval trial of a candidate version); the caller was authorised. */
  async renderVersionForRun(ref: string, version: number, variables: Record<string, unknown>): Promise<RenderedPrompt> {
    const row = await repo.findPrompt(this.db, ref);
    if (!row) throw new TarmacError('not_found', `prompt ${ref} does not exist`);
    const v = await repo.version(this.db, row.id, version);
    if (!v) throw new TarmacError('not_found', `prompt ${row.name} has no version ${version}`);
    return { prompt: row.name, version: v.version, messages: renderMessages(v, variables), model: v.model };
  }

  /** Renders a version for a caller who may read the prompt. */
  async render(
    caller: Caller,
    ref: string,
    selector: VersionSelector,
    variables: Record<string, unknown>,
  ): Promise<RenderedPrompt> {
    const row = await this.visible(caller, ref);
    const v = await this.select(row, selector);
    return { prompt: row.name, version: v.version, messages: renderMessages(v, variables), model: v.model };
  }
}

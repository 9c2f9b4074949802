import type { Queryable } from '../db/index.js';
import type { ModelParams, PromptMessage, VariableSpec } from './prompts.schema.js';

export interface PromptRow {
  id: string;
  name: string;
  team_id: string;
  description: string;
  created_at: Date;
  updated_at: Date;
}

export interface VersionRow {
  prompt_id: string;
  version: number;
  messages: PromptMessage[];
  variables: Record<string, VariableSpec>;
  model: ModelParams;
  content_hash: string;
  note: string;
  created_by: string | null;
  created_at: Date;
}

export interface LabelRow {
  prompt_id: string;
  label: string;
  version: number;
  updated_by: string | null;
  updated_at: Date;
}

export async function findPrompt(q: Queryable, ref: string): Promise<PromptRow | null> {
  return (await q.query<PromptRow>('select * from prompts where id = $1 or name = $1', [ref])).rows[0] ?? null;
}

/**
 * A prompt and the version its label points at, in one round trip (the governed run's path): `label_version`
 * is null when the label does not exist, `version` when the version does not.
 */
export async function labelledVersion(
  q: Queryable,
  ref: string,
  label: string,
): Promise<(Omit<VersionRow, 'prompt_id' | 'version'> & { name: string; label_version: number | null; version: number | null }) | null> {
  const { rows } = await q.query<Omit<VersionRow, 'prompt_id' | 'version'> & { name: string; label_version: number | null; version: number | null }>(
    `select p.name, l.version as label_version, v.version, v.messages, v.variables, v.model, v.content_hash, v.note, v.created_by, v.created_at
       from prompts p
       left join prompt_labels l on l.prompt_id = p.id and l.label = $2
       left join prompt_versions v on v.prompt_id = p.id and v.version = l.version
      where p.id = $1 or p.name = $1`,
    [ref, label],
  );
  return rows[0] ?? null;
}

export async function listPrompts(q: Queryable, teamIds: string[] | null): Promise<PromptRow[]> {
  if (!teamIds) return (await q.query<PromptRow>('select * from prompts order by name')).rows;
  return (await q.query<PromptRow>('select * from prompts where team_id = any($1) order by name', [teamIds])).rows;
}

export async function insertPrompt(q: Queryable, p: { id: string; name: string; teamId: string; description: string }): Promise<PromptRow> {
  return (
    await q.query<PromptRow>('insert into prompts (id, name, team_id, description) values ($1, $2, $3, $4) returning *', [
      p.id,
      p.name,
      p.teamId,
      p.description,
    ])
  ).rows[0] as PromptRow;
}

export async function updateDescription(q: Queryable, id: string, description: string): Promise<void> {
  await q.query('update prompts set description = $2, updated_at = now() where id = $1', [id, description]);
}

export async function versions(q: Queryable, promptId: string): Promise<VersionRow[]> {
  return (await q.query<VersionRow>('select * from prompt_versions where prompt_id = $1 order by version', [promptId])).rows;
}

export async function version(q: Queryable, promptId: string, v: number): Promise<VersionRow | null> {
  return (await q.query<VersionRow>('select * from prompt_versions where prompt_id = $1 and version = $2', [promptId, v])).rows[0] ?? null;
}

export async function latestVersion(q: Queryable, promptId: string): Promise<VersionRow | null> {
  return (await q.query<VersionRow>('select * from prompt_versions where prompt_id = $1 order by version desc limit 1', [promptId])).rows[0] ?? null;
}

export async function insertVersion(q: Queryable, v: Omit<VersionRow, 'created_at'>): Promise<VersionRow> {
  return (
    await q.query<VersionRow>(
      `insert into prompt_versions (prompt_id, version, messages, variables, model, content_hash, note, created_by)
       values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`,
      [v.prompt_id, v.version, JSON.stringify(v.messages), JSON.stringify(v.variables), JSON.stringify(v.model), v.content_hash, v.note, v.created_by],
    )
  ).rows[0] as VersionRow;
}

export async function labels(q: Queryable, promptId: string): Promise<LabelRow[]> {
  return (await q.query<LabelRow>('select * from prompt_labels where prompt_id = $1 order by label', [promptId])).rows;
}

export async function setLabel(q: Queryable, promptId: string, label: string, v: number, by: string | null): Promise<void> {
  await q.query(
    `insert into prompt_labels (prompt_id, label, version, updated_by) values ($1, $2, $3, $4)
     on conflict (prompt_id, label) do update set version = excluded.version, updated_by = excluded.updated_by, updated_at = now()`,
    [promptId, label, v, by],
  );
}

export async function deleteLabel(q: Queryable, promptId: string, label: string): Promise<boolean> {
  return (await q.query('delete from prompt_labels where prompt_id = $1 and label = $2', [promptId, label])).rowCount > 0;
}

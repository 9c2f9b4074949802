import { z } from 'zod';
import { TEAM_ROLES } from '../access/index.js';
import { GatewayConfig } from '../gateway/index.js';
import { PolicyName, PolicyRules } from '../policies/index.js';
import { UseCaseSpec } from '../usecases/index.js';
import { LabelName, PromptContent, PromptName } from '../prompts/index.js';
import { SourceSpec } from '../sources/index.js';

const Email = z.email().max(320).transform((e) => e.toLowerCase());

export const WorkspaceUser = z.strictObject({
  email: Email.describe('Identifies the user; lower-cased'),
  name: z.string().max(200).optional().describe('Display name'),
  admin: z.boolean().optional().describe('Platform admin (default false)'),
  disabled: z.boolean().optional().describe('A disabled user cannot authenticate (default false)'),
});

export const WorkspaceMember = z.strictObject({
  user: Email.describe('Email of a user declared here or already in Tarmac'),
  role: z.enum(TEAM_ROLES).describe('owner, builder, reviewer or viewer'),
});

export const WorkspaceTeam = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63').describe('Identifies the team'),
  description: z.string().max(2000).optional(),
  members: z
    .array(WorkspaceMember)
    .optional()
    .describe('When present, the complete member list: members not listed are removed'),
});

export const WorkspacePolicy = z.strictObject({
  name: PolicyName.describe('Identifies the policy'),
  description: z.string().max(2000).optional(),
  ...PolicyRules.shape,
});

export const WorkspacePrompt = z.strictObject({
  name: PromptName.describe('Identifies the prompt'),
  team: z.string().min(1).max(200).describe('Owning team (name), declared here or already in Tarmac'),
  description: z.string().max(2000).optional(),
  ...PromptContent.shape,
  labels: z.array(LabelName).max(20).optional().describe('Labels to point at the version this file declares'),
});

function unique<T>(items: T[], key: (item: T) => string, ctx: z.RefinementCtx, path: string, what: string): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [path, i], message: `duplicate ${what} ${k}` });
    seen.add(k);
  });
}

/** An eval dataset: its cases are a JSONL file, read relative to the `tarmac.yaml` that names it. */
export const WorkspaceDataset = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63').describe('Identifies the dataset'),
  team: z.string().min(1).max(200).describe('Owning team (name), declared here or already in Tarmac'),
  description: z.string().max(2000).optional(),
  file: z.string().min(1).max(1000).describe('JSONL file of its cases, relative to this file; a changed file becomes a new version'),
});

/**
 * The sections of `tarmac.yaml`, by name. Each is declared by the capability whose state it holds (its
 * `workspace` list); the workspace capability checks at start that the two agree.
 */
const SECTIONS = {
  users: z.array(WorkspaceUser).default([]).describe('Users, by email'),
  teams: z.array(WorkspaceTeam).default([]).describe('Teams, by name'),
  policies: z.array(WorkspacePolicy).default([]).describe('Platform policies, by name'),
  prompts: z.array(WorkspacePrompt).default([]).describe('Prompts, by name: a changed content becomes a new version'),
  usecases: z.array(UseCaseSpec).default([]).describe('Use cases, by name; a paused use case stays paused'),
  sources: z.array(SourceSpec).default([]).describe('Context sources, by name'),
  datasets: z.array(WorkspaceDataset).default([]).describe('Eval datasets, by name'),
  gateway: GatewayConfig.optional().describe('The model gateway: providers, routes, budgets and prices; when present it replaces the stored one'),
};

/** The names of the sections `tarmac.yaml` may hold besides `version`. */
export const WORKSPACE_SECTIONS: readonly string[] = Object.keys(SECTIONS);

/** The whole `tarmac.yaml`. */
export const WorkspaceFile = z
  .strictObject({
    version: z.literal(1).describe('File format version; 1'),
    ...SECTIONS,
  })
  .superRefine((file, ctx) => {
    unique(file.users, (u) => u.email, ctx, 'users', 'user');
    unique(file.teams, (t) => t.name, ctx, 'teams', 'team');
    unique(file.policies, (p) => p.name, ctx, 'policies', 'policy');
    unique(file.prompts, (p) => p.name, ctx, 'prompts', 'prompt');
    unique(file.usecases, (u) => u.name, ctx, 'usecases', 'use case');
    unique(file.sources, (s) => s.name, ctx, 'sources', 'source');
    unique(file.datasets, (d) => d.name, ctx, 'datasets', 'dataset');
    file.teams.forEach((team, t) => {
      const seen = new Set<string>();
      (team.members ?? []).forEach((m, i) => {
        if (seen.has(m.user)) ctx.addIssue({ code: 'custom', path: ['teams', t, 'members', i], message: `duplicate member ${m.user}` });
        seen.add(m.user);
      });
    });
  });
export type WorkspaceFile = z.output<typeof WorkspaceFile>;

/**
 * Fails unless the listed capabilities declare exactly the sections this file format holds: a section no
 * capability declares would apply state nothing serves, a declared one without a schema could not be applied.
 */
export function checkSections(declared: readonly string[]): void {
  const undeclared = WORKSPACE_SECTIONS.filter((s) => !declared.includes(s));
  if (undeclared.length > 0) throw new Error(`tarmac.yaml sections ${undeclared.join(', ')} are declared by no listed capability`);
  const unknown = declared.filter((s) => !WORKSPACE_SECTIONS.includes(s));
  if (unknown.length > 0) throw new Error(`capabilities declare tarmac.yaml sections ${unknown.join(', ')} that the workspace schema (src/workspace/workspace.schema.ts) does not hold`);
}

/** One field that an apply changes. */
export const FieldChange = z.object({ path: z.string(), from: z.unknown(), to: z.unknown() });
export type FieldChange = z.output<typeof FieldChange>;

/** One object that an apply creates, updates or deletes. */
export const Change = z.object({
  op: z.enum(['create', 'update', 'delete']),
  kind: z.enum(['user', 'team', 'member', 'policy', 'prompt', 'label', 'source', 'gateway', 'usecase', 'dataset']),
  name: z.string().describe('Email, team name, `team/email`, policy, source or prompt name, `prompt:label`, or `gateway`'),
  fields: z.array(FieldChange),
});
export type Change = z.output<typeof Change>;

export const ApplyResult = z.object({ file: z.string(), sha256: z.string(), dryRun: z.boolean(), changes: z.array(Change) });
export type ApplyResult = z.output<typeof ApplyResult>;

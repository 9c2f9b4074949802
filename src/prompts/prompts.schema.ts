import { z } from 'zod';

export const PromptName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
export const LabelName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/** Labels with a meaning of their own; any other label name is a custom label. */
export const PRODUCTION_LABEL = 'production';

export const VARIABLE_TYPES = ['string', 'number', 'boolean', 'string_list'] as const;

export const VariableSpec = z.strictObject({
  type: z.enum(VARIABLE_TYPES).describe('string, number, boolean or string_list'),
  required: z.boolean().default(true).describe('A required variable must be given at render time (default true)'),
  description: z.string().max(500).optional(),
});

export const PromptMessage = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']).describe('Chat role of the message'),
  content: z.string().min(1).max(100_000).describe('Mustache template: {{variable}}, {{#list}}…{{/list}}'),
});

/** Model parameters stored with a version and passed to the model route. */
export const ModelParams = z.strictObject({
  route: z.string().max(100).optional().describe('Model route to use (default: the use case\'s route)'),
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().min(0).max(1).optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
  stop: z.array(z.string().min(1).max(100)).max(8).optional(),
  seed: z.number().int().optional(),
});

/** What makes a version: its messages, declared variables and model parameters. */
export const PromptContent = z.strictObject({
  messages: z.array(PromptMessage).min(1).max(50),
  variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'a variable name is a letter or _ then letters, digits, _'), VariableSpec).default({}),
  model: ModelParams.default({}),
});

export type VariableSpec = z.output<typeof VariableSpec>;
export type PromptMessage = z.output<typeof PromptMessage>;
export type ModelParams = z.output<typeof ModelParams>;
export type PromptContent = z.output<typeof PromptContent>;

/** A prompt as listed: its team, latest version and labels. */
export const PromptSummary = z.object({
  id: z.string(),
  name: z.string(),
  teamId: z.string(),
  team: z.string().describe("The team's name"),
  description: z.string(),
  latestVersion: z.number(),
  labels: z.record(z.string(), z.number()).describe('Label → version'),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type PromptSummary = z.output<typeof PromptSummary>;

export const PromptVersion = z.object({
  prompt: z.string(),
  version: z.number(),
  messages: z.array(PromptMessage),
  variables: z.record(z.string(), VariableSpec),
  model: ModelParams,
  contentHash: z.string(),
  note: z.string(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  labels: z.array(z.string()),
});
export type PromptVersion = z.output<typeof PromptVersion>;

export const PromptDetail = PromptSummary.extend({ versions: z.array(PromptVersion) });
export type PromptDetail = z.output<typeof PromptDetail>;

export const AddedVersion = PromptVersion.extend({ created: z.boolean() });
export type AddedVersion = z.output<typeof AddedVersion>;

export const PromptDiff = z.object({
  prompt: z.string(),
  from: z.number(),
  to: z.number(),
  patch: z.string().describe('Unified diff of the two versions rendered as text (messages, variables, model parameters)'),
  changed: z.object({ messages: z.boolean(), variables: z.boolean(), model: z.boolean() }),
});
export type PromptDiff = z.output<typeof PromptDiff>;

export const RenderedPrompt = z.object({ prompt: z.string(), version: z.number(), messages: z.array(PromptMessage), model: ModelParams });
export type RenderedPrompt = z.output<typeof RenderedPrompt>;

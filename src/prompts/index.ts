/**
 * The prompt registry: named chat prompts owned by a team, with typed variables and model parameters;
 * immutable versions; labels (`production`, `staging`, custom) moved explicitly and audited; diffs; rendering.
 *
 * @example
 * const prompts = new PromptService(db, audit);
 * await prompts.moveLabel(caller, 'underwriting-answer', 'production', 3);
 * const { messages } = await prompts.render(caller, 'underwriting-answer', { label: 'production' }, { question });
 */
export { LabelName, ModelParams, PRODUCTION_LABEL, PromptContent, PromptMessage, PromptName, VariableSpec } from './prompts.schema.js';
export { AddedVersion, PromptDetail, PromptDiff, PromptSummary, PromptVersion, RenderedPrompt } from './prompts.schema.js';
export {
  contentHash,
  PromptService,
  PromptWriter,
  requireLabelRole,
  type LabelGate,
  type VersionSelector,
} from './prompts.service.js';
export { findPrompt, labels as promptLabels, versions as promptVersions } from './prompts.repository.js';
export { checkTemplates, renderMessages, templateVariables } from './template.js';
export { capability } from './capability.js';

/**
 * Config as code: the `tarmac.yaml` schema, its diff against the database, and an idempotent, audited,
 * all-or-nothing apply.
 *
 * @example
 * const result = await workspace.apply(principal, requestId, text, 'tarmac.yaml', { dryRun: true });
 * console.log(formatChanges(result.changes));
 */
export { ApplyResult, Change, FieldChange, WorkspaceFile } from './workspace.schema.js';
export { formatChanges, WorkspaceService, type DatasetDeclarer, type FileReader, type WorkspaceGates } from './workspace.service.js';
export { capability } from './capability.js';

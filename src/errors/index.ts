/**
 * Tarmac's one error class and its closed set of stable error codes.
 *
 * Every failure that reaches a caller is a {@link TarmacError}; the HTTP layer maps its code to a status
 * with {@link HTTP_STATUS}, which must name every code (a missing mapping does not compile).
 *
 * @example
 * throw new TarmacError('not_found', `team ${id} does not exist`, { id });
 */
import type { ZodType } from 'zod';
import type { TextProblem } from './text.js';

export { findTextProblem, MAX_NESTING_DEPTH, type TextProblem } from './text.js';

export const ERROR_CODES = [
  'bad_request',
  'invalid_json',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
  'config_invalid',
  'unauthorized',
  'forbidden',
  'not_found',
  'route_not_found',
  'conflict',
  'prompt_variables_invalid',
  'not_in_rollout',
  'use_case_paused',
  'use_case_retired',
  'review_conflict',
  'gate_failed',
  'run_cancelled',
  'database_locked',
  'not_ready',
  'model_not_found',
  'model_capability_unsupported',
  'egress_denied',
  'budget_exceeded',
  'rate_limited',
  'upstream_rejected',
  'upstream_error',
  'upstream_timeout',
  'internal_error',
  'document_too_large',
  'document_unparseable',
  'source_unavailable',
  'source_stale',
  'required_field_missing',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** HTTP status for each code. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 400,
  config_invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  conflict: 409,
  prompt_variables_invalid: 400,
  not_in_rollout: 403,
  use_case_paused: 503,
  use_case_retired: 410,
  review_conflict: 409,
  gate_failed: 409,
  run_cancelled: 499,
  database_locked: 503,
  not_ready: 503,
  model_not_found: 404,
  model_capability_unsupported: 400,
  egress_denied: 403,
  budget_exceeded: 429,
  rate_limited: 429,
  upstream_rejected: 400,
  upstream_error: 502,
  upstream_timeout: 504,
  internal_error: 500,
  document_too_large: 413,
  document_unparseable: 422,
  source_unavailable: 502,
  source_stale: 409,
  required_field_missing: 422,
};

export class TarmacError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  /** `cause`: the error this one converts, kept for logs and debugging (never sent to clients). */
  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TarmacError';
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return {
      error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) },
    };
  }
}

export function isTarmacError(value: unknown): value is TarmacError {
  return value instanceof TarmacError;
}

/** One failed field of a validated input. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Renders a zod issue path (`['members', 0, 'role']`) as `members[0].role`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * Validates `value` against `schema`; on failure throws `validation_failed` listing every field path.
 *
 * @example
 * const body = parseInput(CreateTeamBody, request.body, 'body');
 */
export function parseInput<T>(schema: ZodType<T>, value: unknown, where = 'input'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) issues.push({ path: formatPath([...issue.path, key]), message: 'unknown field' });
    } else {
      issues.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  const summary = issues.map((i) => `${i.path || where}: ${i.message}`).join('; ');
  throw new TarmacError('validation_failed', `invalid ${where}: ${summary}`, { issues });
}

/**
 * The error for a value Tarmac does not accept as text (see {@link findTextProblem}): `validation_failed`
 * naming the field, or `code` instead (a JSON body's prototype keys are `invalid_json`).
 *
 * @example
 * const problem = findTextProblem(request.query);
 * if (problem) throw textProblemError(problem, 'query string');
 */
export function textProblemError(problem: TextProblem, where: string, code: ErrorCode = 'validation_failed'): TarmacError {
  const path = formatPath(problem.path);
  return new TarmacError(code, `invalid ${where}: ${path || where}: ${problem.message}`, { issues: [{ path, message: problem.message }] });
}

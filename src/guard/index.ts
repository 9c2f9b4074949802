/**
 * Guard: checks on what goes to a model and what comes back. Today: detection of personal data and its
 * redaction or pseudonymisation with restoration in the answer.
 *
 * @example
 * const p = new Pseudonymiser('pseudonymise');
 * const safe = p.apply('Write to jane@example.com'); // 'Write to <EMAIL_1>'
 */
export { detectPii, PII_TYPES, Pseudonymiser, StreamRestorer, type PiiMatch, type PiiType } from './pii.js';

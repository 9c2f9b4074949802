/**
 * Guard: checks on what goes to a model and what comes back: detection of personal data with its redaction or
 * pseudonymisation (restored in the answer), and groundedness of an answer against its context, offline,
 * claim by claim.
 *
 * @example
 * const p = new Pseudonymiser('pseudonymise');
 * const safe = p.apply('Write to jane@example.com'); // 'Write to <EMAIL_1>'
 * const g = checkGroundedness(answer, passages);
 */
export { checkGroundedness, DEFAULT_CLAIM_THRESHOLD, type ClaimCheck, type ContextPassage, type GroundednessResult, type SupportSpan } from './groundedness.js';
export { detectPii, PII_TYPES, Pseudonymiser, StreamRestorer, type PiiMatch, type PiiType } from './pii.js';
export { checkRelevance, DEFAULT_RELEVANCE_THRESHOLD, type RelevanceResult } from './relevance.js';
export { boundedTokenizer, contentTerms, numbers, sentences, TOKEN_PIECE_CHARS } from './text.js';
export { injectionMarkers } from './injection.js';
export { judgeMessages, parseJudgeVerdict, type JudgeVerdict } from './judge.js';

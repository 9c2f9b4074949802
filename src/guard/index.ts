/**
 * Guard: checks on what goes to a model and what comes back. Groundedness checks an answer against its
 * context, offline, claim by claim.
 *
 * @example
 * const g = checkGroundedness(answer, passages);
 * if (g.score < posture.deliverThreshold) holdForReview(g.unsupported);
 */
export { checkGroundedness, DEFAULT_CLAIM_THRESHOLD, type ClaimCheck, type ContextPassage, type GroundednessResult, type SupportSpan } from './groundedness.js';
export { contentTerms, numbers, sentences } from './text.js';

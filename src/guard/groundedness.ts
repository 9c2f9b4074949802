import { claimFeatures, prepareContext, type ContextPassage } from './groundedness.features.js';
import { GROUNDEDNESS_BASE, GROUNDEDNESS_TREES, TRAINED_THRESHOLD, type GroundednessTree } from './groundedness.weights.js';
import { sentences } from './text.js';

export type { ContextPassage } from './groundedness.features.js';

/** Where a claim's best support was found. */
export interface SupportSpan {
  passageId: string;
  start: number;
  end: number;
  text: string;
}

export interface ClaimCheck {
  text: string;
  /** Offsets of the claim in the answer. */
  start: number;
  end: number;
  /** 0…1: the learned probability that the context supports the claim (from how much of it the best span and passage cover, rare words weighing more, and its numbers and names). */
  score: number;
  supported: boolean;
  support: SupportSpan | null;
  /** Numbers and names of the claim that its best span does not contain. */
  missing: string[];
}

export interface GroundednessResult {
  /** Share of claims that are supported (1 when the answer makes no claim). */
  score: number;
  /** Mean claim score: a continuous measure for ranking answers. */
  support: number;
  claims: ClaimCheck[];
  unsupported: ClaimCheck[];
  threshold: number;
}

/**
 * Claim score at or above which a claim counts as supported (when none of its numbers or names is missing): the
 * probability that balances accuracy on the training claims.
 */
export const DEFAULT_CLAIM_THRESHOLD = TRAINED_THRESHOLD;

/** The learned probability that a claim is grounded in the context, from its features: the trees' log-odds summed. */
function claimProbability(values: number[]): number {
  let z = GROUNDEDNESS_BASE;
  for (const tree of GROUNDEDNESS_TREES) z += leaf(tree, values);
  return 1 / (1 + Math.exp(-z));
}

function leaf(tree: GroundednessTree, values: number[]): number {
  let node = tree;
  while (typeof node !== 'number') node = (values[node[0]] ?? 0) <= node[1] ? node[2] : node[3];
  return node;
}

const CITATION = /\s*\[(?:\d+|[A-Za-z0-9_:-]+)(?:\s*,\s*(?:\d+|[A-Za-z0-9_:-]+))*\]/g;

/**
 * Checks an answer against its context, offline: the answer is split into claims (sentences); each claim is
 * matched to its best supporting span of the context (a sentence or two neighbouring sentences); its lexical
 * features (coverage of its words by that span and by the passage, rare words weighing more, shared word pairs,
 * numbers and names) are combined by decision trees learned on SciFact train claims into a probability of support. A
 * claim is supported when that probability reaches the threshold and the span holds all its numbers and names.
 * The score is the share of supported claims; unsupported claims are listed. Lexical, so it cannot tell a claim
 * from its contradiction when both use the same words.
 *
 * @example
 * const g = checkGroundedness('Roofs older than 20 years need an inspection [1].', [{ id: 'c1', text: guideline }]);
 * g.score; // 1 when every claim is supported
 */
export function checkGroundedness(answer: string, passages: ContextPassage[], options: { threshold?: number } = {}): GroundednessResult {
  const threshold = options.threshold ?? DEFAULT_CLAIM_THRESHOLD;
  const context = prepareContext(passages);
  const claims: ClaimCheck[] = [];
  for (const sentence of sentences(answer)) {
    const features = claimFeatures(sentence.text.replace(CITATION, ''), context);
    if (!features) continue; // headings, "Sources:", fragments: nothing to check
    const score = features.best ? claimProbability(features.values) : 0;
    const best = features.best;
    claims.push({
      text: sentence.text,
      start: sentence.start,
      end: sentence.end,
      score: Math.round(score * 1000) / 1000,
      supported: best !== null && score >= threshold && features.missing.length === 0,
      support: best ? { passageId: best.passageId, start: best.start, end: best.end, text: best.text } : null,
      missing: features.missing,
    });
  }
  const supported = claims.filter((c) => c.supported).length;
  return {
    score: claims.length === 0 ? 1 : supported / claims.length,
    support: claims.length === 0 ? 1 : claims.reduce((sum, c) => sum + c.score, 0) / claims.length,
    claims,
    unsupported: claims.filter((c) => !c.supported),
    threshold,
  };
}

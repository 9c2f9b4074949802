import { describe, expect, it } from 'vitest';
import { RiskPosture } from '../usecases/index.js';
import { decide, type DecisionInput } from './index.js';

const posture = RiskPosture.parse({ deliverThreshold: 0.6, relevanceThreshold: 0.5, reviewSampleRate: 0.1 });
const manifest = { query: 'q', as: 'user:a', assembledAt: '', tokenBudget: 1, tokensUsed: 1, chunks: [], lookups: [], rules: [], flagged: false, warnings: [] };
const input = (over: Partial<DecisionInput> = {}): DecisionInput => ({
  reasons: [],
  piiInAnswer: false,
  piiTypes: [],
  scored: { score: 0.9, by: 'offline' },
  relevance: { score: 0.9, contextScore: 0.9, missing: [] },
  manifest,
  judge: null,
  judgeHolds: false,
  draw: () => 0.5,
  ...over,
});

describe('the decision of a run', () => {
  it('delivers what passes every check, and samples by the draw', () => {
    expect(decide(posture, input())).toEqual({ decision: 'delivered', reasons: [] });
    expect(decide(posture, input({ draw: () => 0.05 }))).toEqual({ decision: 'delivered', reasons: [{ code: 'sampled_for_review', message: 'sampled_for_review' }] });
  });

  it('blocks personal data the policy forbids, before any other check', () => {
    expect(decide(posture, input({ piiInAnswer: true, piiTypes: ['EMAIL'], scored: { score: 0, by: 'offline' } }))).toEqual({ decision: 'blocked', reasons: [{ code: 'pii_in_answer', message: 'pii_in_answer: EMAIL' }] });
  });

  it('holds what falls under a threshold, with every reason, and flags when the posture says so', () => {
    const low = input({ scored: { score: 0.3, by: 'judge' }, relevance: { score: 0.2, contextScore: 0.2, missing: ['spaceships'] } });
    expect(decide(posture, low)).toEqual({
      decision: 'held_for_review',
      reasons: [
        { code: 'groundedness_below_threshold', message: 'groundedness 0.30 below 0.6 (judge)' },
        { code: 'answer_not_relevant', message: 'answer_not_relevant: relevance 0.20 below 0.5 (not addressed: spaceships)' },
      ],
    });
    expect(decide({ ...posture, belowThreshold: 'flagged' }, low).decision).toBe('flagged');
  });

  it('holds on a failed judge when the posture holds on failure, even if it would flag', () => {
    const failed = input({ judge: { model: 'j', score: null, unsupported: [], error: 'judge_malformed: x', costUsd: 0, gatewayRunId: null }, judgeHolds: true });
    expect(decide({ ...posture, belowThreshold: 'flagged' }, failed)).toEqual({ decision: 'held_for_review', reasons: [{ code: 'judge_failed', message: 'judge_failed: judge_malformed: x' }] });
  });

  it('flags context fallbacks that asked for it', () => {
    const flagged = { ...manifest, flagged: true, rules: [{ rule: 'stale_source', detail: 'source kb is past its freshness SLA', action: 'proceed_flagged' as const }] };
    expect(decide(posture, input({ manifest: flagged }))).toEqual({ decision: 'held_for_review', reasons: [{ code: 'context_flagged', message: 'context_flagged: source kb is past its freshness SLA' }] });
  });
});

import { z } from 'zod';

/**
 * Why a run was blocked, held, flagged or sampled: a closed set, documented in docs/use-cases.md (a test
 * checks both agree). Code branches on these and measurement counts them; the message is for people.
 */
export const REASON_CODES = [
  'prompt_injection',
  'egress_denied',
  'pii_in_answer',
  'groundedness_below_threshold',
  'answer_not_relevant',
  'context_flagged',
  'judge_failed',
  'sampled_for_review',
  'review_rejected',
  'review_timed_out',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** One reason of a run's decision: its code, and a readable message with the particulars. */
export const Reason = z.object({
  code: z.enum(REASON_CODES),
  message: z.string().describe('What happened, for people: scores, thresholds, the rule or the words concerned'),
});
export type Reason = z.output<typeof Reason>;

/** A reason with its message. */
export const reason = (code: ReasonCode, message: string): Reason => ({ code, message });

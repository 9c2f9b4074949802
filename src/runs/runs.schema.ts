import { z } from 'zod';
import { ContextManifest } from '../retrieval/index.js';
import { RunReview } from '../review/index.js';
import { Reason } from './reasons.js';

export const DECISIONS = ['delivered', 'flagged', 'held_for_review', 'blocked'] as const;
export type Decision = (typeof DECISIONS)[number];
export const RUN_STATUSES = ['completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** What became of an answer, as `POST /api/v1/runs/:id/outcome` records it. */
export const OUTCOMES = ['accepted', 'edited', 'overridden', 'abandoned'] as const;

export const Citation = z.object({
  ref: z.number(),
  kind: z.enum(['chunk', 'record']).describe('A retrieved chunk, or a looked-up record'),
  chunkId: z.number().nullable().describe('Null for a record'),
  documentId: z.string().describe("The chunk's document, or the record's entity key"),
  title: z.string(),
  source: z.string(),
  quote: z.string(),
});
export type Citation = z.output<typeof Citation>;

/** What the caller of a run gets back. */
export const RunResult = z.object({
  runId: z.string(),
  useCase: z.string(),
  status: z.enum(RUN_STATUSES),
  decision: z.enum(DECISIONS).nullable(),
  reasons: z.array(Reason),
  answer: z.string().nullable().describe('Null while held for review, and when blocked'),
  citations: z.array(Citation),
  groundedness: z
    .object({
      score: z.number().describe("The score held against the threshold: the offline score, the judge's, or the lower of the two, as the posture's judge.decides says (decidedBy)"),
      threshold: z.number(),
      unsupported: z.array(z.object({ text: z.string(), missing: z.array(z.string()) })),
      offlineScore: z.number(),
      decidedBy: z.enum(['offline', 'judge']),
      judge: z.object({ model: z.string(), score: z.number().nullable(), error: z.string().nullable() }).nullable().describe('Null when the posture names no judge'),
    })
    .nullable(),
  relevance: z
    .object({
      score: z.number().describe('The share of the question the answer and its supporting passages address, held against the threshold'),
      threshold: z.number(),
      contextScore: z.number().describe('The same share for the passage that holds the most of the question'),
      missing: z.array(z.string()).describe("The question's words left unaddressed (withheld with the answer)"),
    })
    .nullable(),
  costUsd: z.number(),
  latencyMs: z.number(),
  error: z.string().nullable(),
});
export type RunResult = z.output<typeof RunResult>;

/** A run as listed: its result, whose it is and when it ran. */
export const ListedRun = RunResult.extend({ userId: z.string().nullable(), createdAt: z.string() });
export type ListedRun = z.output<typeof ListedRun>;

/** One run with spans, context manifest, scores, decision, feedback, outcome and review. */
export const RunRecord = RunResult.extend({
  teamId: z.string(),
  userId: z.string().nullable(),
  keyId: z.string().nullable(),
  input: z.string(),
  variables: z.record(z.string(), z.string()),
  manifest: ContextManifest.nullable(),
  spans: z.array(z.object({ name: z.string(), ms: z.number() })),
  prompt: z.string().nullable(),
  promptVersion: z.number().nullable(),
  route: z.string().nullable(),
  model: z.string().nullable(),
  gatewayRunId: z.string().nullable(),
  tokens: z.object({ input: z.number(), output: z.number() }),
  createdAt: z.string(),
  feedback: z.array(z.object({ userId: z.string().nullable(), rating: z.number().nullable(), comment: z.string().nullable(), correction: z.string().nullable(), at: z.string() })),
  outcome: z.object({ outcome: z.string(), timeSpentSeconds: z.number().nullable(), recordedBy: z.string().nullable(), at: z.string() }).nullable(),
  review: RunReview.nullable().describe("The run's review task (held, or sampled), null when it had none"),
});
export type RunRecord = z.output<typeof RunRecord>;

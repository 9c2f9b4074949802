import { z } from 'zod';
import { EVAL_METRIC_CODES, type EvalMetric } from '../metrics/index.js';

/** One check on a trial's answer; a trial passes when every assertion of its case passes. */
export const Assertion = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('exact_match'), value: z.string().max(100_000).optional().describe('Default: the expected answer'), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('contains'), value: z.string().min(1).max(10_000), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('not_contains'), value: z.string().min(1).max(10_000), ignoreCase: z.boolean().default(true) }),
  z.strictObject({ type: z.literal('regex'), pattern: z.string().min(1).max(1000), flags: z.string().regex(/^[imsu]*$/).default('') }),
  z.strictObject({ type: z.literal('json_valid') }),
  z.strictObject({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('numeric'), value: z.number(), tolerance: z.number().min(0).default(0) }),
  z.strictObject({ type: z.literal('refusal'), expected: z.boolean().default(true).describe('true: the answer must decline; false: it must not') }),
  z.strictObject({ type: z.literal('f1'), min: z.number().min(0).max(1) }),
  z.strictObject({ type: z.literal('groundedness'), min: z.number().min(0).max(1) }),
  z.strictObject({ type: z.literal('decision'), value: z.enum(['delivered', 'held_for_review', 'blocked']) }),
]);
export type Assertion = z.output<typeof Assertion>;
export const ASSERTION_TYPES = Assertion.options.map((o) => o.shape.type.value);

/** One labelled case of a dataset. */
export const EvalCase = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'letters, digits and . _ : / -, at most 200')
    .optional()
    .describe('Stable id across versions (default: derived from the input and variables)'),
  input: z.string().min(1).max(100_000),
  variables: z.record(z.string(), z.string().max(100_000)).default({}),
  expected: z.string().max(100_000).optional().describe('The expected answer'),
  expectedDocuments: z.array(z.string().min(1).max(1000)).max(1000).default([]).describe('Documents retrieval should find: document id or source/document id'),
  assertions: z.array(Assertion).max(50).default([]),
  tags: z.array(z.string().min(1).max(100)).max(50).default([]),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional().describe('A fixed model seed for every trial (default: a different seed per trial)'),
  origin: z
    .strictObject({
      kind: z.enum(['import', 'api', 'run', 'config']),
      runId: z.string().max(100).optional(),
      note: z.string().max(2000).optional(),
    })
    .optional()
    .describe('Where the case came from'),
});
export type EvalCaseInput = z.input<typeof EvalCase>;
export type EvalCase = z.output<typeof EvalCase> & { id: string };

export const DatasetName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

export const DatasetSpec = z.strictObject({
  name: DatasetName,
  team: z.string().min(1).max(200).describe('Owning team (name)'),
  description: z.string().max(2000).default(''),
});

/** A dataset as `tarmac.yaml` declares it: its cases are a JSONL file beside the configuration. */
export const DatasetDeclaration = DatasetSpec.extend({ file: z.string().min(1).max(1000).describe('JSONL file of cases, relative to tarmac.yaml') });

/** What an eval run evaluates: a use case's configuration, each part defaulting to what the use case runs now. */
export const EvalConfig = z.strictObject({
  promptVersion: z.number().int().min(1).optional().describe('Prompt version (default: the version the use case\'s label points to)'),
  route: z.string().min(1).max(200).optional().describe('Model route (default: the use case\'s)'),
  context: z.record(z.string(), z.unknown()).optional().describe('Context recipe (default: the use case\'s)'),
  as: z.string().min(3).max(320).optional().describe('The evaluation user whose access assembles the context (default: the caller; another user needs act_as)'),
});
export type EvalConfig = z.output<typeof EvalConfig>;

export const EvalRunInput = z.strictObject({
  useCase: z.string().min(1).max(100),
  dataset: z.string().min(1).max(100),
  datasetVersion: z.number().int().min(1).optional().describe('Default: the current version'),
  config: EvalConfig.default({}),
  trials: z.number().int().min(1).max(50).default(3),
  concurrency: z.number().int().min(1).max(32).default(4),
  judge: z
    .strictObject({ model: z.string().min(1).max(200), rubric: z.string().min(1).max(10_000) })
    .optional()
    .describe('An LLM judge scoring each answer against a rubric, through the gateway'),
});
export type EvalRunInput = z.output<typeof EvalRunInput>;

export const EVAL_STATUSES = ['queued', 'running', 'cancelling', 'cancelled', 'completed', 'failed'] as const;
export type EvalStatus = (typeof EVAL_STATUSES)[number];

export const VERDICTS = ['improved', 'regressed', 'no_detectable_change', 'not_available'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const GATE_RESULTS = ['pass', 'fail', 'inconclusive'] as const;
export type GateResult = (typeof GATE_RESULTS)[number];

export const MetricCode = z.enum(EVAL_METRIC_CODES as [EvalMetric, ...EvalMetric[]]);

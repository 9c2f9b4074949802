import { z } from 'zod';

/** An audit entry as the API shows it. */
export const AuditEntry = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.object({ type: z.string(), id: z.string(), userId: z.string().nullable() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string() }),
  teamId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.output<typeof AuditEntry>;

export const AuditCheckpoint = z.object({ seq: z.number(), hash: z.string(), signedAt: z.string(), keyId: z.string(), signature: z.string() });
export type AuditCheckpoint = z.output<typeof AuditCheckpoint>;

/** The result of checking the whole chain. */
export const VerifyResult = z.object({
  ok: z.boolean(),
  entries: z.number(),
  headSeq: z.number(),
  headHash: z.string(),
  checkpoints: z.number(),
  firstBrokenSeq: z.number().nullable().describe('First sequence number at which the chain is broken; null when intact'),
  problem: z.string().nullable(),
  warning: z.string().nullable().describe("Set when the installation's recorded public key differs from this process's signing key"),
  durationMs: z.number(),
});
export type VerifyResult = z.output<typeof VerifyResult>;

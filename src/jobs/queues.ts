import { z } from 'zod';

/** Every background queue and the schema of its payload. Workers and senders share these. */
export const QUEUES = {
  /** Sign audit checkpoints: those due every N entries (`interval`), plus one at the head (`schedule`, hourly). */
  'audit-checkpoint': z.strictObject({ reason: z.enum(['interval', 'schedule']) }),
  /** Queue a sync of every source whose schedule fired since its last sync (every minute). */
  'source-sync-tick': z.strictObject({ reason: z.enum(['schedule']) }),
  /** Sync one source by name. */
  /** Move overdue review tasks one escalation step, or apply their timeout action (every minute). */
  'review-escalation': z.strictObject({ reason: z.enum(['schedule']) }),
  /** Delete gateway traces older than the policy's retention.traceDays, in batches (daily). */
  'gateway-trace-retention': z.strictObject({ reason: z.enum(['schedule']) }),
  'source-sync': z.strictObject({ source: z.string().min(1), reason: z.enum(['schedule', 'manual', 'seed']) }),
  /** Start the scheduled eval runs whose use case's schedule fired (every minute). */
  'eval-schedule-tick': z.strictObject({ reason: z.enum(['schedule']) }),
  /** Test each use case's production signals, last day against the 14 before, and alert on a shift (daily). */
  'eval-monitor-tick': z.strictObject({ reason: z.enum(['schedule']) }),
  /** Execute (or resume) one eval run. */
  'eval-run': z.strictObject({ evalRun: z.string().min(1) }),
} as const;

export type QueueName = keyof typeof QUEUES;
export type QueuePayload<Q extends QueueName> = z.output<(typeof QUEUES)[Q]>;

import { z } from 'zod';

/** Every background queue and the schema of its payload. Workers and senders share these. */
export const QUEUES = {
  /** Sign audit checkpoints that are due (every N entries, on a schedule, or on demand). */
  'audit-checkpoint': z.strictObject({ reason: z.enum(['interval', 'schedule', 'manual']) }),
} as const;

export type QueueName = keyof typeof QUEUES;
export type QueuePayload<Q extends QueueName> = z.output<(typeof QUEUES)[Q]>;

import type { AuditContext } from '../access/index.js';
import type { AuditLog } from '../audit/index.js';

/** What one retention pass removed. */
export interface TraceRetentionResult {
  /** Days kept, from the gateway policy's `retention.traceDays`; null means traces are kept forever. */
  traceDays: number | null;
  /** Traces recorded before this instant were deleted; null when nothing is enforced. */
  before: string | null;
  deleted: number;
  batches: number;
}

export interface TraceRetentionOptions {
  traceDays: number | null;
  /** Policy the rule comes from (named in the audit entry). */
  policy: string;
  now?: Date;
  /** Traces per delete statement: each batch is its own short transaction, so requests never wait long. */
  batchSize?: number;
}

// Oldest first through the `at` index, so a batch touches one contiguous range.
const DELETE_BATCH = 'delete from gateway_traces where id in (select id from gateway_traces where at < $1 order by at limit $2)';

/**
 * Deletes gateway traces older than the policy's `retention.traceDays`, in bounded batches; each batch and
 * its audit entry (`gateway.traces_deleted`, with the count and the cut-off) commit together.
 *
 * @example
 * await pruneGatewayTraces(audit, { actor: systemActor('scheduler') }, { traceDays: 90, policy: 'default' });
 */
export async function pruneGatewayTraces(audit: AuditLog, ctx: AuditContext, options: TraceRetentionOptions): Promise<TraceRetentionResult> {
  const { traceDays } = options;
  if (traceDays === null) return { traceDays, before: null, deleted: 0, batches: 0 };
  const batchSize = options.batchSize ?? 5000;
  const before = new Date((options.now ?? new Date()).getTime() - traceDays * 86_400_000).toISOString();
  let deleted = 0;
  let batches = 0;
  for (;;) {
    const count = await audit.transaction(ctx, async (tx, record) => {
      const n = (await tx.query(DELETE_BATCH, [before, batchSize])).rowCount;
      if (n > 0) {
        await record({ action: 'gateway.traces_deleted', targetType: 'policy', targetId: options.policy, after: { traceDays, before, deleted: n } });
      }
      return n;
    });
    deleted += count;
    if (count > 0) batches++;
    if (count < batchSize) return { traceDays, before, deleted, batches };
  }
}

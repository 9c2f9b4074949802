// For tests that forge entries: the hash of a raw audit_entries row, as Tarmac computes it.
import { entryHash } from '../../src/audit/chain.js';

export function entryHashForRow(row: Record<string, unknown>): string {
  return entryHash({
    seq: row.seq as number,
    at: (row.at as Date).toISOString(),
    actorType: row.actor_type as string,
    actorId: row.actor_id as string,
    actorUserId: (row.actor_user_id as string | null) ?? null,
    action: row.action as string,
    targetType: row.target_type as string,
    targetId: row.target_id as string,
    teamId: (row.team_id as string | null) ?? null,
    before: row.before ?? null,
    after: row.after ?? null,
    requestId: (row.request_id as string | null) ?? null,
    prevHash: row.prev_hash as string,
  });
}

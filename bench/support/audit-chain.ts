// Fills an empty audit log fast with a genuine chain: rows are hashed and linked exactly as AuditLog.append does
// (src/audit/chain.ts), then inserted a few thousand per statement instead of one transaction per entry.
import { entryHash, GENESIS_HASH, jsonValue } from '../../src/audit/chain.js';
import type { Database } from '../../src/db/index.js';

const BATCH = 2000;
const ACTOR_TYPES = ['user', 'key', 'system'] as const;

interface FillRow {
  seq: number;
  at: string;
  actor_type: string;
  actor_id: string;
  actor_user_id: string | null;
  action: string;
  target_type: string;
  target_id: string;
  team_id: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  prev_hash: string;
  hash: string;
}

const INSERT = `insert into audit_entries (seq, at, actor_type, actor_id, actor_user_id, action, target_type, target_id, team_id,
    before, after, request_id, prev_hash, hash)
  select seq, at, actor_type, actor_id, actor_user_id, action, target_type, target_id, team_id,
    before, after, request_id, prev_hash, hash
  from jsonb_to_recordset($1::text::jsonb) as x(seq bigint, at timestamptz, actor_type text, actor_id text,
    actor_user_id text, action text, target_type text, target_id text, team_id text, before jsonb, after jsonb,
    request_id text, prev_hash text, hash text)`;

/** Appends `count` chained entries to an empty audit log; returns the head hash. */
export async function fillAuditChain(db: Database, count: number): Promise<string> {
  const { rows } = await db.query<{ n: number }>('select count(*)::int as n from audit_entries');
  if ((rows[0]?.n ?? 0) !== 0) throw new Error('fillAuditChain needs an empty audit log');
  let prevHash = GENESIS_HASH;
  const start = Date.UTC(2025, 0, 1);
  for (let first = 1; first <= count; first += BATCH) {
    const batch: FillRow[] = [];
    for (let seq = first; seq < first + BATCH && seq <= count; seq++) {
      const actorType = ACTOR_TYPES[seq % 3]!;
      const team = seq % 7 === 0 ? null : `team_${seq % 11}`;
      const row: FillRow = {
        seq,
        // Millisecond steps: timestamptz keeps them exactly, so the hash survives the round trip.
        at: new Date(start + seq * 37).toISOString(),
        actor_type: actorType,
        actor_id: `${actorType}_${seq % 13}`,
        actor_user_id: actorType === 'key' ? `user_${seq % 5}` : null,
        action: seq % 2 === 0 ? 'team.updated' : 'policy.updated',
        target_type: seq % 2 === 0 ? 'team' : 'policy',
        target_id: `target_${seq % 101}`,
        team_id: team,
        before: seq % 4 === 0 ? null : jsonValue({ name: `before ${seq}`, limits: { daily: seq % 100, tags: ['a', 'b'] } }),
        after: jsonValue({ name: `after ${seq}`, limits: { daily: (seq % 100) + 1, tags: ['a', 'b', 'c'] }, ratio: 0.25 }),
        request_id: seq % 5 === 0 ? null : `req_${seq}`,
        prev_hash: prevHash,
        hash: '',
      };
      row.hash = entryHash({
        seq: row.seq,
        at: row.at,
        actorType: row.actor_type,
        actorId: row.actor_id,
        actorUserId: row.actor_user_id,
        action: row.action,
        targetType: row.target_type,
        targetId: row.target_id,
        teamId: row.team_id,
        before: row.before,
        after: row.after,
        requestId: row.request_id,
        prevHash: row.prev_hash,
      });
      prevHash = row.hash;
      batch.push(row);
    }
    await db.query(INSERT, [JSON.stringify(batch)]);
  }
  return prevHash;
}

import { insertStatement, LOCK_KEYS, type Queryable } from '../db/index.js';

/** An audit entry as stored. */
export interface AuditEntryRow {
  seq: number;
  at: Date;
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

export interface CheckpointRow {
  seq: number;
  hash: string;
  signed_at: Date;
  key_id: string;
  public_key: string;
  signature: string;
}

// One constant for every Tarmac process: appends take turns on it, so the chain stays linear.
const CHAIN_LOCK_KEY = LOCK_KEYS.auditChain;

/** Takes the chain lock (held until the transaction ends) and reads the head, in one round trip. */
export async function lockChainAndReadHead(tx: Queryable): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await tx.exec(
    `select pg_advisory_xact_lock(${CHAIN_LOCK_KEY}); select seq, hash from audit_entries order by seq desc limit 1`,
  );
  const row = rows[0] as { seq: number; hash: string } | undefined;
  return row ? { seq: Number(row.seq), hash: row.hash } : null;
}

export async function head(q: Queryable): Promise<{ seq: number; hash: string } | null> {
  const { rows } = await q.query<{ seq: number; hash: string }>('select seq, hash from audit_entries order by seq desc limit 1');
  return rows[0] ?? null;
}

const ENTRY_COLUMNS = [
  'seq', 'at', 'actor_type', 'actor_id', 'actor_user_id', 'action', 'target_type', 'target_id', 'team_id',
  'before', 'after', 'request_id', 'prev_hash', 'hash',
] as const;
// Stays well under PostgreSQL's 65,535 parameters per statement.
const ROWS_PER_INSERT = 1000;

export async function insertEntries(tx: Queryable, rows: AuditEntryRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const batch = rows.slice(i, i + ROWS_PER_INSERT);
    const params = batch.flatMap((row) => [
      row.seq,
      row.at,
      row.actor_type,
      row.actor_id,
      row.actor_user_id,
      row.action,
      row.target_type,
      row.target_id,
      row.team_id,
      row.before === null ? null : JSON.stringify(row.before),
      row.after === null ? null : JSON.stringify(row.after),
      row.request_id,
      row.prev_hash,
      row.hash,
    ]);
    await tx.query(insertStatement('audit_entries', ENTRY_COLUMNS, batch.length), params);
  }
}

export interface EntryFilter {
  action?: string | undefined;
  actorId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  teamIds?: string[] | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Entries with seq below this (newest first paging). */
  beforeSeq?: number | undefined;
  limit: number;
}

export async function listEntries(q: Queryable, f: EntryFilter): Promise<AuditEntryRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replaceAll('?', `$${params.length}`));
  };
  if (f.action) add(f.action.endsWith('*') ? 'action like ?' : 'action = ?', f.action.endsWith('*') ? `${f.action.slice(0, -1)}%` : f.action);
  if (f.actorId) add('(actor_id = ? or actor_user_id = ?)', f.actorId);
  if (f.targetType) add('target_type = ?', f.targetType);
  if (f.targetId) add('target_id = ?', f.targetId);
  if (f.teamIds) add('team_id = any(?)', f.teamIds);
  if (f.since) add('at >= ?', f.since);
  if (f.until) add('at < ?', f.until);
  if (f.beforeSeq !== undefined) add('seq < ?', f.beforeSeq);
  params.push(f.limit);
  const sql = `select * from audit_entries ${where.length ? `where ${where.join(' and ')}` : ''} order by seq desc limit $${params.length}`;
  return (await q.query<AuditEntryRow>(sql, params)).rows;
}

/** Entries in chain order after `afterSeq` (verification pages through the whole log with this). */
export async function entriesAfter(q: Queryable, afterSeq: number, limit: number): Promise<AuditEntryRow[]> {
  return (await q.query<AuditEntryRow>('select * from audit_entries where seq > $1 order by seq limit $2', [afterSeq, limit])).rows;
}

export async function entryAt(q: Queryable, seq: number): Promise<AuditEntryRow | null> {
  return (await q.query<AuditEntryRow>('select * from audit_entries where seq = $1', [seq])).rows[0] ?? null;
}

export async function checkpoints(q: Queryable): Promise<CheckpointRow[]> {
  return (await q.query<CheckpointRow>('select * from audit_checkpoints order by seq')).rows;
}

export async function lastCheckpointSeq(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ seq: number | null }>('select max(seq) as seq from audit_checkpoints');
  return rows[0]?.seq ?? 0;
}

export async function insertCheckpoint(q: Queryable, row: CheckpointRow): Promise<boolean> {
  const { rowCount } = await q.query(
    `insert into audit_checkpoints (seq, hash, signed_at, key_id, public_key, signature)
     values ($1, $2, $3, $4, $5, $6) on conflict (seq) do nothing`,
    [row.seq, row.hash, row.signed_at, row.key_id, row.public_key, row.signature],
  );
  return rowCount > 0;
}

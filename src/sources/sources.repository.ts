import type { Queryable } from '../db/index.js';
import type { AclMapping, ConnectorConfig, FieldRule, SyncCounts } from './sources.schema.js';

export interface SourceRow {
  id: string;
  name: string;
  team_id: string;
  connector: ConnectorConfig['type'];
  config: ConnectorConfig & { chunking?: { maxTokens: number; overlapTokens: number } };
  description: string;
  classification: 'public' | 'internal' | 'confidential' | 'restricted';
  freshness_sla_seconds: number | null;
  precedence: number;
  field_rules: FieldRule[];
  acl: AclMapping;
  schedule: string | null;
  last_sync_at: Date | null;
  last_success_at: Date | null;
  last_status: string | null;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
}


export interface SyncRunRow extends SyncCounts {
  id: string;
  source_id: string;
  trigger: string;
  status: 'running' | 'succeeded' | 'failed';
  started_at: Date;
  finished_at: Date | null;
  heartbeat_at: Date;
  owner: string;
  cursor: string | null;
  error: string | null;
}

/** A source by id or name. */
/** Which of these source references (names or ids) name no source. */
export async function missingSources(q: Queryable, refs: string[]): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const { rows } = await q.query<{ id: string; name: string }>('select id, name from sources where name = any($1) or id = any($1)', [refs]);
  const known = new Set(rows.flatMap((r) => [r.id, r.name]));
  return new Set(refs.filter((r) => !known.has(r)));
}

/** The document references (a document id, or source/document id) that name no indexed document. */
export async function missingDocuments(q: Queryable, refs: string[]): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const { rows } = await q.query<{ ref: string }>(
    `select r as ref from unnest($1::text[]) r
     where not exists (select 1 from documents d join sources s on s.id = d.source_id where d.status = 'indexed' and (d.doc_id = r or s.name || '/' || d.doc_id = r))`,
    [refs],
  );
  return new Set(rows.map((r) => r.ref));
}

export async function findSource(q: Queryable, ref: string): Promise<SourceRow | null> {
  const { rows } = await q.query<SourceRow>('select * from sources where id = $1 or name = $1', [ref]);
  return rows[0] ?? null;
}

export async function listSources(q: Queryable, teamIds?: string[]): Promise<SourceRow[]> {
  const { rows } = teamIds
    ? await q.query<SourceRow>('select * from sources where team_id = any($1::text[]) order by name', [teamIds])
    : await q.query<SourceRow>('select * from sources order by name');
  return rows;
}

export type SourceFields = Omit<SourceRow, 'created_at' | 'updated_at' | 'last_sync_at' | 'last_success_at' | 'last_status' | 'last_error'>;

export async function upsertSource(q: Queryable, s: SourceFields): Promise<SourceRow> {
  const { rows } = await q.query<SourceRow>(
    `insert into sources (id, name, team_id, connector, config, description, classification, freshness_sla_seconds, precedence, field_rules, acl, schedule)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (id) do update set name = excluded.name, team_id = excluded.team_id, connector = excluded.connector, config = excluded.config,
       description = excluded.description, classification = excluded.classification, freshness_sla_seconds = excluded.freshness_sla_seconds,
       precedence = excluded.precedence, field_rules = excluded.field_rules, acl = excluded.acl, schedule = excluded.schedule, updated_at = now()
     returning *`,
    [s.id, s.name, s.team_id, s.connector, JSON.stringify(s.config), s.description, s.classification, s.freshness_sla_seconds, s.precedence, JSON.stringify(s.field_rules), JSON.stringify(s.acl), s.schedule],
  );
  return rows[0]!;
}

export async function deleteSource(q: Queryable, id: string): Promise<void> {
  await q.query('delete from sources where id = $1', [id]);
}

export async function insertRun(q: Queryable, run: { id: string; sourceId: string; trigger: string; owner: string }): Promise<SyncRunRow> {
  const { rows } = await q.query<SyncRunRow>('insert into sync_runs (id, source_id, trigger, status, owner) values ($1, $2, $3, $4, $5) returning *', [
    run.id,
    run.sourceId,
    run.trigger,
    'running',
    run.owner,
  ]);
  return rows[0]!;
}

/** Adds to a run's counts and refreshes its heartbeat. */
export async function addRunCounts(q: Queryable, runId: string, c: Partial<Record<'seen' | 'added' | 'updated' | 'unchanged' | 'deleted' | 'failed' | 'quarantined', number>>): Promise<void> {
  await q.query(
    `update sync_runs set seen = seen + $2, added = added + $3, updated = updated + $4, unchanged = unchanged + $5,
       deleted = deleted + $6, failed = failed + $7, quarantined = quarantined + $8, heartbeat_at = now() where id = $1`,
    [runId, c.seen ?? 0, c.added ?? 0, c.updated ?? 0, c.unchanged ?? 0, c.deleted ?? 0, c.failed ?? 0, c.quarantined ?? 0],
  );
}

export async function finishRun(q: Queryable, runId: string, status: 'succeeded' | 'failed', error: string | null): Promise<SyncRunRow> {
  const { rows } = await q.query<SyncRunRow>('update sync_runs set status = $2, error = $3, finished_at = now() where id = $1 returning *', [runId, status, error]);
  const run = rows[0]!;
  await q.query(
    `update sources set last_sync_at = now(), last_status = $2, last_error = $3,
       last_success_at = case when $2 = 'succeeded' then $4::timestamptz else last_success_at end where id = $1`,
    [run.source_id, status, error, run.started_at.toISOString()],
  );
  return run;
}

export async function getRun(q: Queryable, runId: string): Promise<SyncRunRow | null> {
  const { rows } = await q.query<SyncRunRow>('select * from sync_runs where id = $1', [runId]);
  return rows[0] ?? null;
}

export async function lastRun(q: Queryable, sourceId: string): Promise<SyncRunRow | null> {
  const { rows } = await q.query<SyncRunRow>('select * from sync_runs where source_id = $1 order by started_at desc limit 1', [sourceId]);
  return rows[0] ?? null;
}

/** The newest run of a source that did not finish (its process died): a new sync resumes it. */
export async function unfinishedRun(q: Queryable, sourceId: string): Promise<SyncRunRow | null> {
  const { rows } = await q.query<SyncRunRow>("select * from sync_runs where source_id = $1 and status = 'running' order by started_at desc limit 1", [sourceId]);
  return rows[0] ?? null;
}

export async function getCursor(q: Queryable, sourceId: string): Promise<string | null> {
  const { rows } = await q.query<{ cursor: string }>('select cursor from source_cursors where source_id = $1', [sourceId]);
  return rows[0]?.cursor ?? null;
}

export async function setCursor(q: Queryable, sourceId: string, cursor: string): Promise<void> {
  await q.query(
    'insert into source_cursors (source_id, cursor) values ($1, $2) on conflict (source_id) do update set cursor = excluded.cursor, updated_at = now()',
    [sourceId, cursor],
  );
}

export async function putQuarantine(q: Queryable, sourceId: string, itemId: string, reason: string, payload: unknown): Promise<void> {
  await q.query(
    `insert into quarantine (source_id, item_id, reason, payload) values ($1, $2, $3, $4)
     on conflict (source_id, item_id) do update set reason = excluded.reason, payload = excluded.payload, at = now()`,
    [sourceId, itemId, reason, JSON.stringify(payload ?? null)],
  );
}

export async function clearQuarantine(q: Queryable, sourceId: string, itemIds: string[]): Promise<void> {
  if (itemIds.length === 0) return;
  await q.query('delete from quarantine where source_id = $1 and item_id = any($2::text[])', [sourceId, itemIds]);
}

export async function listQuarantine(q: Queryable, sourceId: string, limit: number): Promise<{ item_id: string; reason: string; payload: unknown; at: Date }[]> {
  const { rows } = await q.query<{ item_id: string; reason: string; payload: unknown; at: Date }>(
    'select item_id, reason, payload, at from quarantine where source_id = $1 order by item_id limit $2',
    [sourceId, limit],
  );
  return rows;
}

export async function upsertRecords(q: Queryable, sourceId: string, recs: { key: string; fields: Record<string, unknown>; hash: string; allowed: string[] }[]): Promise<void> {
  if (recs.length === 0) return;
  await q.query(
    `insert into records (source_id, record_key, fields, content_hash, allowed)
     select $1, x.key, x.fields, x.hash, x.allowed from jsonb_to_recordset($2::jsonb) as x(key text, fields jsonb, hash text, allowed text[])
     on conflict (source_id, record_key) do update set fields = excluded.fields, content_hash = excluded.content_hash, allowed = excluded.allowed, updated_at = now()`,
    [sourceId, JSON.stringify(recs)],
  );
}

export async function deleteRecords(q: Queryable, sourceId: string, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await q.query('delete from records where source_id = $1 and record_key = any($2::text[])', [sourceId, keys]);
}

export interface RecordVersion {
  source_id: string;
  source_name: string;
  precedence: number;
  classification: string;
  fields: Record<string, unknown>;
  updated_at: Date;
  last_success_at: Date | null;
  freshness_sla_seconds: number | null;
}

/**
 * Every source's record for an entity key that `principals` may read, highest precedence first (ties: newest
 * first). The access filter is in the query, so a record the caller may not read is never read at all.
 */
export async function recordVersions(q: Queryable, key: string, principals: string[], sourceIds?: string[]): Promise<RecordVersion[]> {
  const { rows } = await q.query<RecordVersion>(
    `select r.source_id, s.name as source_name, s.precedence, s.classification, r.fields, r.updated_at, s.last_success_at, s.freshness_sla_seconds
     from records r join sources s on s.id = r.source_id
     where r.record_key = $1 and r.allowed && $2::text[] and ($3::text[] is null or r.source_id = any($3::text[]))
     order by s.precedence desc, r.updated_at desc, s.name`,
    [key, principals, sourceIds ?? null],
  );
  return rows;
}

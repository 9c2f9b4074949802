import { randomBytes } from 'node:crypto';
import { hasTeamRole, requireAdmin, requireScope, requireTeamRole, type AuditContext, type Caller } from '../access/index.js';
import { canonicalJson, type AuditLog, type RecordAudit } from '../audit/index.js';
import { LOCK_KEYS, ReadCache, type Database, type Queryable } from '../db/index.js';
import { parseInput, TarmacError } from '../errors/index.js';
import { findTeam } from '../identity/index.js';
import { connectorFor } from './connectors.js';
import { documentCounts, getDocument } from './documents.repository.js';
import type { SourceDocument } from './ingest.js';
import * as repo from './sources.repository.js';
import { durationSeconds, SourceSpec, type EntityField, type FailedDocument, type PushedDocument, type PushResult, type QuarantinedItem, type Source, type SourceSpecInput, type SourceStatus, type SyncCounts, type SyncResult } from './sources.schema.js';
import { DocumentWriter } from './sync.service.js';



/** An entity assembled from every record source that has its key. */
export interface Entity {
  key: string;
  found: boolean;
  fields: Record<string, EntityField>;
  sources: { name: string; classification: string; precedence: number; stale: boolean; lagSeconds: number | null }[];
}



export function sourceView(row: repo.SourceRow): Source {
  return {
    id: row.id,
    name: row.name,
    teamId: row.team_id,
    description: row.description,
    connector: row.config,
    classification: row.classification,
    freshnessSlaSeconds: row.freshness_sla_seconds,
    precedence: row.precedence,
    fields: row.field_rules,
    acl: row.acl,
    schedule: row.schedule,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Lag, staleness: a source is stale when its last successful sync is older than its SLA (or never happened). */
export function freshnessOf(row: Pick<repo.SourceRow, 'last_success_at' | 'freshness_sla_seconds'>, now = Date.now()): { lagSeconds: number | null; stale: boolean } {
  const lagSeconds = row.last_success_at ? Math.max(0, Math.round((now - row.last_success_at.getTime()) / 1000)) : null;
  const stale = row.freshness_sla_seconds !== null && (lagSeconds === null || lagSeconds > row.freshness_sla_seconds);
  return { lagSeconds, stale };
}

/** Resolves a validated spec into the row it declares (the team must exist). */
export async function sourceFields(q: Queryable, spec: SourceSpec, id: string): Promise<repo.SourceFields> {
  const team = await findTeam(q, spec.team);
  if (!team) throw new TarmacError('not_found', `team ${spec.team} does not exist`, { team: spec.team });
  return {
    id,
    name: spec.name,
    team_id: team.id,
    connector: spec.connector.type,
    config: { ...spec.connector, chunking: spec.chunking },
    description: spec.description ?? '',
    classification: spec.classification,
    freshness_sla_seconds: spec.freshness === undefined ? null : durationSeconds(spec.freshness),
    precedence: spec.precedence,
    field_rules: spec.fields,
    acl: spec.acl,
    schedule: spec.schedule ?? null,
  };
}

/**
 * What applying `spec` would change: null when nothing, `unknown_team` when its team does not exist (and is not
 * about to be created), else the operation and the changed fields.
 */
export async function sourceDiff(q: Queryable, spec: SourceSpec, teamDeclared: boolean): Promise<null | 'unknown_team' | { op: 'create' | 'update'; fields: { path: string; from: unknown; to: unknown }[] }> {
  const team = await findTeam(q, spec.team);
  if (!team && !teamDeclared) return 'unknown_team';
  const current = await repo.findSource(q, spec.name);
  if (!current) return { op: 'create', fields: [] };
  if (!team) return { op: 'update', fields: [{ path: 'team', from: current.team_id, to: spec.team }] };
  const want = await sourceFields(q, spec, current.id);
  const fields = KEYS.filter((k) => canonicalJson(JSON.parse(JSON.stringify(want[k] ?? null))) !== canonicalJson(JSON.parse(JSON.stringify(current[k] ?? null)))).map((k) => ({
    path: k,
    from: current[k],
    to: want[k],
  }));
  return fields.length === 0 ? null : { op: 'update', fields };
}

const KEYS = ['name', 'team_id', 'connector', 'config', 'description', 'classification', 'freshness_sla_seconds', 'precedence', 'field_rules', 'acl', 'schedule'] as const;
const comparable = (f: repo.SourceFields) => canonicalJson(JSON.parse(JSON.stringify(Object.fromEntries(KEYS.map((k) => [k, f[k] ?? null])))));

/**
 * Declares a source (create or update) inside an audited transaction; returns null when nothing changed.
 *
 * @example
 * await audit.transaction(ctx, (tx, record) => declareSource(tx, record, spec));
 */
export async function declareSource(tx: Queryable, record: RecordAudit, spec: SourceSpec): Promise<repo.SourceRow | null> {
  const current = await repo.findSource(tx, spec.name);
  const fields = await sourceFields(tx, spec, current?.id ?? `src_${randomBytes(8).toString('hex')}`);
  if (current && comparable(fields) === comparable(current)) return null;
  const row = await repo.upsertSource(tx, fields);
  await record({
    action: current ? 'source.updated' : 'source.created',
    targetType: 'source',
    targetId: row.id,
    teamId: row.team_id,
    ...(current ? { before: sourceView(current) } : {}),
    after: sourceView(row),
  });
  return row;
}

/**
 * The sources registry: declare sources, push and delete documents, sync, and report freshness and counts.
 *
 * @example
 * const sources = new SourceService(db, audit, { maxDocumentBytes: 50 * 1024 * 1024 });
 * await sources.push(caller, 'handbook', [{ id: 'leave.md', text: '# Leave\nTwenty days.' }]);
 * const status = await sources.status(caller, 'handbook');
 */
export class SourceService {
  readonly writer: DocumentWriter;
  private readonly byRefCache: ReadCache<repo.SourceRow | null>;
  private embeddingsPending: (sourceId: string) => Promise<number | null> = async () => null;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly options: { maxDocumentBytes: number; env?: NodeJS.ProcessEnv },
  ) {
    this.writer = new DocumentWriter(db, audit, options.maxDocumentBytes);
    this.byRefCache = new ReadCache(db, ['sources']);
  }

  private async source(ref: string): Promise<repo.SourceRow> {
    const row = await repo.findSource(this.db, ref);
    if (!row) throw new TarmacError('not_found', `source ${ref} does not exist`, { source: ref });
    return row;
  }

  /** A source the caller may see (any role in its team). */
  async visible(caller: Caller, ref: string): Promise<repo.SourceRow> {
    const row = await this.source(ref);
    if (!hasTeamRole(caller.principal, row.team_id, 'viewer')) throw new TarmacError('not_found', `source ${ref} does not exist`, { source: ref });
    return row;
  }

  private async writable(caller: Caller, ref: string): Promise<repo.SourceRow> {
    requireScope(caller.principal, 'write');
    const row = await this.visible(caller, ref);
    requireTeamRole(caller.principal, row.team_id, 'builder');
    return row;
  }

  private ctx(caller: Caller): AuditContext {
    return { actor: caller.principal.actor, requestId: caller.requestId ?? null };
  }

  async list(caller: Caller): Promise<Source[]> {
    const p = caller.principal;
    const rows = await repo.listSources(this.db, p.isAdmin ? undefined : Object.keys(p.roles));
    return rows.map(sourceView);
  }

  async get(caller: Caller, ref: string): Promise<Source> {
    return sourceView(await this.visible(caller, ref));
  }

  /** Creates or updates a source: push sources by builders of its team; other connectors by platform admins. */
  async declare(caller: Caller, input: SourceSpecInput): Promise<{ source: Source; changed: boolean }> {
    requireScope(caller.principal, 'write');
    const spec = parseInput(SourceSpec, input, 'body');
    // These connectors read the server's files, network and environment variables: admins only.
    if (spec.connector.type !== 'push') requireAdmin(caller.principal);
    return this.audit.transaction(this.ctx(caller), async (tx, record) => {
      const team = await findTeam(tx, spec.team);
      if (!team) throw new TarmacError('not_found', `team ${spec.team} does not exist`, { team: spec.team });
      requireTeamRole(caller.principal, team.id, 'builder');
      const existing = await repo.findSource(tx, spec.name);
      if (existing) requireTeamRole(caller.principal, existing.team_id, 'builder');
      const row = await declareSource(tx, record, spec);
      return { source: sourceView(row ?? existing!), changed: row !== null };
    });
  }

  /** Deletes a source with its documents (owners of its team, and admins). */
  async remove(caller: Caller, ref: string): Promise<void> {
    requireScope(caller.principal, 'write');
    const row = await this.visible(caller, ref);
    requireTeamRole(caller.principal, row.team_id, 'owner');
    await this.audit.transaction(this.ctx(caller), async (tx, record) => {
      await tx.query('delete from chunks where source_id = $1', [row.id]);
      await repo.deleteSource(tx, row.id);
      await record({ action: 'source.deleted', targetType: 'source', targetId: row.id, teamId: row.team_id, before: sourceView(row) });
    });
    await this.rebuildStats();
  }

  /** Recomputes the term statistics from the chunks (after a source is removed in bulk). */
  private async rebuildStats(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEYS.searchIndex]);
      await tx.query('delete from term_stats');
      await tx.query('insert into term_stats (lexeme, df) select u.lexeme, count(*) from chunks c, unnest(c.tsv) u group by u.lexeme');
      await tx.query('update corpus_stats set chunks = (select count(*) from chunks), total_length = (select coalesce(sum(tsv_length), 0) from chunks) where id = 1');
    });
  }

  /** Upserts documents into a push source (builders of its team). Unchanged documents are skipped. */
  async push(caller: Caller, ref: string, docs: PushedDocument[]): Promise<PushResult> {
    const row = await this.writable(caller, ref);
    if (row.connector !== 'push') throw new TarmacError('bad_request', `source ${row.name} is a ${row.connector} source; only push sources accept documents`);
    const incoming: SourceDocument[] = docs.map((d) => {
      if (d.text !== undefined && d.contentBase64 !== undefined) throw new TarmacError('validation_failed', `document ${d.id}: give text or contentBase64, not both`);
      const content = d.contentBase64 !== undefined ? Buffer.from(d.contentBase64, 'base64') : d.text;
      if (content === undefined && d.fields === undefined) throw new TarmacError('validation_failed', `document ${d.id}: give text, contentBase64 or fields`);
      return {
        id: d.id,
        title: d.title,
        content,
        format: d.format ?? (d.fileName ? undefined : d.contentBase64 === undefined ? 'text' : undefined),
        fileName: d.fileName,
        fields: d.fields,
        metadata: d.metadata,
        updatedAt: d.updatedAt ? new Date(d.updatedAt) : null,
        allowed: d.allowed,
      };
    });
    const { counts, results } = await this.writer.write(this.ctx(caller), row, null, incoming);
    return { counts, documents: results };
  }

  /** Removes one document of a push source. */
  async deleteDocument(caller: Caller, ref: string, docId: string): Promise<void> {
    const row = await this.writable(caller, ref);
    if (row.connector !== 'push') throw new TarmacError('bad_request', `source ${row.name} is a ${row.connector} source; its documents follow the source`);
    if (!(await getDocument(this.db, row.id, docId))) throw new TarmacError('not_found', `document ${docId} does not exist in source ${row.name}`, { document: docId });
    await this.writer.write(this.ctx(caller), row, null, [{ id: docId, deleted: true }]);
  }

  /** Syncs a source through its connector now (builders of its team). */
  async sync(caller: Caller, ref: string, options: { onProgress?: (c: SyncCounts) => void; trigger?: string } = {}): Promise<SyncResult> {
    const row = await this.writable(caller, ref);
    return this.syncAs(this.ctx(caller), row, options);
  }

  /** Syncs as `ctx` without a permission check (scheduled syncs run as the system). */
  async syncAs(ctx: AuditContext, row: repo.SourceRow, options: { onProgress?: (c: SyncCounts) => void; trigger?: string; batchSize?: number } = {}): Promise<SyncResult> {
    const connector = connectorFor(row.config, this.options.env ?? process.env);
    return this.writer.sync(ctx, row, connector, {
      trigger: options.trigger ?? 'manual',
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    });
  }

  /** Every source, for the scheduler and the metrics (no permission check). */
  async all(): Promise<repo.SourceRow[]> {
    return repo.listSources(this.db);
  }

  /** A source by name or id, as last committed (cached until a source changes, in any process). */
  async byRef(ref: string): Promise<repo.SourceRow | null> {
    return this.byRefCache.get(ref, () => repo.findSource(this.db, ref));
  }

  /**
   * The entity with this key across the record sources, as a caller holding `principals` may read it: per
   * field, the value of the source with the highest precedence (ties: the newest record) wins; the other
   * sources' values are kept as competing values. Records the caller may not read take no part: when none
   * is readable the entity is not found, exactly as when no record exists.
   */
  async lookup(principals: string[], key: string, sourceIds?: string[]): Promise<Entity> {
    const versions = await repo.recordVersions(this.db, key, principals, sourceIds);
    const fields: Record<string, EntityField> = {};
    for (const v of versions) {
      for (const [name, value] of Object.entries(v.fields)) {
        if (value === null || value === undefined || value === '') continue;
        const current = fields[name];
        if (!current) fields[name] = { value, source: v.source_name, precedence: v.precedence, competing: [] };
        else current.competing.push({ value, source: v.source_name, precedence: v.precedence });
      }
    }
    const sources = versions.map((v) => ({ name: v.source_name, classification: v.classification, precedence: v.precedence, ...freshnessOf(v) }));
    return { key, found: versions.length > 0, fields, sources };
  }

  /** Where the status reads how many of a source's chunks wait for their embedding (vector search sets it). */
  trackEmbeddings(pending: (sourceId: string) => Promise<number | null>): void {
    this.embeddingsPending = pending;
  }

  /** Freshness, lag and counts. */
  async status(caller: Caller, ref: string): Promise<SourceStatus> {
    return this.statusOf(await this.visible(caller, ref));
  }

  async statusOf(row: repo.SourceRow): Promise<SourceStatus> {
    const docs = await documentCounts(this.db, row.id);
    const run = await repo.lastRun(this.db, row.id);
    const { lagSeconds, stale } = freshnessOf(row);
    const runCounts: SyncCounts = run
      ? { seen: run.seen, added: run.added, updated: run.updated, unchanged: run.unchanged, deleted: run.deleted, failed: run.failed, quarantined: run.quarantined }
      : { seen: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, quarantined: 0 };
    return {
      source: row.name,
      id: row.id,
      lastSyncAt: row.last_sync_at?.toISOString() ?? null,
      lastSuccessAt: row.last_success_at?.toISOString() ?? null,
      lastStatus: row.last_status,
      lastError: row.last_error,
      lagSeconds,
      freshnessSlaSeconds: row.freshness_sla_seconds,
      stale,
      counts: {
        total: docs.total,
        indexed: docs.indexed,
        chunks: docs.chunks,
        added: runCounts.added,
        updated: runCounts.updated,
        deleted: runCounts.deleted,
        failed: docs.failed,
        quarantined: docs.quarantined,
        embeddingsPending: await this.embeddingsPending(row.id),
      },
      lastRun: run
        ? { id: run.id, status: run.status, trigger: run.trigger, startedAt: run.started_at.toISOString(), finishedAt: run.finished_at?.toISOString() ?? null, counts: runCounts }
        : null,
    };
  }

  /** Lag, staleness, document and chunk counts, and embedding backlog of every source (for `/metrics`). */
  async gauges(): Promise<{ name: string; lagSeconds: number | null; stale: boolean; documents: Record<string, number>; chunks: number; embeddingsPending: number | null }[]> {
    const out = [];
    for (const row of await repo.listSources(this.db)) {
      const c = await documentCounts(this.db, row.id);
      out.push({
        name: row.name,
        ...freshnessOf(row),
        documents: { indexed: c.indexed, failed: c.failed, quarantined: c.quarantined },
        chunks: c.chunks,
        embeddingsPending: await this.embeddingsPending(row.id),
      });
    }
    return out;
  }

  /** Quarantined records and documents of a source, with the reasons. */
  async quarantine(caller: Caller, ref: string, limit = 100): Promise<QuarantinedItem[]> {
    const row = await this.visible(caller, ref);
    return (await repo.listQuarantine(this.db, row.id, limit)).map((r) => ({ id: r.item_id, reason: r.reason, payload: r.payload, at: r.at.toISOString() }));
  }

  /** Failed documents of a source with the reasons. */
  async failures(caller: Caller, ref: string, limit = 100): Promise<FailedDocument[]> {
    const row = await this.visible(caller, ref);
    const { rows } = await this.db.query<{ doc_id: string; error: string | null }>(
      "select doc_id, error from documents where source_id = $1 and status = 'failed' order by doc_id limit $2",
      [row.id, limit],
    );
    return rows.map((r) => ({ id: r.doc_id, error: r.error }));
  }
}

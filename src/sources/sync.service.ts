import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AuditContext } from '../access/index.js';
import type { AuditLog } from '../audit/index.js';
import type { Database } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import type { Connector } from './connectors.js';
import { deleteDocuments, documentHashes, markSeen, unseenDocuments, writeDocuments, type PreparedDocument } from './documents.repository.js';
import { contentHash, prepareDocument, resolveAllowed, type SourceDocument } from './ingest.js';
import * as repo from './sources.repository.js';
import type { SyncCounts, SyncResult } from './sources.schema.js';


export const emptyCounts = (): SyncCounts => ({ seen: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, failed: 0, quarantined: 0 });

export interface SyncOptions {
  trigger: string;
  /** Called after every written batch with the counts so far. */
  onProgress?: (counts: SyncCounts) => void;
  batchSize?: number;
}


/** A run whose heartbeat is older than this is taken over by the next sync. */
const STALE_RUN_MS = 60_000;
const OWNER = `${hostname()}:${process.pid}`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether an unfinished run's process is gone: on the embedded database only one process exists; else by host and pid, or heartbeat. */
function runIsDead(run: repo.SyncRunRow, embedded: boolean): boolean {
  if (embedded) return run.owner !== OWNER;
  const [host, pid] = run.owner.split(':');
  if (host === hostname() && pid && Number(pid) !== process.pid && !alive(Number(pid))) return true;
  return Date.now() - run.heartbeat_at.getTime() >= STALE_RUN_MS;
}

/**
 * Writes documents into a source: unchanged ones (same content hash) are skipped, changed ones replaced
 * atomically, records checked against field rules, deletions applied. Used by syncs and pushes.
 */
// Tables whose planner statistics the embedded database refreshes after documents change.
const SEARCH_TABLES = 'chunks, postings, term_stats, acl_groups, documents';

export class DocumentWriter {
  private readonly listeners: (() => void)[] = [];
  private statistics: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly maxDocumentBytes: number,
  ) {}

  /** Called after every batch that wrote chunks (vector search embeds them). */
  onIndexed(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Writes one batch in one audited transaction; returns what it did. */
  async write(ctx: AuditContext, source: repo.SourceRow, runId: string | null, docs: SourceDocument[]): Promise<{ counts: SyncCounts; results: { id: string; status: string; version?: number; error?: string | null }[] }> {
    const byId = new Map<string, SourceDocument>();
    for (const d of docs) byId.set(d.id, d);
    const unique = [...byId.values()];
    const hashes = await documentHashes(this.db, source.id, unique.map((d) => d.id));
    const counts = emptyCounts();
    counts.seen = unique.filter((d) => !d.deleted).length;
    const prepared: PreparedDocument[] = [];
    const unchanged: string[] = [];
    const removed: string[] = [];
    const results: { id: string; status: string; error?: string | null }[] = [];
    for (const doc of unique) {
      if (doc.deleted) {
        removed.push(doc.id);
        continue;
      }
      const allowed = resolveAllowed(source, doc.allowed);
      const hash = contentHash(doc, allowed);
      if (hashes.get(doc.id) === hash) {
        unchanged.push(doc.id);
        counts.unchanged++;
        results.push({ id: doc.id, status: 'unchanged' });
        continue;
      }
      const p = await prepareDocument(source, doc, hash, allowed, this.maxDocumentBytes);
      prepared.push(p);
      if (p.status === 'failed') counts.failed++;
      else if (p.status === 'quarantined') counts.quarantined++;
      else if (hashes.has(doc.id)) counts.updated++;
      else counts.added++;
      results.push({ id: doc.id, status: p.status === 'indexed' ? (hashes.has(doc.id) ? 'updated' : 'added') : p.status, error: p.error });
    }
    await this.audit.transaction(ctx, async (tx, record) => {
      await writeDocuments(tx, source.id, runId, prepared);
      if (runId) await markSeen(tx, source.id, runId, unchanged);
      counts.deleted = await deleteDocuments(tx, source.id, removed);
      if (source.connector === 'records' || prepared.some((p) => p.metadata.fields)) {
        const good = prepared.filter((p) => p.status === 'indexed' && p.metadata.fields);
        await repo.upsertRecords(tx, source.id, good.map((p) => ({ key: p.docId, fields: p.metadata.fields as Record<string, unknown>, hash: p.contentHash, allowed: p.allowed })));
        await repo.deleteRecords(tx, source.id, [...removed, ...prepared.filter((p) => p.status !== 'indexed').map((p) => p.docId)]);
      }
      for (const p of prepared.filter((x) => x.status === 'quarantined')) await repo.putQuarantine(tx, source.id, p.docId, p.error ?? '', byId.get(p.docId)?.fields ?? null);
      await repo.clearQuarantine(tx, source.id, [...removed, ...prepared.filter((p) => p.status !== 'quarantined').map((p) => p.docId)]);
      if (runId) await repo.addRunCounts(tx, runId, counts);
      // A push is the source's sync: its freshness counts from the last accepted push.
      else await tx.query("update sources set last_sync_at = now(), last_success_at = now(), last_status = 'succeeded', last_error = null where id = $1", [source.id]);
      if (prepared.length > 0 || counts.deleted > 0) {
        await record({
          action: 'source.documents_written',
          targetType: 'source',
          targetId: source.id,
          teamId: source.team_id,
          after: { runId, added: counts.added, updated: counts.updated, deleted: counts.deleted, failed: counts.failed, quarantined: counts.quarantined },
        });
      }
    });
    for (const id of removed) results.push({ id, status: 'deleted' });
    if (prepared.some((p) => p.chunks.length > 0)) for (const listener of this.listeners) listener();
    if (prepared.length > 0 || counts.deleted > 0) this.statisticsDue();
    return { counts, results };
  }

  /**
   * The embedded database has no autovacuum to keep planner statistics: without them search plans scan whole
   * tables. They are refreshed a second after the last write, or at the end of a sync. PostgreSQL's own
   * autovacuum does this there.
   */
  private statisticsDue(): void {
    if (this.db.kind !== 'pglite') return;
    if (this.statistics) clearTimeout(this.statistics);
    this.statistics = setTimeout(() => void this.refreshStatistics().catch(() => undefined), 1000);
    this.statistics.unref();
  }

  private async refreshStatistics(): Promise<void> {
    if (this.statistics) clearTimeout(this.statistics);
    this.statistics = null;
    await this.db.query(`analyze ${SEARCH_TABLES}`);
  }

  /**
   * Runs one sync of a source through its connector. A run left unfinished by a dead process is closed and
   * this run takes over; since unchanged documents are skipped by hash, the result equals an uninterrupted
   * sync. When the connector lists everything, documents it did not list are deleted at the end. A
   * connector that fails marks the run failed; what was indexed before stays searchable.
   */
  async sync(ctx: AuditContext, source: repo.SourceRow, connector: Connector, options: SyncOptions): Promise<SyncResult> {
    const runId = `run_${randomUUID()}`;
    const resumed = await this.audit.transaction(ctx, async (tx, record) => {
      await tx.query('select id from sources where id = $1 for update', [source.id]);
      const open = await repo.unfinishedRun(tx, source.id);
      if (open && !runIsDead(open, this.db.kind === 'pglite')) {
        throw new TarmacError('conflict', `source ${source.name} is already syncing (run ${open.id})`, { runId: open.id });
      }
      if (open) await tx.query("update sync_runs set status = 'failed', finished_at = now(), error = $2 where id = $1", [open.id, `interrupted; taken over by ${runId}`]);
      await repo.insertRun(tx, { id: runId, sourceId: source.id, trigger: options.trigger, owner: OWNER });
      await record({ action: 'source.sync_started', targetType: 'source', targetId: source.id, teamId: source.team_id, after: { runId, trigger: options.trigger, resumes: open?.id ?? null } });
      return open?.id ?? null;
    });
    const total = emptyCounts();
    const add = (c: SyncCounts) => {
      for (const k of Object.keys(total) as (keyof SyncCounts)[]) total[k] += c[k];
    };
    const batchSize = options.batchSize ?? 100;
    let error: string | null = null;
    try {
      const cursor = await repo.getCursor(this.db, source.id);
      const listing = await connector.read({ cursor });
      let batch: SourceDocument[] = [];
      for await (const doc of listing.documents) {
        batch.push(doc);
        if (batch.length >= batchSize) {
          add((await this.write(ctx, source, runId, batch)).counts);
          batch = [];
          options.onProgress?.({ ...total });
        }
      }
      add((await this.write(ctx, source, runId, batch)).counts);
      if (listing.complete()) {
        const gone = await unseenDocuments(this.db, source.id, runId);
        for (let i = 0; i < gone.length; i += batchSize) {
          add((await this.write(ctx, source, runId, gone.slice(i, i + batchSize).map((id) => ({ id, deleted: true })))).counts);
        }
      }
      const next = listing.cursor();
      if (next !== null) await repo.setCursor(this.db, source.id, next);
      options.onProgress?.({ ...total });
    } catch (err) {
      error = err instanceof TarmacError ? `${err.code}: ${err.message}` : (err as Error).message;
    }
    const status = error ? 'failed' : 'succeeded';
    await this.audit.transaction(ctx, async (tx, record) => {
      await repo.finishRun(tx, runId, status, error);
      await record({ action: 'source.synced', targetType: 'source', targetId: source.id, teamId: source.team_id, after: { runId, status, error, ...total } });
    });
    if (this.statistics) await this.refreshStatistics();
    return { runId, status, error, counts: total, resumed };
  }
}

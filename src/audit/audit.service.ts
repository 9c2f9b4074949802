import { performance } from 'node:perf_hooks';
import type { AuditContext } from '../access/index.js';
import type { Database, Queryable } from '../db/index.js';
import { TarmacError } from '../errors/index.js';
import { entryHash, GENESIS_HASH, jsonValue } from './chain.js';
import * as repo from './audit.repository.js';
import type { AuditCheckpoint, AuditEntry, VerifyResult } from './audit.schema.js';
import { publicKeyId, signCheckpoint, verifyCheckpoint, type SigningKey } from './signing.js';

/** One state change to record. */
export interface AuditRecord {
  action: string;
  targetType: string;
  targetId: string;
  teamId?: string | null;
  before?: unknown;
  after?: unknown;
  /** The request this change answers, when it differs from the transaction's (changes of several requests committed together). */
  requestId?: string | null;
}

/** Queues an audit entry in the current transaction (see {@link AuditLog.transaction}). */
export type RecordAudit = (entry: AuditRecord) => Promise<void>;

export interface ListAuditQuery {
  action?: string | undefined;
  actorId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  teamIds?: string[] | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  beforeSeq?: number | undefined;
  limit: number;
}

function toEntry(row: repo.AuditEntryRow): AuditEntry {
  return {
    seq: row.seq,
    at: row.at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id, userId: row.actor_user_id },
    action: row.action,
    target: { type: row.target_type, id: row.target_id },
    teamId: row.team_id,
    before: row.before,
    after: row.after,
    requestId: row.request_id,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function rowHash(row: repo.AuditEntryRow): string {
  return entryHash({
    seq: row.seq,
    at: row.at.toISOString(),
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
}

const VERIFY_PAGE = 5000;

/**
 * The tamper-evident audit log: append-only, hash-chained, with signed checkpoints.
 *
 * @example
 * await audit.transaction(ctx, async (tx, record) => {
 *   await tx.query('insert into teams …');
 *   await record({ action: 'team.created', targetType: 'team', targetId: id, after: team });
 * });
 */
export class AuditLog {
  private checkpointDue: (() => void) | null = null;

  constructor(
    private readonly db: Database,
    private readonly options: {
      checkpointEvery: number;
      /** Signs checkpoints; null in a process without the installation's key (it then signs none). */
      signingKey: SigningKey | null;
      /** The installation's public key recorded at install: checkpoints must verify against it. */
      trustedPublicKey?: string | null;
      /** Public key of the key file this process found, reported by verify when it differs from the trusted one. */
      localPublicKey?: string | null;
    },
  ) {}

  /** Called after a commit that crossed a multiple of `checkpointEvery` (the app queues a checkpoint job). */
  onCheckpointDue(listener: () => void): void {
    this.checkpointDue = listener;
  }

  get signingKey(): SigningKey | null {
    return this.options.signingKey;
  }

  /**
   * Appends entries at the end of the caller's transaction. The chain lock is taken only then and held until
   * that transaction ends, so concurrent writers in any number of processes produce one linear chain while
   * the lock covers as little work as possible: one round trip for the head, one insert, the commit.
   */
  private async appendAll(tx: Queryable, ctx: AuditContext, records: AuditRecord[]): Promise<number[]> {
    const last = await repo.lockChainAndReadHead(tx);
    let seq = last?.seq ?? 0;
    let prevHash = last?.hash ?? GENESIS_HASH;
    const at = new Date();
    const rows = records.map((record) => {
      const row: repo.AuditEntryRow = {
        seq: ++seq,
        at,
        actor_type: ctx.actor.type,
        actor_id: ctx.actor.id,
        actor_user_id: ctx.actor.userId ?? null,
        action: record.action,
        target_type: record.targetType,
        target_id: record.targetId,
        team_id: record.teamId ?? null,
        before: jsonValue(record.before),
        after: jsonValue(record.after),
        request_id: (record.requestId !== undefined ? record.requestId : ctx.requestId) ?? null,
        prev_hash: prevHash,
        hash: '',
      };
      row.hash = rowHash(row);
      prevHash = row.hash;
      return row;
    });
    await repo.insertEntries(tx, rows);
    return rows.map((r) => r.seq);
  }

  /**
   * Runs `fn` in one transaction with a `record` function that queues audit entries; they are appended to the
   * chain when `fn` has finished, in the same transaction: the change and its entries commit together or not
   * at all.
   */
  async transaction<T>(ctx: AuditContext, fn: (tx: Queryable, record: RecordAudit) => Promise<T>): Promise<T> {
    let seqs: number[] = [];
    const result = await this.db.transaction(async (tx) => {
      const queued: AuditRecord[] = [];
      const value = await fn(tx, async (entry) => {
        queued.push(entry);
      });
      if (queued.length > 0) seqs = await this.appendAll(tx, ctx, queued);
      return value;
    });
    this.afterCommit(seqs);
    return result;
  }

  private afterCommit(seqs: number[]): void {
    if (seqs.length === 0 || !this.checkpointDue) return;
    const every = this.options.checkpointEvery;
    const first = Math.min(...seqs);
    const last = Math.max(...seqs);
    if (Math.floor(last / every) > Math.floor((first - 1) / every)) this.checkpointDue();
  }

  async list(query: ListAuditQuery): Promise<{ entries: AuditEntry[]; nextBeforeSeq: number | null }> {
    const rows = await repo.listEntries(this.db, { ...query, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    return { entries: page.map(toEntry), nextBeforeSeq: more ? (page[page.length - 1]?.seq ?? null) : null };
  }

  async get(seq: number): Promise<AuditEntry | null> {
    const row = await repo.entryAt(this.db, seq);
    return row ? toEntry(row) : null;
  }

  async listCheckpoints(): Promise<AuditCheckpoint[]> {
    return (await repo.checkpoints(this.db)).map((c) => ({
      seq: c.seq,
      hash: c.hash,
      signedAt: c.signed_at.toISOString(),
      keyId: c.key_id,
      signature: c.signature,
    }));
  }

  private async signAt(seq: number, hash: string): Promise<AuditCheckpoint | null> {
    const key = this.options.signingKey;
    if (!key) return null;
    const signedAt = new Date();
    const payload = { seq, hash, signedAt: signedAt.toISOString(), keyId: key.keyId };
    const signature = signCheckpoint(key, payload);
    const inserted = await repo.insertCheckpoint(this.db, {
      seq,
      hash,
      signed_at: signedAt,
      key_id: key.keyId,
      public_key: key.publicKeyPem,
      signature,
    });
    return inserted ? { ...payload, signature } : null;
  }

  /** Signs a checkpoint at every multiple of `checkpointEvery` not yet signed. Returns how many it signed. */
  async signDueCheckpoints(): Promise<number> {
    if (!this.options.signingKey) return 0;
    const every = this.options.checkpointEvery;
    const last = await repo.lastCheckpointSeq(this.db);
    const top = (await repo.head(this.db))?.seq ?? 0;
    let signed = 0;
    for (let seq = (Math.floor(last / every) + 1) * every; seq <= top; seq += every) {
      const row = await repo.entryAt(this.db, seq);
      if (row && (await this.signAt(seq, row.hash))) signed++;
    }
    return signed;
  }

  /** Signs a checkpoint at the current head (on demand). Returns null when there is nothing new to sign. */
  async checkpointNow(): Promise<AuditCheckpoint | null> {
    if (!this.options.signingKey) {
      throw new TarmacError('not_ready', 'this process has no audit signing key: set TARMAC_AUDIT_SIGNING_KEY_FILE to the installation key');
    }
    const top = await repo.head(this.db);
    if (!top) return null;
    return this.signAt(top.seq, top.hash);
  }

  /**
   * Recomputes the whole chain: every entry's hash, every link, contiguous sequence numbers, and every signed
   * checkpoint (its signature and that its entry still carries the signed hash).
   */
  async verify(): Promise<VerifyResult> {
    const started = performance.now();
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    let broken: { seq: number; problem: string } | null = null;
    const hashes = new Map<number, string>();
    const cps = await repo.checkpoints(this.db);
    const cpSeqs = new Set(cps.map((c) => c.seq));
    outer: for (;;) {
      const rows = await repo.entriesAfter(this.db, expectedSeq - 1, VERIFY_PAGE);
      if (rows.length === 0) break;
      for (const row of rows) {
        if (row.seq !== expectedSeq) {
          broken = { seq: expectedSeq, problem: `entry ${expectedSeq} is missing (next entry is ${row.seq})` };
          break outer;
        }
        if (row.prev_hash !== prevHash) {
          broken = { seq: row.seq, problem: `entry ${row.seq} does not link to entry ${row.seq - 1} (removed or reordered)` };
          break outer;
        }
        if (rowHash(row) !== row.hash) {
          broken = { seq: row.seq, problem: `entry ${row.seq} was altered (its content does not match its hash)` };
          break outer;
        }
        if (cpSeqs.has(row.seq)) hashes.set(row.seq, row.hash);
        prevHash = row.hash;
        expectedSeq++;
        count++;
      }
    }
    const headSeq = expectedSeq - 1;
    let warning: string | null = null;
    const trusted = this.options.trustedPublicKey ?? null;
    const local = this.options.localPublicKey ?? this.options.signingKey?.publicKeyPem ?? null;
    if (trusted && local && local !== trusted) {
      warning = 'the installation public key recorded in the database differs from this process\'s signing key file';
    } else if (!local) {
      warning = 'this process has no audit signing key file, so the recorded installation key could not be cross-checked';
    }
    if (!broken) {
      for (const cp of cps) {
        const payload = { seq: cp.seq, hash: cp.hash, signedAt: cp.signed_at.toISOString(), keyId: cp.key_id };
        const keyOk = publicKeyId(cp.public_key) === cp.key_id && (!trusted || cp.public_key === trusted);
        if (!keyOk || !verifyCheckpoint(cp.public_key, payload, cp.signature)) {
          broken = { seq: cp.seq, problem: `checkpoint at entry ${cp.seq} has an invalid signature` };
          break;
        }
        if (cp.seq > headSeq) {
          broken = { seq: headSeq + 1, problem: `entries ${headSeq + 1}…${cp.seq} were removed (a signed checkpoint covers entry ${cp.seq})` };
          break;
        }
        if (hashes.get(cp.seq) !== cp.hash) {
          broken = { seq: cp.seq, problem: `entry ${cp.seq} differs from the signed checkpoint` };
          break;
        }
      }
    }
    return {
      ok: broken === null,
      entries: count,
      headSeq,
      headHash: prevHash,
      checkpoints: cps.length,
      firstBrokenSeq: broken?.seq ?? null,
      problem: broken?.problem ?? null,
      warning,
      durationMs: Math.round(performance.now() - started),
    };
  }
}

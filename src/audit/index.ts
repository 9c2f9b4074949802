/**
 * The tamper-evident audit log: every state change appends a hash-chained entry in the same transaction;
 * signed checkpoints anchor the chain; verification recomputes it end to end.
 *
 * @example
 * const audit = new AuditLog(db, { checkpointEvery: 1000, signingKey });
 * await audit.transaction(ctx, async (tx, record) => {
 *   await record({ action: 'team.created', targetType: 'team', targetId: id, after: team });
 * });
 * const { ok, firstBrokenSeq } = await audit.verify();
 */
export { AuditLog, type AuditRecord, type ListAuditQuery, type RecordAudit } from './audit.service.js';
export { AuditCheckpoint, AuditEntry, VerifyResult } from './audit.schema.js';
export { generateSigningKey, loadSigningKey, type SigningKey } from './signing.js';
export { canonicalJson } from './chain.js';
export { capability, type AuditKeys } from './capability.js';

import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// The package is CommonJS whose export is the function itself; its typings describe an ES default export.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/** RFC 8785 canonical JSON: sorted keys, one number format, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value cannot be serialised as JSON');
  return text;
}

/** `prev_hash` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an audit entry that its hash covers. */
export interface HashedFields {
  seq: number;
  at: string;
  actorType: string;
  actorId: string;
  actorUserId: string | null;
  action: string;
  targetType: string;
  targetId: string;
  teamId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  prevHash: string;
}

/** SHA-256 (hex) over the RFC 8785 canonical JSON of the entry's fields. */
export function entryHash(fields: HashedFields): string {
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

/** Brings a value to the form JSONB stores (drops undefined, normalises numbers), so hashes survive a round trip. */
export function jsonValue(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

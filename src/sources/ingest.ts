import { createHash } from 'node:crypto';
import { canonicalJson } from '../audit/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { chunkDocument } from './chunk.js';
import { loadTokenizer } from './tokens.js';
import type { PreparedDocument } from './documents.repository.js';
import { formatOf, parseDocument, type DocumentFormat } from './parse.js';
import type { SourceRow } from './sources.repository.js';
import type { FieldRule } from './sources.schema.js';

/** What every connector yields: one document of a source. */
export interface SourceDocument {
  /** Stable id within the source. */
  id: string;
  title?: string | undefined;
  /** The file's bytes or text (documents). */
  content?: string | Uint8Array | undefined;
  format?: DocumentFormat | undefined;
  fileName?: string | undefined;
  mediaType?: string | undefined;
  /** The record's fields (record sources). */
  fields?: Record<string, unknown> | undefined;
  metadata?: Record<string, unknown> | undefined;
  updatedAt?: Date | null | undefined;
  /** Access list as the source names it; mapped through the source's ACL mapping. */
  allowed?: string[] | undefined;
  /** Why the connector could not read this record (a ragged row, invalid JSON): it is quarantined. */
  problem?: string | undefined;
  /** The source says this document was removed (incremental connectors). */
  deleted?: boolean | undefined;
}

const PRINCIPAL = /^(\*|user:.+|team:.+)$/;

/** Maps a document's access list to Tarmac principals: mapped names, principals as written, else the default. */
export function resolveAllowed(source: Pick<SourceRow, 'acl'>, allowed: string[] | undefined): string[] {
  if (allowed === undefined) return [...new Set(source.acl.default)].sort();
  const out = new Set<string>();
  for (const raw of allowed) {
    const name = raw.trim();
    const mapped = source.acl.map[name] ?? source.acl.map[name.toLowerCase()];
    if (mapped) mapped.forEach((p) => out.add(p));
    else if (PRINCIPAL.test(name.toLowerCase())) out.add(name.toLowerCase());
  }
  return [...out].sort();
}

/** Hash of everything that makes a version: content or fields, title, metadata and the access list. */
export function contentHash(doc: SourceDocument, allowed: string[]): string {
  const h = createHash('sha256');
  h.update(canonicalJson({ problem: doc.problem ?? null, title: doc.title ?? null, fields: doc.fields ?? null, metadata: doc.metadata ?? null, allowed, format: doc.format ?? null }));
  if (doc.content !== undefined) h.update(typeof doc.content === 'string' ? Buffer.from(doc.content, 'utf8') : doc.content);
  return h.digest('hex');
}

function checkType(value: unknown, type: FieldRule['type']): unknown {
  if (type === 'string') return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
  if (type === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  if (type === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    return undefined;
  }
  const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : undefined;
}

/**
 * Applies field rules to a record: required fields must be present and every declared field must have its
 * type (values are normalised: numbers, booleans, ISO dates). Returns the fields or the reasons it breaks.
 *
 * @example
 * applyFieldRules({ amount: '12.5' }, [{ name: 'amount', type: 'number', required: true }]) // { fields: { amount: 12.5 } }
 */
export function applyFieldRules(fields: Record<string, unknown>, rules: FieldRule[]): { fields: Record<string, unknown> } | { problems: string[] } {
  const out: Record<string, unknown> = { ...fields };
  const problems: string[] = [];
  for (const rule of rules) {
    const value = fields[rule.name];
    if (value === undefined || value === null || value === '') {
      if (rule.required) problems.push(`${rule.name}: required`);
      delete out[rule.name];
      continue;
    }
    const typed = checkType(value, rule.type);
    if (typed === undefined) problems.push(`${rule.name}: expected ${rule.type}, got ${JSON.stringify(value)}`);
    else out[rule.name] = typed;
  }
  return problems.length > 0 ? { problems } : { fields: out };
}

/** Any field value as text: objects as JSON, dates as ISO 8601. */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** The searchable text of a record: one `field: value` line per field. */
export function recordText(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${k}: ${asText(v)}`)
    .join('\n');
}

/**
 * Parses and chunks one document for writing. A document that cannot be parsed (or is too large) comes back
 * `failed` with the reason; a record that breaks a field rule comes back `quarantined`.
 */
export async function prepareDocument(source: SourceRow, doc: SourceDocument, hash: string, allowed: string[], maxBytes: number): Promise<PreparedDocument> {
  const base = {
    docId: doc.id,
    contentHash: hash,
    title: doc.title ?? '',
    metadata: doc.metadata ?? {},
    allowed,
    sourceUpdatedAt: doc.updatedAt ?? null,
    chunks: [],
  };
  const chunking = source.config.chunking ?? { maxTokens: 400, overlapTokens: 50 };
  try {
    if (doc.problem) return { ...base, status: 'quarantined', error: doc.problem };
    if (doc.fields) {
      const checked = applyFieldRules(doc.fields, source.field_rules);
      if ('problems' in checked) return { ...base, status: 'quarantined', error: checked.problems.join('; ') };
      const text = recordText(checked.fields);
      const parsed = await parseDocument(Buffer.from(text || ' ', 'utf8'), 'text');
      return { ...base, metadata: { ...base.metadata, fields: checked.fields }, status: 'indexed', error: null, chunks: await chunkDocument(parsed, chunking, await loadTokenizer()) };
    }
    const bytes = typeof doc.content === 'string' ? Buffer.from(doc.content, 'utf8') : (doc.content ?? new Uint8Array());
    if (bytes.length > maxBytes) throw new TarmacError('document_too_large', `the document has ${bytes.length} bytes; the limit is ${maxBytes}`);
    const format = doc.format ?? formatOf(doc.fileName, doc.mediaType);
    const parsed = await parseDocument(bytes, format);
    const title = doc.title ?? parsed.title ?? doc.fileName ?? '';
    return { ...base, title, status: 'indexed', error: null, chunks: await chunkDocument(parsed, chunking, await loadTokenizer()) };
  } catch (err) {
    if (!isTarmacError(err)) return { ...base, status: 'failed', error: `cannot parse: ${(err as Error).message}` };
    return { ...base, status: 'failed', error: `${err.code}: ${err.message}` };
  }
}

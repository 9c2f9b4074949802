import { z } from 'zod';
import { CLASSIFICATIONS } from '../policies/index.js';
import { DOCUMENT_FORMATS } from './parse.js';
import { isValidCron } from './schedule.js';

export const SourceName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/** `30m`, `24h`, `7d` or a number of seconds. */
export const Duration = z
  .union([z.number().int().min(1), z.string().regex(/^\d+[smhd]$/, 'a duration such as 30m, 24h or 7d')])
  .describe('Seconds, or a duration such as 30m, 24h, 7d');

/** Seconds of a {@link Duration}. */
export function durationSeconds(value: number | string): number {
  if (typeof value === 'number') return value;
  const n = Number(value.slice(0, -1));
  return n * { s: 1, m: 60, h: 3600, d: 86_400 }[value.slice(-1) as 's' | 'm' | 'h' | 'd'];
}

const Globs = z.array(z.string().min(1)).describe('Glob patterns relative to the folder (`**/*.md`)');

export const PushConnector = z.strictObject({ type: z.literal('push').describe('Documents arrive through the API') });

export const FilesystemConnector = z.strictObject({
  type: z.literal('filesystem').describe('Files of a folder'),
  path: z.string().min(1).describe('The folder, relative to the working directory of the process'),
  include: Globs.optional().describe('Files to take (default all)'),
  exclude: Globs.optional().describe('Files to leave out'),
});

export const RecordsConnector = z.strictObject({
  type: z.literal('records').describe('One record per row of a CSV or JSONL file'),
  path: z.string().min(1).describe('The CSV or JSONL file'),
  format: z.enum(['csv', 'jsonl']).optional().describe('Default from the file extension'),
  key: z.string().min(1).describe('The field that identifies a record (the entity key)'),
  titleField: z.string().min(1).optional().describe('Field used as the title of the record document'),
  allowedField: z.string().min(1).optional().describe("Field holding the record's access list (a list, or names separated by commas or semicolons)"),
});

export const HttpConnector = z.strictObject({
  type: z.literal('http').describe('A JSON API'),
  url: z.url().describe('The first page'),
  itemsPath: z.string().default('items').describe('Dot path of the item array in a page'),
  nextPath: z.string().optional().describe('Dot path of the next page URL (or cursor) in a page; absent: one page'),
  cursorParam: z.string().optional().describe('Query parameter that carries the next-page cursor when nextPath holds a cursor, not a URL'),
  updatedSinceParam: z.string().optional().describe('Query parameter that asks for items updated since the last sync'),
  fields: z
    .strictObject({
      id: z.string().default('id'),
      title: z.string().optional(),
      text: z.string().default('text'),
      updatedAt: z.string().optional(),
      allowed: z.string().optional(),
      deleted: z.string().optional(),
    })
    .default({ id: 'id', text: 'text' })
    .describe('Dot paths of the document fields in an item'),
  auth: z
    .strictObject({
      header: z.string().default('authorization'),
      env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).describe('Environment variable that holds the secret'),
      prefix: z.string().default('Bearer '),
    })
    .optional()
    .describe('Auth header whose value comes from an environment variable'),
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000).describe('Per request'),
});

export const PostgresConnector = z.strictObject({
  type: z.literal('postgres').describe('A table or query on another PostgreSQL database'),
  urlEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).describe('Environment variable holding the postgres:// URL'),
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional().describe('Table (or schema.table)'),
  query: z.string().optional().describe('A select statement instead of a table'),
  idColumn: z.string().default('id'),
  titleColumn: z.string().optional(),
  textColumn: z.string().default('text'),
  cursorColumn: z.string().optional().describe('Column compared with the last sync for incremental syncs'),
  allowedColumn: z.string().optional().describe('Column holding a text[] of allowed principals'),
});

export const ConnectorConfig = z.discriminatedUnion('type', [PushConnector, FilesystemConnector, RecordsConnector, HttpConnector, PostgresConnector]);
export type ConnectorConfig = z.output<typeof ConnectorConfig>;

export const FIELD_TYPES = ['string', 'number', 'boolean', 'date'] as const;

export const FieldRule = z.strictObject({
  name: z.string().min(1).describe('Field name'),
  type: z.enum(FIELD_TYPES).default('string').describe('string, number, boolean or date'),
  required: z.boolean().default(false).describe('A record without it is quarantined'),
});
export type FieldRule = z.output<typeof FieldRule>;

export const Principal = z
  .string()
  .regex(/^(\*|user:.+|team:.+)$/, 'a principal: "*", "user:<email or id>" or "team:<name or id>"')
  .transform((p) => p.toLowerCase());

export const AclMapping = z.strictObject({
  default: z.array(Principal).default([]).describe('Principals allowed when a document brings no access list'),
  map: z.record(z.string(), z.array(Principal)).default({}).describe('External group or user name → Tarmac principals'),
});
export type AclMapping = z.output<typeof AclMapping>;

export const Chunking = z.strictObject({
  maxTokens: z.number().int().min(16).max(8192).default(400).describe('Largest chunk, in tokens'),
  overlapTokens: z.number().int().min(0).max(2048).default(50).describe('Tokens repeated from the end of the previous chunk'),
});

/** A source as `tarmac.yaml` and the API declare it. */
export const SourceSpec = z.strictObject({
  name: SourceName.describe('Identifies the source'),
  team: z.string().min(1).describe('Team (name or id) that owns the source'),
  description: z.string().max(2000).optional(),
  connector: ConnectorConfig.describe('Where the documents come from'),
  classification: z.enum(CLASSIFICATIONS).default('internal').describe('Inherited by every chunk'),
  freshness: Duration.optional().describe('Freshness SLA: stale when the last successful sync is older'),
  precedence: z.number().int().min(0).max(1000).default(0).describe('Higher wins per field when sources share entity keys'),
  fields: z.array(FieldRule).default([]).describe('Field rules of a records source'),
  acl: AclMapping.default({ default: [], map: {} }).describe('How access lists map to Tarmac principals'),
  schedule: z.string().max(100).refine(isValidCron, 'a cron expression such as "0 * * * *"').optional().describe('Cron expression for scheduled syncs'),
  chunking: Chunking.default({ maxTokens: 400, overlapTokens: 50 }),
});
export type SourceSpec = z.output<typeof SourceSpec>;
export type SourceSpecInput = z.input<typeof SourceSpec>;

const chunked = { chunking: Chunking.optional() };
const StoredConnector = z.discriminatedUnion('type', [
  PushConnector.extend(chunked),
  FilesystemConnector.extend(chunked),
  RecordsConnector.extend(chunked),
  HttpConnector.extend(chunked),
  PostgresConnector.extend(chunked),
]);

/** A source as the API shows it. */
export const Source = z.object({
  id: z.string(),
  name: z.string(),
  teamId: z.string(),
  description: z.string(),
  connector: StoredConnector,
  classification: z.enum(CLASSIFICATIONS),
  freshnessSlaSeconds: z.number().nullable(),
  precedence: z.number(),
  fields: z.array(FieldRule),
  acl: AclMapping,
  schedule: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Source = z.output<typeof Source>;

/** Counts of one sync run (or one push). */
export const SyncCounts = z.object({
  seen: z.number(),
  added: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  deleted: z.number(),
  failed: z.number(),
  quarantined: z.number(),
});
export type SyncCounts = z.output<typeof SyncCounts>;

export const SyncResult = z.object({
  runId: z.string(),
  status: z.enum(['succeeded', 'failed']),
  error: z.string().nullable(),
  counts: SyncCounts,
  resumed: z.string().nullable().describe('The unfinished run this one took over, if any (its process died)'),
});
export type SyncResult = z.output<typeof SyncResult>;

/** Freshness and counts of a source. */
export const SourceStatus = z.object({
  source: z.string(),
  id: z.string(),
  lastSyncAt: z.string().nullable(),
  lastSuccessAt: z.string().nullable(),
  lastStatus: z.string().nullable(),
  lastError: z.string().nullable(),
  lagSeconds: z.number().nullable(),
  freshnessSlaSeconds: z.number().nullable(),
  stale: z.boolean(),
  counts: z.object({
    total: z.number(),
    indexed: z.number(),
    chunks: z.number(),
    added: z.number(),
    updated: z.number(),
    deleted: z.number(),
    failed: z.number(),
    quarantined: z.number(),
    embeddingsPending: z.number().nullable().describe('Chunks not embedded yet (null without vector search)'),
  }),
  lastRun: z.object({ id: z.string(), status: z.string(), trigger: z.string(), startedAt: z.string(), finishedAt: z.string().nullable(), counts: SyncCounts }).nullable(),
});
export type SourceStatus = z.output<typeof SourceStatus>;

export const DeclaredSource = z.object({ source: Source, changed: z.boolean() });
export const PushResult = z.object({
  counts: SyncCounts,
  documents: z.array(z.object({ id: z.string(), status: z.string(), error: z.string().nullable().optional() })),
});
export type PushResult = z.output<typeof PushResult>;
export const QuarantinedItem = z.object({ id: z.string(), reason: z.string(), payload: z.unknown(), at: z.string() });
export type QuarantinedItem = z.output<typeof QuarantinedItem>;
export const FailedDocument = z.object({ id: z.string(), error: z.string().nullable() });
export type FailedDocument = z.output<typeof FailedDocument>;
export const Deleted = z.object({ deleted: z.literal(true) });

/** One document pushed through the API. */
export const PushedDocument = z.strictObject({
  id: z.string().min(1).max(1000).describe('Stable id of the document within the source'),
  title: z.string().max(1000).optional(),
  text: z.string().optional().describe('The content as text (markdown, plain text, HTML, CSV or JSON: see format)'),
  contentBase64: z.string().optional().describe('The content as bytes, base64 (PDF, DOCX, or text in any encoding)'),
  format: z.enum(DOCUMENT_FORMATS).optional().describe('Default from fileName, else text'),
  fileName: z.string().max(1000).optional(),
  fields: z.record(z.string(), z.unknown()).optional().describe('A record instead of content: checked against the field rules'),
  metadata: z.record(z.string(), z.unknown()).optional().describe('Filterable metadata'),
  updatedAt: z.iso.datetime({ offset: true }).optional(),
  allowed: z.array(z.string().min(1)).optional().describe('Access list; mapped through the source ACL mapping. Absent: the source default'),
});
export type PushedDocument = z.output<typeof PushedDocument>;

/** One field of an entity: the authoritative value, where it comes from, and the values that lost. */
export const EntityField = z.object({
  value: z.unknown(),
  source: z.string(),
  precedence: z.number(),
  competing: z.array(z.object({ value: z.unknown(), source: z.string(), precedence: z.number() })),
});
export type EntityField = z.output<typeof EntityField>;

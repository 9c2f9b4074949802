import { z } from 'zod';
import { CLASSIFICATIONS } from '../policies/index.js';
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

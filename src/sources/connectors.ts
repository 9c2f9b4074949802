import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseCsv } from 'csv-parse';
import pg from 'pg';
import { TarmacError } from '../errors/index.js';
import { asText, type SourceDocument } from './ingest.js';
import type { ConnectorConfig } from './sources.schema.js';

/** What one read of a connector gives: the documents, whether that was everything, and the next cursor. */
export interface Listing {
  documents: AsyncIterable<SourceDocument>;
  /** True when the documents were the complete listing (documents not in it were deleted upstream). */
  complete(): boolean;
  /** Where the next incremental read starts; null to keep the current one. */
  cursor(): string | null;
}

/**
 * One interface behind every connector: `read` yields the documents of a source, from `cursor` on when the
 * connector is incremental.
 *
 * @example
 * const listing = await connectorFor(config, env).read({ cursor: null });
 * for await (const doc of listing.documents) console.log(doc.id);
 */
export interface Connector {
  read(options: { cursor: string | null }): Promise<Listing>;
}

/** `**` any folders, `*` any name part, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const ACL_SUFFIX = '.acl.json';
const FOLDER_ACL = '.acl.json';

function readAcl(file: string): string[] | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new TarmacError('validation_failed', `access list ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { allowed?: unknown }).allowed;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
    throw new TarmacError('validation_failed', `access list ${file} must be a list of names or {"allowed": [...]}`);
  }
  return list;
}

function filesystemConnector(config: Extract<ConnectorConfig, { type: 'filesystem' }>): Connector {
  return {
    read: async () => {
      const root = path.resolve(config.path);
      if (!existsSync(root) || !statSync(root).isDirectory()) throw new TarmacError('source_unavailable', `folder ${root} does not exist`);
      const include = (config.include ?? ['**/*']).map(globToRegExp);
      const exclude = (config.exclude ?? []).map(globToRegExp);
      async function* walk(dir: string, inherited: string[] | undefined): AsyncGenerator<SourceDocument> {
        const folderAcl = readAcl(path.join(dir, FOLDER_ACL)) ?? inherited;
        for (const name of readdirSync(dir).sort()) {
          const full = path.join(dir, name);
          const rel = path.relative(root, full).split(path.sep).join('/');
          const stat = statSync(full);
          if (stat.isDirectory()) {
            yield* walk(full, folderAcl);
            continue;
          }
          if (name.endsWith(ACL_SUFFIX) || !include.some((r) => r.test(rel)) || exclude.some((r) => r.test(rel))) continue;
          yield {
            id: rel,
            fileName: name,
            content: readFileSync(full),
            metadata: { path: rel, bytes: stat.size },
            updatedAt: stat.mtime,
            allowed: readAcl(`${full}${ACL_SUFFIX}`) ?? folderAcl,
          };
        }
      }
      return { documents: walk(root, undefined), complete: () => true, cursor: () => null };
    },
  };
}

function recordsConnector(config: Extract<ConnectorConfig, { type: 'records' }>): Connector {
  return {
    read: async () => {
      const file = path.resolve(config.path);
      if (!existsSync(file)) throw new TarmacError('source_unavailable', `file ${file} does not exist`);
      const format = config.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl');
      async function* rows(): AsyncGenerator<{ line: number; fields: Record<string, unknown> | null; problem?: string }> {
        if (format === 'csv') {
          let invalid = 0;
          const parser = createReadStream(file).pipe(parseCsv({ columns: true, bom: true, relax_column_count: true, skip_empty_lines: true, info: true }));
          for await (const row of parser as AsyncIterable<{ record: Record<string, unknown>; info: { lines: number; invalid_field_length: number } }>) {
            // The parser counts ragged rows cumulatively.
            const ragged = row.info.invalid_field_length > invalid;
            invalid = row.info.invalid_field_length;
            yield { line: row.info.lines, fields: row.record, ...(ragged ? { problem: 'ragged row: the number of fields differs from the header' } : {}) };
          }
          return;
        }
        let line = 0;
        for await (const text of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
          line++;
          if (text.trim() === '') continue;
          try {
            const value = JSON.parse(text) as unknown;
            if (typeof value !== 'object' || value === null || Array.isArray(value)) yield { line, fields: null, problem: 'not a JSON object' };
            else yield { line, fields: value as Record<string, unknown> };
          } catch (err) {
            yield { line, fields: null, problem: `invalid JSON: ${(err as Error).message}` };
          }
        }
      }
      async function* documents(): AsyncGenerator<SourceDocument> {
        for await (const row of rows()) {
          const key = row.fields?.[config.key];
          const id = key === undefined || key === null || key === '' ? `line:${row.line}` : asText(key);
          if (row.problem || !row.fields || id.startsWith('line:')) {
            // Quarantined by the field rules: a record without its key or a broken row.
            yield { id, fields: row.fields ?? {}, problem: row.problem ?? `missing key field ${config.key}` };
            continue;
          }
          const title = config.titleField ? row.fields[config.titleField] : undefined;
          if (!config.allowedField) {
            yield { id, title: title === undefined ? id : asText(title), fields: row.fields, metadata: { line: row.line } };
            continue;
          }
          // The access list is how the record is guarded, not one of its fields.
          const { [config.allowedField]: list, ...fields } = row.fields;
          yield { id, title: title === undefined ? id : asText(title), fields, metadata: { line: row.line }, allowed: accessList(list) };
        }
      }
      return { documents: documents(), complete: () => true, cursor: () => null };
    },
  };
}

/** A record's access list: a JSON list, or names separated by commas or semicolons; absent: none given. */
function accessList(value: unknown): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) return value.map(asText);
  return asText(value).split(/[;,]/).map((name) => name.trim()).filter(Boolean);
}

/** Reads `a.b.0.c` from a value. */
export function pick(value: unknown, dotPath: string): unknown {
  let v = value;
  for (const part of dotPath.split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function httpConnector(config: Extract<ConnectorConfig, { type: 'http' }>, env: NodeJS.ProcessEnv): Connector {
  return {
    read: async ({ cursor }) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (config.auth) {
        const secret = env[config.auth.env];
        if (!secret) throw new TarmacError('config_invalid', `environment variable ${config.auth.env} (the auth header of this source) is not set`);
        headers[config.auth.header] = `${config.auth.prefix}${secret}`;
      }
      let newest: string | null = null;
      const f = config.fields;
      async function* documents(): AsyncGenerator<SourceDocument> {
        let url: URL | null = new URL(config.url);
        if (cursor && config.updatedSinceParam) url.searchParams.set(config.updatedSinceParam, cursor);
        let pages = 0;
        while (url && pages++ < 100_000) {
          let response: Response;
          try {
            response = await fetch(url, { headers, signal: AbortSignal.timeout(config.timeoutMs) });
          } catch (err) {
            throw new TarmacError('source_unavailable', `GET ${url.origin}${url.pathname} failed: ${(err as Error).message}`);
          }
          if (!response.ok) throw new TarmacError('source_unavailable', `GET ${url.origin}${url.pathname} answered HTTP ${response.status}`);
          const page: unknown = await response.json().catch(() => {
            throw new TarmacError('source_unavailable', `GET ${url?.pathname} did not return JSON`);
          });
          const items = pick(page, config.itemsPath);
          if (!Array.isArray(items)) throw new TarmacError('source_unavailable', `the page has no array at ${config.itemsPath}`);
          for (const item of items) {
            const id = pick(item, f.id);
            if (id === undefined || id === null) continue;
            const updated = f.updatedAt ? pick(item, f.updatedAt) : undefined;
            if (typeof updated === 'string' && (newest === null || updated > newest)) newest = updated;
            const allowed = f.allowed ? pick(item, f.allowed) : undefined;
            const title = f.title ? pick(item, f.title) : undefined;
            yield {
              id: asText(id),
              title: title === undefined ? undefined : asText(title),
              content: asText(pick(item, f.text)),
              format: 'text',
              updatedAt: typeof updated === 'string' ? new Date(updated) : null,
              allowed: Array.isArray(allowed) ? allowed.map(String) : undefined,
              deleted: f.deleted ? pick(item, f.deleted) === true : false,
            };
          }
          const next = config.nextPath ? pick(page, config.nextPath) : undefined;
          if (typeof next !== 'string' || next === '') url = null;
          else if (config.cursorParam) {
            url = new URL(url);
            url.searchParams.set(config.cursorParam, next);
          } else url = new URL(next, url);
        }
      }
      return { documents: documents(), complete: () => !cursor || !config.updatedSinceParam, cursor: () => newest };
    },
  };
}

function postgresConnector(config: Extract<ConnectorConfig, { type: 'postgres' }>, env: NodeJS.ProcessEnv): Connector {
  return {
    read: async ({ cursor }) => {
      const url = env[config.urlEnv];
      if (!url) throw new TarmacError('config_invalid', `environment variable ${config.urlEnv} (the database URL of this source) is not set`);
      if (!config.table && !config.query) throw new TarmacError('config_invalid', 'a postgres source needs a table or a query');
      const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
      const from = config.table ? config.table.split('.').map(q).join('.') : `(${config.query}) as src`;
      const incremental = Boolean(cursor && config.cursorColumn);
      const sql = `select * from ${from}${incremental ? ` where ${q(config.cursorColumn!)} > $1` : ''}${config.cursorColumn ? ` order by ${q(config.cursorColumn)}` : ''}`;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => undefined);
        throw new TarmacError('source_unavailable', `cannot connect to the source database: ${(err as Error).message}`);
      }
      let rows: Record<string, unknown>[];
      try {
        rows = (await client.query(sql, incremental ? [cursor] : [])).rows as Record<string, unknown>[];
      } catch (err) {
        throw new TarmacError('source_unavailable', `the source query failed: ${(err as Error).message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
      let newest: string | null = null;
      async function* documents(): AsyncGenerator<SourceDocument> {
        for (const row of rows) {
          const c = config.cursorColumn ? row[config.cursorColumn] : undefined;
          if (c !== undefined && c !== null) newest = asText(c);
          const allowed = config.allowedColumn ? row[config.allowedColumn] : undefined;
          yield {
            id: asText(row[config.idColumn]),
            title: config.titleColumn ? asText(row[config.titleColumn]) : undefined,
            content: asText(row[config.textColumn]),
            format: 'text',
            updatedAt: c instanceof Date ? c : null,
            allowed: Array.isArray(allowed) ? allowed.map(String) : undefined,
          };
        }
      }
      return { documents: documents(), complete: () => !incremental, cursor: () => newest };
    },
  };
}

/** The connector for a source's config. `push` sources have none: documents arrive through the API. */
export function connectorFor(config: ConnectorConfig, env: NodeJS.ProcessEnv = process.env): Connector {
  switch (config.type) {
    case 'filesystem':
      return filesystemConnector(config);
    case 'records':
      return recordsConnector(config);
    case 'http':
      return httpConnector(config, env);
    case 'postgres':
      return postgresConnector(config, env);
    case 'push':
      throw new TarmacError('bad_request', 'a push source has nothing to sync: documents arrive through POST /api/v1/sources/{source}/documents');
  }
}

/**
 * Sources: connectors (push, filesystem, records, http, postgres), parsing, structure-aware chunking,
 * incremental sync with atomic replacement by content hash, field rules and quarantine, freshness.
 *
 * @example
 * const sources = new SourceService(db, audit, { maxDocumentBytes: 50 * 1024 * 1024 });
 * await sources.declare(caller, { name: 'handbook', team: 'hr', connector: { type: 'push' }, acl: { default: ['*'] } });
 * await sources.push(caller, 'handbook', [{ id: 'leave.md', text: '# Leave\nTwenty days a year.' }]);
 */
export { chunkDocument, type Chunk, type ChunkOptions } from './chunk.js';
export { loadTokenizer, type Tokenizer } from './tokens.js';
export { connectorFor, globToRegExp, type Connector, type Listing } from './connectors.js';
export { decodeText, type TextEncoding } from './encoding.js';
export { applyFieldRules, resolveAllowed, type SourceDocument } from './ingest.js';
export { DOCUMENT_FORMATS, formatOf, parseDocument, type Block, type DocumentFormat, type ParsedDocument } from './parse.js';
export { missingDocuments, missingSources, recordVersions, type RecordVersion, type SourceRow, type SyncRunRow } from './sources.repository.js';
export { dueSources, isValidCron } from './schedule.js';
export { EntityField, PushedDocument, Source, SourceSpec, SourceStatus, SyncCounts, SyncResult, type SourceSpecInput } from './sources.schema.js';
export { declareSource, freshnessOf, sourceDiff, SourceService, sourceView, type Entity } from './sources.service.js';
export { emptyCounts } from './sync.service.js';
export { capability } from './capability.js';

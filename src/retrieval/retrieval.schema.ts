import { z } from 'zod';
import { EntityField } from '../sources/index.js';

export const SEARCH_MODES = ['lexical', 'vector', 'hybrid'] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

/** One search result: a chunk, where it comes from, and how fresh its source is. */
export const SearchHit = z.object({
  chunkId: z.number(),
  source: z.string(),
  sourceId: z.string(),
  documentId: z.string(),
  version: z.number(),
  title: z.string(),
  text: z.string(),
  sectionPath: z.array(z.string()),
  start: z.number(),
  end: z.number(),
  tokenCount: z.number(),
  classification: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  score: z.number(),
  indexedAt: z.string(),
  stale: z.boolean(),
});
export type SearchHit = z.output<typeof SearchHit>;

/** The ranking a search used (`lexical` when vectors failed), what it found, and why it fell back, if it did. */
export const Retrieved = z.object({ mode: z.enum(SEARCH_MODES), results: z.array(SearchHit), warnings: z.array(z.string()) });
export type Retrieved = z.output<typeof Retrieved>;

export const SearchResult = Retrieved.extend({ query: z.string(), as: z.string() });
export type SearchResult = z.output<typeof SearchResult>;

/** One chunk in a manifest. */
export const ManifestChunk = z.object({
  ref: z.number().describe('Its passage number in the context (records come first: the first chunk is not always 1)'),
  chunkId: z.number(),
  documentId: z.string(),
  version: z.number(),
  source: z.string(),
  title: z.string(),
  sectionPath: z.array(z.string()),
  start: z.number(),
  end: z.number(),
  score: z.number(),
  tokens: z.number(),
  classification: z.string(),
  freshness: z.object({ indexedAt: z.string(), stale: z.boolean() }),
});
export type ManifestChunk = z.output<typeof ManifestChunk>;

/** A rule that changed what the context holds, or a fallback that applied. */
export const FiredRule = z.object({
  rule: z.string(),
  detail: z.string(),
  chunkId: z.number().optional(),
  action: z.enum(['fail', 'warn', 'proceed_flagged']).optional(),
});
export type FiredRule = z.output<typeof FiredRule>;

/** Exactly what a context was made of, and why. */
export const ContextManifest = z.object({
  query: z.string(),
  as: z.string(),
  assembledAt: z.string(),
  tokenBudget: z.number(),
  tokensUsed: z.number(),
  chunks: z.array(ManifestChunk),
  lookups: z.array(
    z.object({
      name: z.string(),
      key: z.string(),
      found: z.boolean(),
      fields: z.record(z.string(), EntityField.nullable()),
      sources: z.array(z.object({ name: z.string(), stale: z.boolean(), lagSeconds: z.number().nullable() })),
    }),
  ),
  rules: z.array(FiredRule),
  flagged: z.boolean(),
  warnings: z.array(z.string()),
});
export type ContextManifest = z.output<typeof ContextManifest>;

/**
 * One numbered passage of an assembled context, as data: a looked-up record or a retrieved chunk. Its `id` is
 * its number (`"1"`), the `[1]` the model sees and cites; `text` is what the passage says, without its label.
 */
export const ContextPassage = z.object({
  id: z.string(),
  kind: z.enum(['record', 'chunk']),
  label: z.string().describe('The line above the text in the prompt: `[1] kb/roofs.md v2 § Roof age`, `[2] record customer (c1)`'),
  text: z.string(),
  source: z.string(),
  documentId: z.string().describe("The chunk's document, or the record's entity key"),
  title: z.string(),
  chunkId: z.number().nullable().describe('Null for a record'),
});
export type ContextPassage = z.output<typeof ContextPassage>;

export const AssembledContext = z.object({
  context: z.string().describe('The passages, rendered for the prompt'),
  passages: z.array(ContextPassage),
  manifest: ContextManifest,
});
export type AssembledContext = z.output<typeof AssembledContext>;

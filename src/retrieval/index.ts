/**
 * Retrieval: lexical search (BM25 on PostgreSQL full-text search) that always runs as a caller, with the
 * access filter inside the ranking query, metadata filters and near-duplicate collapse.
 *
 * @example
 * const retrieval = new RetrievalService(db, sources);
 * const { results } = await retrieval.search(principal, { query: 'claims deadline', k: 5 });
 */
export { ContextAssembler, ContextRecipe, renderContext, type AssembledContext, type ContextManifest, type ContextPassage, type ContextRecipeInput, type FiredRule, type ManifestChunk } from './context.service.js';
export { EMBEDDINGS_FAILURES, EmbeddingsFailure, fuse, VectorIndex, type EmbeddingsConfig, type EmbeddingsFailureReason } from './vector.service.js';
export { hitView, LEXICAL_FALLBACK_WARNING, RetrievalService, SEARCH_MODES, type Retrieved, type SearchHit, type SearchMode, type SearchIdentity, type SearchInput, type SearchResult } from './retrieval.service.js';
export { capability } from './capability.js';

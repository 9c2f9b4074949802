/**
 * Retrieval: lexical search (BM25 on PostgreSQL full-text search) that always runs as a caller, with the
 * access filter inside the ranking query, metadata filters and near-duplicate collapse.
 *
 * @example
 * const retrieval = new RetrievalService(db, sources);
 * const { results } = await retrieval.search(principal, { query: 'claims deadline', k: 5 });
 */
export { ContextAssembler, ContextRecipe, renderContext, type ContextRecipeInput } from './context.service.js';
export { AssembledContext, ContextManifest, ContextPassage, FiredRule, ManifestChunk, Retrieved, SEARCH_MODES, SearchHit, SearchResult, type SearchMode } from './retrieval.schema.js';
export { EMBEDDINGS_FAILURES, EmbeddingsFailure, fuse, VectorIndex, type EmbeddingsConfig, type EmbeddingsFailureReason } from './vector.service.js';
export { hitView, LEXICAL_FALLBACK_WARNING, RetrievalService, type SearchIdentity, type SearchInput } from './retrieval.service.js';
export { capability } from './capability.js';

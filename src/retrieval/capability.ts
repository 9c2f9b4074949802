import { defineCapability } from '../capability/index.js';
import { capability as sources } from '../sources/index.js';
import { registerRetrievalRoutes } from './retrieval.routes.js';
import { RetrievalService } from './retrieval.service.js';
import { VectorIndex, type EmbeddingsConfig } from './vector.service.js';

export const capability = defineCapability({
  name: 'retrieval',
  needs: [sources],
  /** `embeddings`: vector search over that endpoint instead of the configured one. */
  build: ({ db, sources, config, logger, serving }, options?: { embeddings?: EmbeddingsConfig }) => {
    const embeddings =
      options?.embeddings ??
      (config.embeddingsUrl
        ? { url: config.embeddingsUrl, model: config.embeddingsModel, apiKey: config.embeddingsApiKey, dimensions: config.embeddingsDimensions, queryTimeoutMs: config.embeddingsQueryTimeoutMs }
        : null);
    const vectors = embeddings
      ? new VectorIndex(db, embeddings, (err: unknown) => logger.warn({ err }, 'embedding new chunks failed; they stay searchable lexically and are retried'))
      : null;
    if (vectors) {
      sources.writer.onIndexed(() => vectors.schedule());
      sources.trackEmbeddings((sourceId) => vectors.pending(sourceId));
      // Chunks a previous server left without embeddings are taken up at start.
      if (serving) vectors.schedule();
    }
    return new RetrievalService(db, sources, vectors);
  },
  routes: (app, retrieval) => registerRetrievalRoutes(app, retrieval),
  metrics: (retrieval, metrics) => retrieval.onFallback((reason) => metrics.retrievalFallback(reason)),
  close: (retrieval) => retrieval.close(),
});

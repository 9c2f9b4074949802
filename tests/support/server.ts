// An HTTP server over test services, driven with app.inject (no socket).
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../../src/http/index.js';
import type { EmbeddingsConfig } from '../../src/retrieval/index.js';
import { openTestServices, type TestServices } from './services.js';

export interface TestServer extends TestServices {
  app: FastifyInstance;
  /** Every log line the server wrote. */
  logs: string[];
}

export async function openTestServer(
  options: { bodyLimit?: number; maxDocumentBytes?: number; reviewClock?: () => Date; reviewNotify?: (url: string, payload: unknown) => Promise<void>; embeddings?: EmbeddingsConfig } = {},
): Promise<TestServer> {
  const services = await openTestServices({
    review: { ...(options.reviewClock ? { now: options.reviewClock } : {}), ...(options.reviewNotify ? { notify: options.reviewNotify } : {}) },
    ...(options.embeddings ? { embeddings: options.embeddings } : {}),
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const app = await buildServer(
    { db: services.db, registry: services.registry, version: 'test' },
    { bodyLimit: options.bodyLimit ?? 1024 * 1024, maxDocumentBytes: options.maxDocumentBytes ?? 1024 * 1024, logLevel: 'info', logStream },
  );
  return {
    ...services,
    app,
    logs,
    close: async () => {
      await app.close();
      await services.close();
    },
  };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

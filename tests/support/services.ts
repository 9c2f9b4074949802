// Services over a test database, installed with a known admin key: what integration tests build on. They are
// built from the app's capability list, as the server builds them.
import { pino } from 'pino';
import type { Principal } from '../../src/access/index.js';
import { CAPABILITIES, type CapabilityOptions, type CapabilityServices } from '../../src/app/index.js';
import { generateSigningKey } from '../../src/audit/index.js';
import { composeCapabilities, type Registry } from '../../src/capability/index.js';
import { loadConfig } from '../../src/config/index.js';
import type { ReviewOptions } from '../../src/review/index.js';
import type { EmbeddingsConfig } from '../../src/retrieval/index.js';
import { openTestDatabase, type TestDatabase } from './db.js';

export interface TestServices extends TestDatabase, CapabilityServices {
  registry: Registry;
  adminToken: string;
  admin: Principal;
}

/** `embeddings`: vector search over that endpoint, wired as the server wires it (embedding after writes, retries, status). */
export async function openTestServices(options: { checkpointEvery?: number; maxDocumentBytes?: number; review?: ReviewOptions; embeddings?: EmbeddingsConfig; now?: () => Date } = {}): Promise<TestServices> {
  const base = await openTestDatabase();
  const signingKey = generateSigningKey();
  const config = loadConfig({
    TARMAC_AUDIT_CHECKPOINT_EVERY: String(options.checkpointEvery ?? 1000),
    TARMAC_MAX_DOCUMENT_BYTES: String(options.maxDocumentBytes ?? 1024 * 1024),
  });
  const capabilityOptions: CapabilityOptions = {
    audit: { signingKey, trustedPublicKey: signingKey.publicKeyPem },
    gateway: { configTtlMs: 0 },
    review: options.review ?? {},
    ...(options.now ? { evals: { now: options.now } } : {}),
    ...(options.embeddings ? { retrieval: { embeddings: options.embeddings } } : {}),
  };
  const { services, registry } = await composeCapabilities(CAPABILITIES, { config, db: base.db, logger: pino({ level: 'silent' }), localDir: null, serving: false }, capabilityOptions);
  let adminToken = '';
  await services.identity.bootstrap({
    adminEmail: 'admin@tarmac.local',
    auditPublicKey: signingKey.publicKeyPem,
    persistKey: (token) => {
      adminToken = token;
    },
  });
  const admin = await services.identity.authenticate(adminToken);
  return {
    ...base,
    ...services,
    registry,
    close: async () => {
      await registry.close();
      await base.close();
    },
    adminToken,
    admin,
  };
}

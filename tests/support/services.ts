// Services over a test database, installed with a known admin key: what integration tests build on.
import type { Principal } from '../../src/access/index.js';
import { AuditLog, generateSigningKey } from '../../src/audit/index.js';
import { EvalService } from '../../src/evals/index.js';
import { IdentityService } from '../../src/identity/index.js';
import { GatewayService } from '../../src/gateway/index.js';
import { PolicyService } from '../../src/policies/index.js';
import { PromptService } from '../../src/prompts/index.js';
import { ReviewService, type ReviewOptions } from '../../src/review/index.js';
import { RunService } from '../../src/runs/index.js';
import { UseCaseService } from '../../src/usecases/index.js';
import { RetrievalService, VectorIndex, type EmbeddingsConfig } from '../../src/retrieval/index.js';
import { SourceService } from '../../src/sources/index.js';
import { WorkspaceService } from '../../src/workspace/index.js';
import { openTestDatabase, type TestDatabase } from './db.js';

export interface TestServices extends TestDatabase {
  audit: AuditLog;
  identity: IdentityService;
  policies: PolicyService;
  prompts: PromptService;
  usecases: UseCaseService;
  runs: RunService;
  review: ReviewService;
  evals: EvalService;
  workspace: WorkspaceService;
  sources: SourceService;
  retrieval: RetrievalService;
  gateway: GatewayService;
  adminToken: string;
  admin: Principal;
}

/** `embeddings`: vector search over that endpoint, wired as the server wires it (embedding after writes, retries, status). */
export async function openTestServices(options: { checkpointEvery?: number; maxDocumentBytes?: number; review?: ReviewOptions; embeddings?: EmbeddingsConfig; now?: () => Date } = {}): Promise<TestServices> {
  const base = await openTestDatabase();
  const signingKey = generateSigningKey();
  const audit = new AuditLog(base.db, { checkpointEvery: options.checkpointEvery ?? 1000, signingKey, trustedPublicKey: signingKey.publicKeyPem });
  const identity = new IdentityService(base.db, audit);
  let adminToken = '';
  await identity.bootstrap({
    adminEmail: 'admin@tarmac.local',
    auditPublicKey: signingKey.publicKeyPem,
    persistKey: (token) => {
      adminToken = token;
    },
  });
  const admin = await identity.authenticate(adminToken);
  const sources = new SourceService(base.db, audit, { maxDocumentBytes: options.maxDocumentBytes ?? 1024 * 1024 });
  const gateway = new GatewayService(base.db, { configTtlMs: 0 });
  const policies = new PolicyService(base.db);
  const prompts = new PromptService(base.db, audit);
  const usecases = new UseCaseService(base.db, audit);
  const vectors = options.embeddings ? new VectorIndex(base.db, options.embeddings) : null;
  if (vectors) {
    sources.writer.onIndexed(() => vectors.schedule());
    sources.trackEmbeddings((sourceId) => vectors.pending(sourceId));
  }
  const retrieval = new RetrievalService(base.db, sources, vectors);
  const review = new ReviewService(base.db, audit, options.review ?? {});
  const runs = new RunService(base.db, { audit, review, usecases, prompts, retrieval, gateway });
  review.connect(runs);
  const evals = new EvalService(base.db, { audit, identity, usecases, runs, gateway, ...(options.now ? { now: options.now } : {}) });
  usecases.connectGate(evals);
  prompts.connectGate(evals);
  const workspace = new WorkspaceService(base.db, audit);
  workspace.connectGates({ stage: evals, label: evals });
  return {
    ...base,
    close: async () => {
      await evals.stop();
      await retrieval.close();
      await gateway.close();
      await base.close();
    },
    gateway,
    audit,
    identity,
    policies,
    prompts,
    usecases,
    runs,
    review,
    evals,
    workspace,
    sources,
    retrieval,
    adminToken,
    admin,
  };
}

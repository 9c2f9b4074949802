// Semantic similarity of answers to expected answers, when an embedding provider is configured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { DIM, startEmbeddingsStub, type EmbeddingsStub } from '../../tests/support/embeddings-stub.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

describe(`semantic similarity in eval runs (${BACKEND})`, () => {
  let s: TestServices;
  let stub: EmbeddingsStub;
  beforeAll(async () => {
    stub = await startEmbeddingsStub();
    s = await openTestServices({ embeddings: { url: stub.url, model: 'stub', dimensions: DIM } });
    await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6 } } });
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  it('scores the answer against the expected one by embeddings, and leaves it out when the provider fails', async () => {
    const cases = [
      { id: 'close', input: 'What is the maximum roof age for a standard homeowners policy?', expected: 'A standard homeowners policy may be written for roofs up to 20 years old.' },
      { id: 'far', input: 'When is an inspection required before binding?', expected: 'Bananas ripen faster in paper bags.' },
    ];
    await s.evals.createDataset({ principal: s.admin }, { name: 'sim', team: 'underwriting' }, cases);
    const run = await s.evals.start({ principal: s.admin }, { useCase: 'uw', dataset: 'sim', trials: 1 });
    await s.evals.idle();
    const detail = await s.evals.get({ principal: s.admin }, run.id);
    const close = detail.cases.find((c) => c.caseId === 'close')!.metrics['answer.similarity']!;
    const far = detail.cases.find((c) => c.caseId === 'far')!.metrics['answer.similarity']!;
    expect(close).toBeGreaterThan(0.7);
    expect(far).toBeLessThan(close);
    stub.behave('fail');
    const failed = await s.evals.start({ principal: s.admin }, { useCase: 'uw', dataset: 'sim', trials: 1 });
    await s.evals.idle();
    const without = await s.evals.get({ principal: s.admin }, failed.id);
    expect(without.status).toBe('completed');
    expect(without.summary!.metrics['answer.similarity']).toBeUndefined();
  });
});

// The LLM-as-judge groundedness check against a local stub upstream: which score decides, and judge failures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, runOverHttp, stubGatewayYaml, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

const QUESTION = 'What is the maximum roof age for a standard homeowners policy?';

const gatewayYaml = (url: string) =>
  stubGatewayYaml(
    url,
    `    - { name: judge-low, targets: [{ provider: stub, model: judge-0.3 }] }
    - { name: judge-high, targets: [{ provider: stub, model: judge-0.9 }] }
    - { name: judge-garbage, targets: [{ provider: stub, model: ok }] }
    - { name: judge-down, retries: 0, targets: [{ provider: stub, model: fail-500 }] }
  prices:
    - { model: judge-0.3, inputPerMillion: 1000, outputPerMillion: 1000 }
`,
  );

describe(`the judge model (${BACKEND})`, () => {
  let s: TestServer;
  let stub: StubOpenAi;
  let token: string;

  const declare = (name: string, judge: Record<string, unknown>, belowThreshold: 'flagged' | 'held_for_review' = 'held_for_review') =>
    s.usecases.declare(
      { principal: s.admin },
      { name, team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.6, belowThreshold, judge } },
    );
  const run = (useCase: string) => runOverHttp(s, token, useCase, QUESTION);

  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServer();
    await s.workspace.applyAs({ actor: systemActor('test') }, gatewayYaml(stub.url), 'gateway.yaml', { dryRun: false });
    token = await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'no-judge', posture: { deliverThreshold: 0.6 } } });
    await declare('judge-decides', { model: 'judge-low', decides: 'judge' });
    await declare('offline-decides', { model: 'judge-low', decides: 'offline' });
    await declare('lowest-decides', { model: 'judge-high' });
    await declare('garbage-falls-back', { model: 'judge-garbage' });
    await declare('garbage-holds', { model: 'judge-garbage', onFailure: 'hold' }, 'flagged');
    await declare('judge-down', { model: 'judge-down' });
  });
  afterAll(async () => {
    await s.close();
    await stub.close();
  });

  it('records both scores; the judge decides when the posture says so', async () => {
    const { result, record } = await run('judge-decides');
    expect(result.decision).toBe('held_for_review');
    expect(result.reasons).toEqual([{ code: 'groundedness_below_threshold', message: 'groundedness 0.30 below 0.6 (judge)' }]);
    expect(record.groundedness).toMatchObject({ score: 0.3, decidedBy: 'judge', judge: { model: 'judge-low', score: 0.3, error: null } });
    expect(record.groundedness!.offlineScore).toBeGreaterThanOrEqual(0.6);
    expect(record.spans.map((sp) => sp.name)).toContain('judge');
    expect(record.costUsd).toBeGreaterThan(0);
    const asked = stub.requests.at(-1)!.body;
    expect(asked).toMatchObject({ model: 'judge-0.3', temperature: 0 });
    const prompt = asked.messages!.map((m) => String(m.content)).join('\n');
    expect(prompt).toContain('roofs up to 20 years old');
    expect(prompt).toMatch(/Claims:\n1\. /);
  });

  it('lets the offline score decide, or the lower of the two', async () => {
    const offline = await run('offline-decides');
    expect(offline.result.decision).toBe('delivered');
    expect(offline.record.groundedness).toMatchObject({ decidedBy: 'offline', judge: { score: 0.3 } });
    expect(offline.record.groundedness!.score).toBe(offline.record.groundedness!.offlineScore);

    const lowest = await run('lowest-decides');
    expect(lowest.result.decision).toBe('delivered');
    expect(lowest.record.groundedness!.score).toBe(Math.min(0.9, lowest.record.groundedness!.offlineScore));
    expect(lowest.record.groundedness!.judge).toMatchObject({ score: 0.9 });
  });

  it('records a malformed verdict and falls back to the offline score, or holds when configured', async () => {
    const fallback = await run('garbage-falls-back');
    expect(fallback.result.decision).toBe('delivered');
    expect(fallback.record.groundedness).toMatchObject({ decidedBy: 'offline', judge: { model: 'judge-garbage', score: null, error: expect.stringContaining('judge_malformed') } });

    const held = await run('garbage-holds');
    expect(held.result).toMatchObject({ decision: 'held_for_review', answer: null });
    expect(held.result.reasons).toEqual([{ code: 'judge_failed', message: expect.stringMatching(/^judge_failed: judge_malformed: the judge did not answer JSON/) }]);
  });

  it('records a judge whose upstream fails, and still answers on the offline score', async () => {
    const { result, record } = await run('judge-down');
    expect(result.decision).toBe('delivered');
    expect(record.groundedness!.judge).toMatchObject({ score: null, error: expect.stringContaining('upstream_error') });
  });

  it('streams after the decision when a failed judge could hold the answer', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/usecases/garbage-holds/runs', headers: bearer(token), payload: { input: QUESTION, stream: true } });
    expect(res.payload).toContain('"delivery":"after_decision"');
    expect(res.payload).not.toContain('event: delta');
  });
});

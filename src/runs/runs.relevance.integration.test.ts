// Answer relevance in the output guard: an answer fully grounded in its context that does not address the
// question is held (reason answer_not_relevant) instead of delivered; the posture's relevanceThreshold decides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, runOverHttp, stubGatewayYaml, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

// Shares "older than 20 years" with the guide, so the guide is retrieved; the guide says nothing of spaceships.
const OFF_TOPIC = 'Do you insure spaceships older than 20 years?';
const ON_TOPIC = 'What is the maximum roof age for a standard homeowners policy?';

describe(`answer relevance (${BACKEND})`, () => {
  let s: TestServer;
  let stub: StubOpenAi;
  let token: string;
  const run = async (useCase: string, input: string) => {
    const ran = await runOverHttp(s, token, useCase, input);
    expect([200, 202]).toContain(ran.status);
    return ran;
  };

  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServer();
    await s.workspace.applyAs({ actor: systemActor('test') }, stubGatewayYaml(stub.url, '    - { name: quoting, targets: [{ provider: stub, model: quote }] }\n'), 'gateway.yaml', { dryRun: false });
    token = await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw-local', posture: { deliverThreshold: 0.6 } } });
    const declare = (name: string, posture: Record<string, unknown>) =>
      s.usecases.declare({ principal: s.admin }, { name, team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'quoting', posture });
    await declare('uw-quoting', { deliverThreshold: 0.6 });
    await declare('uw-quoting-lenient', { deliverThreshold: 0.6, relevanceThreshold: 0 });
    await declare('uw-quoting-flags', { deliverThreshold: 0.6, belowThreshold: 'flagged' });
  });
  afterAll(async () => {
    await s.close();
    await stub.close();
  });

  it('delivers a grounded answer to the question it was asked, and records its relevance', async () => {
    const { result, record } = await run('uw-quoting', ON_TOPIC);
    expect(result.answer).toBe('A standard homeowners policy may be written for roofs up to 20 years old.');
    expect(result).toMatchObject({ decision: 'delivered', reasons: [], groundedness: { score: 1 } });
    expect(result.relevance!.score).toBeGreaterThanOrEqual(0.5);
    expect(record.relevance).toMatchObject({ threshold: 0.5, contextScore: expect.any(Number) });
    expect(record.relevance!.missing).not.toContain('roof');
  });

  it('holds a grounded answer that does not address the question, naming what it leaves out', async () => {
    const { result, record } = await run('uw-quoting', OFF_TOPIC);
    // Groundedness alone would deliver it: the quoted sentence is the context's own.
    expect(result.groundedness!.score).toBe(1);
    expect(result.decision).toBe('held_for_review');
    expect(result.answer).toBeNull();
    expect(result.relevance!.score).toBeLessThan(0.5);
    // What the answer leaves out is withheld with the answer, and shown to reviewers.
    expect(result.relevance!.missing).toEqual([]);
    expect(record.relevance!.missing).toEqual(expect.arrayContaining(['spaceships']));
    expect(result.reasons).toEqual([{ code: 'answer_not_relevant', message: expect.stringMatching(/^answer_not_relevant: relevance 0\.\d\d below 0\.5 \(not addressed: .*spaceships/) }]);
  });

  it('follows the posture: no threshold delivers, belowThreshold flagged flags', async () => {
    expect((await run('uw-quoting-lenient', OFF_TOPIC)).result).toMatchObject({ decision: 'delivered', reasons: [] });
    const flagged = (await run('uw-quoting-flags', OFF_TOPIC)).result;
    expect(flagged.decision).toBe('flagged');
    expect(flagged.answer).toContain('20 years');
  });

  it('local/extractive says it has no answer rather than quote what does not address the question', async () => {
    const { result } = await run('uw-local', OFF_TOPIC);
    expect(result.decision).toBe('held_for_review');
    const { record } = await run('uw-local', OFF_TOPIC);
    expect(record.answer).toMatch(/no sentence in the provided messages supports an answer/);
    expect((await run('uw-local', ON_TOPIC)).record.answer).toMatch(/roofs up to 20 years old/);
  });
});

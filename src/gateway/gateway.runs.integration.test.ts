// Personal data in a governed run's context: what the answering model and the judge receive through the gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor } from '../access/index.js';
import { declareRunFixture, underwritingTeam } from '../../tests/support/runs.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';

const RECORD = `# Incident log

The incident record: 203.0.113.42. The host 2001:db8::8a2e:370:7334: approved for the roof claims portal.`;

describe('personal data in governed runs', () => {
  let s: TestServer;
  let stub: StubOpenAi;
  let token: string;

  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServer();
    const yaml = `version: 1
policies:
  - name: default
    egress: { public: ["*"], internal: ["*"], confidential: ["*"], restricted: ["local"] }
    pii: { default: redact }
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: ${stub.url} }
  routes:
    - { name: answer, targets: [{ provider: stub, model: ok }] }
    - { name: judge, targets: [{ provider: stub, model: judge-0.9 }] }
`;
    await s.workspace.applyAs({ actor: systemActor('test') }, yaml, 'gateway.yaml', { dryRun: false });
    token = await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'incidents.md', text: RECORD }], useCase: { name: 'incidents-offline', posture: { deliverThreshold: 0 } } });
    await s.usecases.declare(
      { principal: s.admin },
      { name: 'incidents', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'answer', posture: { deliverThreshold: 0, relevanceThreshold: 0, judge: { model: 'judge' } } },
    );
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  it('redacts IP addresses followed by punctuation in the context sent to the model and to the judge', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/usecases/incidents/runs', headers: bearer(token), payload: { input: 'Which host was approved for the portal?' } });
    expect(res.statusCode).toBe(200);
    const sent = stub.requests.map((r) => ({ model: r.body.model, text: JSON.stringify(r.body.messages) }));
    expect(sent.map((r) => r.model).sort()).toEqual(['judge-0.9', 'ok']);
    for (const r of sent) {
      expect(r.text, r.model).toContain('record: <IP>. The host <IP>: approved');
      expect(r.text, r.model).not.toMatch(/203\.0\.113|2001:db8/);
    }
  });
});

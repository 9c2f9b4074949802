// What governed-run tests share: a push source of documents, the prompt and a use case on local/extractive.
import type { RunRecord, RunResult } from '../../src/runs/index.js';
import type { UseCaseSpec } from '../../src/usecases/index.js';
import { bearer, type TestServer } from './server.js';
import type { TestServices } from './services.js';

export interface RunFixture {
  /** Documents of the push source `kb` (access default `*`). */
  docs: { id: string; text: string; allowed?: string[] }[];
  useCase: { name: string; posture: Partial<UseCaseSpec['posture']> };
}

/** Declares source `kb`, prompt `uw-answer` and the use case in team `underwriting` (owner `owner@x.io`). */
export async function declareRunFixture(s: TestServices, fixture: RunFixture): Promise<void> {
  const admin = { principal: s.admin };
  await s.sources.declare(admin, { name: 'kb', team: 'underwriting', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
  await s.sources.push(admin, 'kb', fixture.docs);
  await s.prompts.create(admin, {
    name: 'uw-answer',
    team: 'underwriting',
    labels: ['production'],
    content: {
      messages: [
        { role: 'system', content: 'Answer only from the context.\n\nContext:\n{{context}}' },
        { role: 'user', content: '{{question}}' },
      ],
      variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true } },
      model: {},
    },
  });
  await s.usecases.declare(admin, {
    name: fixture.useCase.name,
    team: 'underwriting',
    owner: 'owner@x.io',
    riskTier: 'medium',
    prompt: 'uw-answer',
    route: 'local/extractive',
    posture: fixture.useCase.posture,
  });
}

/** Creates team `underwriting` with `owner@x.io` (owner) and `analyst@x.io` (builder); returns the analyst's key. */
export async function underwritingTeam(s: TestServices): Promise<string> {
  const admin = { principal: s.admin };
  await s.identity.createTeam(admin, { name: 'underwriting' });
  for (const [email, role] of [['owner@x.io', 'owner'], ['analyst@x.io', 'builder']] as const) {
    await s.identity.createUser(admin, { email });
    await s.identity.setMember(admin, 'underwriting', email, role);
  }
  return (await s.identity.createKey(admin, { name: 'a', user: 'analyst@x.io' })).token;
}

/** A short underwriting guideline that answers the roof-age question. */
export const ROOF_GUIDE = `# Homeowners underwriting

## Roof age

A standard homeowners policy may be written for roofs up to 20 years old.
Roofs older than 20 years require an inspection by a licensed contractor before binding.`;

/** `tarmac.yaml` with an open egress policy and an openai-compatible provider `stub` at `url`; `routes` follows `routes:`. */
export const stubGatewayYaml = (url: string, routes: string) => `version: 1
policies:
  - name: default
    egress: { public: ["*"], internal: ["*"], confidential: ["*"], restricted: ["local"] }
gateway:
  providers:
    - { name: stub, type: openai-compatible, baseUrl: ${url} }
  routes:
${routes}`;

/** Runs a use case over HTTP with `token`, and reads the run's record back as an admin. */
export async function runOverHttp(s: TestServer, token: string, useCase: string, input: string): Promise<{ status: number; result: RunResult; record: RunRecord }> {
  const res = await s.app.inject({ method: 'POST', url: `/api/v1/usecases/${useCase}/runs`, headers: bearer(token), payload: { input } });
  const result = res.json<RunResult>();
  const record = (await s.app.inject({ method: 'GET', url: `/api/v1/runs/${result.runId}`, headers: bearer(s.adminToken) })).json<RunRecord>();
  return { status: res.statusCode, result, record };
}

// What governed-run tests share: a push source of documents, the prompt and a use case on local/extractive.
import type { UseCaseSpec } from '../../src/usecases/index.js';
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

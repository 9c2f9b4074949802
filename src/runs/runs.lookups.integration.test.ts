// A governed run whose recipe looks up a record: the record is a passage of the context like any chunk, so an
// answer that quotes one of its fields is supported by it and cites it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';

describe(`runs with record lookups (${BACKEND})`, () => {
  let s: TestServices;
  beforeAll(async () => {
    s = await openTestServices();
    const admin = { principal: s.admin };
    await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6 } } });
    await s.sources.declare(admin, { name: 'policies', team: 'underwriting', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
    await s.sources.push(admin, 'policies', [{ id: 'P-1001', fields: { holder: 'Jane Roe', roof_material: 'slate', roof_installed: '1998' } }]);
    await s.prompts.create(admin, {
      name: 'uw-policy',
      team: 'underwriting',
      labels: ['production'],
      content: {
        messages: [
          { role: 'system', content: 'Answer only from the context.\n\nContext:\n{{context}}' },
          { role: 'user', content: '{{question}} (policy {{policy}})' },
        ],
        variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true }, policy: { type: 'string', required: true } },
        model: {},
      },
    });
    await s.usecases.declare(admin, {
      name: 'uw-policy',
      team: 'underwriting',
      owner: 'owner@x.io',
      riskTier: 'medium',
      prompt: 'uw-policy',
      route: 'local/extractive',
      context: { sources: ['kb'], lookups: [{ name: 'policy', key: '{policy}', sources: ['policies'] }] },
      posture: { deliverThreshold: 0.6 },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('supports and cites an answer that quotes a looked-up field', async () => {
    const run = await s.runs.run({ principal: s.admin }, 'uw-policy', { input: 'What is the roof material of the policy?', variables: { policy: 'P-1001' } });
    expect(run.answer).toContain('roof_material: slate');
    expect(run.citations).toContainEqual({ ref: 1, kind: 'record', chunkId: null, documentId: 'P-1001', title: 'policy (P-1001)', source: 'policies', quote: expect.stringContaining('slate') });
    expect(run.groundedness?.unsupported ?? []).toEqual([]);
    expect(run.decision).toBe('delivered');
    const record = await s.runs.get({ principal: s.admin }, run.runId);
    // The record is passage 1; the chunks that follow are numbered after it, in the prompt as in the manifest.
    expect(record.manifest?.chunks.every((c) => c.ref > 1)).toBe(true);
  });
});

// Runs recorded before reason codes keep their reasons: migration 0046 gives each old text its code.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { REASON_CODES } from './index.js';

const MIGRATION = readFileSync(new URL('../db/migrations/0046_reason_codes.sql', import.meta.url), 'utf8');

const OLD = [
  'prompt_injection: ignore all previous instructions',
  'egress_denied: no provider of route default may receive restricted data',
  'pii_in_answer: EMAIL',
  'groundedness 0.30 below 0.6 (judge)',
  'context_flagged: source rates is past its freshness SLA',
  'judge_failed: judge_malformed: the judge did not answer JSON',
  'sampled_for_review',
  'review: speculative',
  'review: review timed out',
];

describe(`reason codes of runs recorded before them (${BACKEND})`, () => {
  let s: TestServices;
  beforeAll(async () => {
    s = await openTestServices();
    await underwritingTeam(s);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6 } } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('gives every old reason text its code and keeps the text as the message', async () => {
    const { runId } = await s.runs.run({ principal: s.admin }, 'uw', { input: 'What is the maximum roof age?' });
    const untouched = (await s.runs.run({ principal: s.admin }, 'uw', { input: 'What is the maximum roof age?' })).runId;
    const before = (await s.runs.get({ principal: s.admin }, untouched)).reasons;
    await s.db.query('update runs set reasons = $2::jsonb where id = $1', [runId, JSON.stringify(OLD)]);
    await s.db.exec(MIGRATION);
    const record = await s.runs.get({ principal: s.admin }, runId);
    expect(record.reasons).toEqual([
      { code: 'prompt_injection', message: OLD[0] },
      { code: 'egress_denied', message: OLD[1] },
      { code: 'pii_in_answer', message: OLD[2] },
      { code: 'groundedness_below_threshold', message: OLD[3] },
      { code: 'context_flagged', message: OLD[4] },
      { code: 'judge_failed', message: OLD[5] },
      { code: 'sampled_for_review', message: OLD[6] },
      { code: 'review_rejected', message: OLD[7] },
      { code: 'review_timed_out', message: OLD[8] },
    ]);
    expect(record.reasons.every((r) => (REASON_CODES as readonly string[]).includes(r.code))).toBe(true);
    // Reasons already in the new shape are left as they are.
    await s.db.exec(MIGRATION);
    expect((await s.runs.get({ principal: s.admin }, runId)).reasons).toEqual(record.reasons);
    expect((await s.runs.get({ principal: s.admin }, untouched)).reasons).toEqual(before);
  });
});

import { describe, expect, it } from 'vitest';
import { classificationRank, egressAllows, highestClassification, maxAutonomyFor, piiActionFor } from './index.js';

describe('policy evaluators', () => {
  it('ranks classifications from public to restricted', () => {
    expect(['public', 'internal', 'confidential', 'restricted'].map(classificationRank)).toEqual([0, 1, 2, 3]);
    expect(highestClassification(['internal', 'restricted', 'public'])).toBe('restricted');
    expect(highestClassification([])).toBe('public');
  });

  it('allows egress where the policy lists the provider or *, and where it says nothing', () => {
    const rules = { egress: { restricted: ['local'], confidential: ['*'] } };
    expect(egressAllows(rules, 'restricted', 'local')).toBe(true);
    expect(egressAllows(rules, 'restricted', 'openai')).toBe(false);
    expect(egressAllows(rules, 'confidential', 'openai')).toBe(true);
    expect(egressAllows(rules, 'internal', 'openai')).toBe(true);
    expect(egressAllows(null, 'restricted', 'openai')).toBe(true);
  });

  it('takes the PII action of the classification, else the default, else allow', () => {
    const rules = { pii: { default: 'redact' as const, byClassification: { public: 'allow' as const } } };
    expect(piiActionFor(rules, 'public')).toBe('allow');
    expect(piiActionFor(rules, 'internal')).toBe('redact');
    expect(piiActionFor({}, 'internal')).toBe('allow');
  });

  it('caps autonomy per risk tier', () => {
    expect(maxAutonomyFor({ autonomy: { high: 'propose' } }, 'high')).toBe('propose');
    expect(maxAutonomyFor({ autonomy: { high: 'propose' } }, 'low')).toBe('auto');
  });
});

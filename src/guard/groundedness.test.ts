import { describe, expect, it } from 'vitest';
import { FEATURE_NAMES } from './groundedness.features.js';
import { checkGroundedness, DEFAULT_CLAIM_THRESHOLD } from './groundedness.js';
import { GROUNDEDNESS_FEATURES, GROUNDEDNESS_TREES, type GroundednessTree } from './groundedness.weights.js';
import { numbers, sentences } from './text.js';

const guideline = {
  id: 'chunk-7',
  text:
    'Homeowners policies. A standard homeowners policy may be written for roofs up to 20 years old. ' +
    'Roofs older than 20 years require an inspection by a licensed contractor. ' +
    'Properties in flood zone AE need a separate flood policy from the NFIP.',
};

describe('groundedness', () => {
  it('supports claims found in the context and points at the span', () => {
    const answer = 'A standard homeowners policy covers roofs up to 20 years old [1]. Older roofs require an inspection by a licensed contractor [1].';
    const g = checkGroundedness(answer, [guideline]);
    expect(g.score).toBe(1);
    expect(g.claims).toHaveLength(2);
    const first = g.claims[0]!;
    expect(answer.slice(first.start, first.end)).toBe('A standard homeowners policy covers roofs up to 20 years old [1].');
    expect(first.support).toMatchObject({ passageId: 'chunk-7' });
    expect(guideline.text.slice(first.support!.start, first.support!.end)).toContain('roofs up to 20 years old');
  });

  it('quotes the one sentence that holds a claim, and both when the claim needs both', () => {
    const quoted = (claim: string) => {
      const support = checkGroundedness(claim, [guideline]).claims[0]!.support!;
      return guideline.text.slice(support.start, support.end);
    };
    expect(quoted('Roofs older than 20 years require an inspection by a licensed contractor.')).toBe('Roofs older than 20 years require an inspection by a licensed contractor.');
    expect(quoted('A homeowners policy may be written for roofs up to 20 years old, and older roofs require an inspection by a licensed contractor.')).toBe(
      'A standard homeowners policy may be written for roofs up to 20 years old. Roofs older than 20 years require an inspection by a licensed contractor.',
    );
  });

  it('supports a paraphrase whose words differ from the context, and scores it as a probability', () => {
    const g = checkGroundedness('A licensed contractor has to inspect roofs that are older than 20 years.', [guideline]);
    expect(g.claims[0]).toMatchObject({ supported: true, missing: [] });
    expect(g.claims[0]!.score).toBeGreaterThanOrEqual(DEFAULT_CLAIM_THRESHOLD);
    expect(g.claims[0]!.score).toBeLessThanOrEqual(1);
    expect(guideline.text.slice(g.claims[0]!.support!.start, g.claims[0]!.support!.end)).toContain('licensed contractor');
  });

  it('ranks a supported claim above an unsupported one on the same context', () => {
    const [supported, unsupported] = checkGroundedness('Roofs older than 20 years require an inspection. Pools always double the premium.', [guideline]).claims;
    expect(supported!.score).toBeGreaterThan(unsupported!.score);
    expect(unsupported!.score).toBeLessThan(DEFAULT_CLAIM_THRESHOLD);
  });

  it('learned its trees on the features in the order they are computed, splitting only on known ones', () => {
    expect(GROUNDEDNESS_FEATURES).toEqual([...FEATURE_NAMES]);
    const splits = (t: GroundednessTree): boolean =>
      typeof t === 'number' ? Number.isFinite(t) : t[0] >= 0 && t[0] < FEATURE_NAMES.length && Number.isFinite(t[1]) && splits(t[2]) && splits(t[3]);
    expect(GROUNDEDNESS_TREES.length).toBeGreaterThan(0);
    expect(GROUNDEDNESS_TREES.every(splits)).toBe(true);
  });

  it('flags a claim whose number the context does not contain', () => {
    const g = checkGroundedness('A standard homeowners policy may be written for roofs up to 25 years old.', [guideline]);
    expect(g.score).toBe(0);
    expect(g.unsupported[0]).toMatchObject({ supported: false, missing: ['25'] });
  });

  it('flags a claim whose name the context does not contain', () => {
    const g = checkGroundedness('Properties in flood zone AE need a separate flood policy from FEMA.', [guideline]);
    expect(g.unsupported[0]!.missing).toEqual(['fema']);
  });

  it('looks for a name in the best span, not anywhere in its passage or context', () => {
    const roofs = { id: 'chunk-1', text: 'Roofs. Roofs older than 20 years require an inspection by a licensed contractor. Chimneys need a yearly sweep. The NFIP is not involved.' };
    const flood = { id: 'chunk-2', text: 'Flood. The NFIP writes flood policies for zone AE. Elevation certificates come from a surveyor.' };
    // both passages name the NFIP, but no span about roof inspections does
    const g = checkGroundedness('Roofs older than 20 years require an inspection by the NFIP. The NFIP writes flood policies for zone AE.', [roofs, flood]);
    expect(g.claims.map((c) => c.missing)).toEqual([['nfip'], []]);
    expect(g.claims.map((c) => c.support?.passageId)).toEqual(['chunk-1', 'chunk-2']);
    expect(g.claims.map((c) => c.supported)).toEqual([false, true]);
  });

  it('flags a claim about something the context does not discuss', () => {
    const g = checkGroundedness('Earthquake deductibles are fifteen percent of dwelling coverage in coastal counties.', [guideline]);
    expect(g.score).toBe(0);
    expect(g.claims[0]!.score).toBeLessThan(0.3);
  });

  it('counts only claims: a mixed answer gets the share of supported ones', () => {
    const g = checkGroundedness(
      'Sources: Roofs older than 20 years require an inspection by a licensed contractor. Pools always double the premium.',
      [guideline],
    );
    expect(g.claims.map((c) => c.supported)).toEqual([true, false]);
    expect(g.score).toBe(0.5);
    expect(g.unsupported.map((c) => c.text)).toEqual(['Pools always double the premium.']);
  });

  it('finds the same support whatever the order of the passages and the contexts they were read in before', () => {
    const pools = { id: 'chunk-9', text: 'Pools. A pool must be fenced at least four feet high. Diving boards are declined on new business.' };
    const stoves = { id: 'chunk-3', text: 'Wood stoves. A wood-burning stove needs a certificate of inspection. Stoves installed by the owner are declined.' };
    const answer = 'Roofs older than 20 years require an inspection by a licensed contractor. A pool must be fenced at least four feet high.';
    // passages are analysed once and shared between contexts: their place and id come from the context at hand
    const orders = [[guideline, pools, stoves], [stoves, guideline, pools], [pools, stoves, guideline]];
    const checks = orders.map((passages) => checkGroundedness(answer, passages));
    for (const g of checks) {
      expect(g.claims.map((c) => c.support?.passageId)).toEqual(['chunk-7', 'chunk-9']);
      expect(g.claims.map((c) => c.score)).toEqual(checks[0]!.claims.map((c) => c.score));
      expect(g.score).toBe(1);
    }
    expect(pools.text.slice(checks[1]!.claims[1]!.support!.start, checks[1]!.claims[1]!.support!.end)).toContain('fenced at least four feet');
  });

  it('scores an answer without claims as grounded', () => {
    expect(checkGroundedness('', [guideline]).score).toBe(1);
    expect(checkGroundedness('Yes.', []).score).toBe(1);
    expect(checkGroundedness('Roofs need inspections after twenty years.', []).score).toBe(0);
  });

  it('splits sentences without breaking on abbreviations and normalises numbers', () => {
    expect(sentences('Dr. Smith approved it. The limit is 1,200 USD.').map((s) => s.text)).toEqual(['Dr. Smith approved it.', 'The limit is 1,200 USD.']);
    expect(numbers('1,200 units, 5.0 and 12.50 percent, 7%')).toEqual(['1200', '5', '12.5%', '7%']);
  });
});

import { describe, expect, it } from 'vitest';
import { judgeMessages, parseJudgeVerdict } from './judge.js';

describe('judge verdicts', () => {
  it('reads a JSON verdict, also inside a code fence or with words around it', () => {
    expect(parseJudgeVerdict('{"score": 0.5, "unsupported": [2]}')).toEqual({ score: 0.5, unsupported: [2] });
    expect(parseJudgeVerdict('```json\n{"score": 1}\n```')).toEqual({ score: 1, unsupported: [] });
    expect(parseJudgeVerdict('Verdict: {"score": 0, "unsupported": [1, "x", -3]}.')).toEqual({ score: 0, unsupported: [1] });
  });

  it('refuses a reply that is not a verdict, saying why', () => {
    expect(() => parseJudgeVerdict('Looks grounded to me.')).toThrow(/did not answer JSON/);
    expect(() => parseJudgeVerdict('{"score": 0.7,')).toThrow(/did not answer JSON/);
    expect(() => parseJudgeVerdict('{"score": 0.7, }')).toThrow(/malformed JSON/);
    expect(() => parseJudgeVerdict('{"score": "high"}')).toThrow(/not a number from 0 to 1/);
    expect(() => parseJudgeVerdict('{"score": 7}')).toThrow(/not a number from 0 to 1/);
  });

  it('numbers the claims after the context', () => {
    const [system, user] = judgeMessages(['Roofs up to 20 years.', 'Pools need a\nfence.'], '[1] guide\nRoofs…');
    expect(system!.content).toContain('JSON only');
    expect(user!.content).toBe('Context:\n[1] guide\nRoofs…\n\nClaims:\n1. Roofs up to 20 years.\n2. Pools need a fence.');
  });
});

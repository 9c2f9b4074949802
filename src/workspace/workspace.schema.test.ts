import { describe, expect, it } from 'vitest';
import { checkSections, WORKSPACE_SECTIONS } from './workspace.schema.js';

describe('tarmac.yaml sections', () => {
  it('accepts the sections the capabilities declare, and names any that only one side has', () => {
    expect(() => checkSections([...WORKSPACE_SECTIONS].reverse())).not.toThrow();
    expect(() => checkSections(WORKSPACE_SECTIONS.filter((s) => s !== 'prompts'))).toThrow('tarmac.yaml sections prompts are declared by no listed capability');
    expect(() => checkSections([...WORKSPACE_SECTIONS, 'evals'])).toThrow('capabilities declare tarmac.yaml sections evals that the workspace schema (src/workspace/workspace.schema.ts) does not hold');
  });
});

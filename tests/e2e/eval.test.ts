// `tarmac eval run --gate` as a CI step uses it: exit 0 and JUnit XML when the gate passes, exit 1 when it fails.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli, tempDataDir } from '../support/cli.js';

describe('tarmac eval', () => {
  it('passes the demo gate with JUnit XML, then fails it on a dataset version the use case cannot answer', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir);
    const junit = path.join(dir, 'eval.xml');
    const passed = await runCli(['eval', 'run', 'underwriting-cases', '--use-case', 'underwriting-assistant', '--trials', '1', '--gate', '--junit', junit], env);
    expect(passed.stderr).toMatch(/\[#+\] 39\/39 trials/);
    expect(passed.stdout).toMatch(/^gate: pass/m);
    expect(passed.code).toBe(0);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="tarmac eval" tests="40" failures="\d+"/);
    expect(xml).toContain('<testcase classname="tarmac.gate" name="gate underwriting-assistant" time="0"></testcase>');

    // A new version whose cases expect what the knowledge base never says: the pass rate falls under 0.8.
    const cases = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `odd-${i}`, input: `What is the maximum roof age for a standard homeowners policy (${i})?`, assertions: [{ type: 'contains', value: 'forty-two years' }] }));
    const file = path.join(dir, 'odd.jsonl');
    writeFileSync(file, `${cases.join('\n')}\n`);
    expect((await runCli(['dataset', 'import', 'underwriting-cases', file], env)).stdout).toMatch(/version 2: 10 cases/);
    const failed = await runCli(['eval', 'run', 'underwriting-cases', '--use-case', 'underwriting-assistant', '--trials', '1', '--gate', '--junit', junit], env);
    expect(failed.stdout).toMatch(/^gate: fail/m);
    expect(failed.stdout).toMatch(/fail: pass_rate >= 0\.8: 0 /);
    expect(failed.code).toBe(1);
    expect(readFileSync(junit, 'utf8')).toContain('<failure message="gate fail">');
  });
});

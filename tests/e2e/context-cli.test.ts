import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliEnv, runCli, tempDataDir } from '../support/cli.js';

describe('tarmac sync and tarmac search', () => {
  it('applies sources from tarmac.yaml, syncs with a summary, and searches as a user', async () => {
    const dir = tempDataDir();
    const env = cliEnv(dir, { TARMAC_SEED_DEMO: 'false' });
    const docs = path.join(dir, 'docs');
    mkdirSync(path.join(docs, 'hr'), { recursive: true });
    writeFileSync(path.join(docs, 'leave.md'), '# Leave\n\nEvery employee gets 25 days of paid leave.');
    writeFileSync(path.join(docs, 'hr', 'salaries.md'), '# Salaries\n\nSalary bands are reviewed in March.');
    writeFileSync(path.join(docs, 'hr', '.acl.json'), '{"allowed": ["team:hr"]}');
    writeFileSync(path.join(docs, 'broken.pdf'), 'not a pdf');
    const yaml = path.join(dir, 'tarmac.yaml');
    writeFileSync(
      yaml,
      [
        'version: 1',
        'users:',
        '  - email: dana@example.com',
        '  - email: sam@example.com',
        'teams:',
        '  - name: hr',
        '    members: [{ user: dana@example.com, role: viewer }]',
        '  - name: support',
        'sources:',
        '  - name: handbook',
        '    team: support',
        '    freshness: 24h',
        `    connector: { type: filesystem, path: ${JSON.stringify(docs)} }`,
        '    acl: { default: ["*"] }',
      ].join('\n'),
    );
    const applied = await runCli(['apply', '-f', yaml], env);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('+ source handbook');
    expect((await runCli(['apply', '-f', yaml], env)).stdout).toContain('up to date');

    const sync = await runCli(['sync', 'handbook'], env);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/synced handbook in [\d.]+ s: 3 seen, 2 added, 0 updated, 0 unchanged, 0 deleted, 1 failed, 0 quarantined/);
    expect(sync.stderr).toMatch(/\[#+\.*\] 3 seen/);

    const dana = await runCli(['search', 'salary review', '--as', 'dana@example.com', '--json'], env);
    expect(dana.code, dana.stderr).toBe(0);
    expect((JSON.parse(dana.stdout) as { results: { documentId: string }[] }).results.map((r) => r.documentId)).toEqual(['hr/salaries.md']);
    const sam = await runCli(['search', 'salary review', '--as', 'sam@example.com'], env);
    expect(sam.stdout).toContain('no results as user:sam@example.com');
    const missing = await runCli(['sync', 'nope'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error (not_found)');
  }, 120_000);
});

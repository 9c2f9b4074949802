import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { formatChanges } from './index.js';

const FILE = `version: 1
users:
  - email: ann@example.com
    name: Ann
  - email: bob@example.com
teams:
  - name: underwriting
    description: Underwriting
    members:
      - user: ann@example.com
        role: owner
      - user: bob@example.com
        role: viewer
policies:
  - name: default
    egress:
      restricted: [local]
    retention:
      auditDays: 365
`;

describe(`config as code (${BACKEND})`, () => {
  let s: TestServices;
  beforeEach(async () => {
    s = await openTestServices();
  });
  afterEach(async () => {
    await s.close();
  });

  const apply = (text: string, dryRun = false) => s.workspace.apply(s.admin, 'req', text, 'tarmac.yaml', { dryRun });
  const auditCount = async () => (await s.audit.verify()).entries;

  it('creates, then changes nothing the second time and writes no audit entry', async () => {
    const first = await apply(FILE);
    expect(first.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual([
      'create user ann@example.com',
      'create user bob@example.com',
      'create team underwriting',
      'create member underwriting/ann@example.com',
      'create member underwriting/bob@example.com',
      'create policy default',
    ]);
    const team = await s.identity.getTeam({ principal: s.admin }, 'underwriting');
    expect(team.members.map((m) => `${m.email}:${m.role}`)).toEqual(['ann@example.com:owner', 'bob@example.com:viewer']);
    expect((await s.policies.get('default')).rules).toEqual({ egress: { restricted: ['local'] }, retention: { auditDays: 365 } });
    const { entries } = await s.audit.list({ action: 'config.applied', limit: 5 });
    expect(entries).toHaveLength(1);
    expect(entries[0]!.after).toMatchObject({ changes: 6 });

    const before = await auditCount();
    const second = await apply(FILE);
    expect(second.changes).toEqual([]);
    expect(formatChanges(second.changes)).toBe('no changes');
    expect(await auditCount()).toBe(before);
  });

  it('shows a diff of updates and removals, and a dry run changes nothing', async () => {
    await apply(FILE);
    const changed = FILE.replace('name: Ann', 'name: Ann Lee')
      .replace('role: viewer', 'role: reviewer')
      .replace('auditDays: 365', 'auditDays: 730')
      .replace(/ {6}- user: ann@example.com\n {8}role: owner\n/, '');
    const before = await auditCount();
    const dry = await apply(changed, true);
    expect(dry.dryRun).toBe(true);
    expect(await auditCount()).toBe(before);
    const text = formatChanges(dry.changes);
    expect(text).toContain('~ user ann@example.com\n    name: "Ann" → "Ann Lee"');
    expect(text).toContain('~ member underwriting/bob@example.com ("reviewer")');
    expect(text).toContain('- member underwriting/ann@example.com ("owner")');
    expect(text).toContain('~ policy default\n    rules.retention.auditDays: 365 → 730');

    const real = await apply(changed);
    expect(real.changes).toEqual(dry.changes);
    const team = await s.identity.getTeam({ principal: s.admin }, 'underwriting');
    expect(team.members.map((m) => `${m.email}:${m.role}`)).toEqual(['bob@example.com:reviewer']);
    expect((await apply(changed)).changes).toEqual([]);
  });

  it('rejects a bad file with file, path and line, and applies nothing', async () => {
    const bad = FILE.replace('        role: viewer', '        role: emperor').replace('  - email: bob@example.com', '  - email: bob@example.com\n    shoeSize: 44');
    const err = await apply(bad).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'config_invalid' });
    const issues = (err as { details: { issues: { path: string; line: number; file: string }[] } }).details.issues;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: 'tarmac.yaml', path: 'users[1].shoeSize', line: 6 }),
        expect.objectContaining({ file: 'tarmac.yaml', path: 'teams[0].members[1].role', line: 14 }),
      ]),
    );
    expect((err as Error).message).toContain('tarmac.yaml:6: users[1].shoeSize: unknown key');
    expect(await s.identity.listTeams({ principal: s.admin })).toEqual([]);

    const syntax = await apply('version: 1\nteams: [\n').catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: 'config_invalid' });
    const wrongType = await apply('version: 1\nusers: {email: a@b.c}\n').catch((e: unknown) => e);
    expect((wrongType as Error).message).toMatch(/tarmac.yaml:2: users:/);
    const dup = await apply('version: 1\nteams:\n  - name: a\n  - name: a\n').catch((e: unknown) => e);
    expect((dup as Error).message).toMatch(/tarmac.yaml:4: teams\[1\]: duplicate team a/);
  });

  it('rolls back everything when one change fails midway', async () => {
    await s.identity.createUser({ principal: s.admin }, { email: 'carl@example.com' });
    const before = await auditCount();
    const file = `version: 1
teams:
  - name: alpha
  - name: beta
    members:
      - user: nobody@example.com
        role: owner
`;
    await expect(apply(file)).rejects.toMatchObject({ code: 'config_invalid', message: expect.stringContaining('tarmac.yaml:6: teams[1].members[0].user: nobody@example.com is neither') });
    expect(await s.identity.listTeams({ principal: s.admin })).toEqual([]);
    expect(await auditCount()).toBe(before);
  });

  it('versions prompts from the file: new content is a new version, old content moves labels back', async () => {
    const prompt = (text: string) => `${FILE}prompts:
  - name: uw-answer
    team: underwriting
    messages:
      - role: system
        content: Answer from the context only.
      - role: user
        content: "${text}"
    variables:
      question: { type: string }
    labels: [production, staging]
`;
    const first = await apply(prompt('Q: {{question}}'));
    expect(first.changes.filter((c) => c.kind === 'prompt' || c.kind === 'label').map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual([
      'create prompt uw-answer',
      'create label uw-answer:production',
      'create label uw-answer:staging',
    ]);
    expect((await apply(prompt('Q: {{question}}'))).changes).toEqual([]);

    const second = await apply(prompt('Question: {{question}}'));
    expect(formatChanges(second.changes)).toBe(
      '~ prompt uw-answer\n    version: 1 → 2\n~ label uw-answer:production → v2 (was v1)\n~ label uw-answer:staging → v2 (was v1)',
    );
    // back to the first text: no third version, the labels move back to v1
    const back = await apply(prompt('Q: {{question}}'));
    expect(back.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual(['update label uw-answer:production', 'update label uw-answer:staging']);
    const got = await s.prompts.get({ principal: s.admin }, 'uw-answer');
    expect(got).toMatchObject({ latestVersion: 2, labels: { production: 1, staging: 1 } });

    const bad = await apply(prompt('Q: {{question}} for {{who}}')).catch((e: unknown) => e);
    expect((bad as Error).message).toContain('tarmac.yaml:27: prompts[0].messages[1].content: uses undeclared variable who');
  });

  it('declares use cases; a paused use case stays paused when the file is applied again', async () => {
    const withUseCase = (owner: string, threshold: number) => `${FILE}usecases:
  - name: uw-assistant
    team: underwriting
    owner: ${owner}
    riskTier: medium
    prompt: uw-answer
    route: local/extractive
    posture:
      deliverThreshold: ${threshold}
`;
    const created = await apply(withUseCase('ann@example.com', 0.8));
    expect(created.changes.filter((c) => c.kind === 'usecase').map((c) => `${c.op} ${c.name}`)).toEqual(['create uw-assistant']);
    expect((await apply(withUseCase('ann@example.com', 0.8))).changes).toEqual([]);
    await s.usecases.pause({ principal: s.admin }, 'uw-assistant', 'incident');
    expect((await apply(withUseCase('ann@example.com', 0.8))).changes).toEqual([]);
    expect((await s.usecases.forRun('uw-assistant')).stage).toBe('paused');

    const changed = await apply(withUseCase('ann@example.com', 0.9));
    expect(changed.changes).toEqual([
      expect.objectContaining({ op: 'update', kind: 'usecase', name: 'uw-assistant', fields: [expect.objectContaining({ path: 'posture' })] }),
    ]);
    const bad = await apply(withUseCase('bob@example.com', 0.9)).catch((e: unknown) => e);
    expect((bad as Error).message).toContain('tarmac.yaml:23: usecases[0].owner: the accountable owner bob@example.com must be an owner of team underwriting');
  });

  it('shows the providers and routes of a new gateway section in a dry run', async () => {
    const dry = await apply(
      `version: 1
gateway:
  providers:
    - { name: openai, type: openai-compatible, baseUrl: https://api.openai.com/v1, apiKeyEnv: OPENAI_API_KEY }
  routes:
    - { name: default, targets: [{ provider: openai, model: gpt-4o-mini }, { provider: local, model: echo }] }
`,
      true,
    );
    expect(formatChanges(dry.changes)).toBe('+ gateway gateway\n    providers: openai (openai-compatible)\n    routes: default → openai/gpt-4o-mini, local/echo');
  });

  it('needs a platform admin', async () => {
    const user = await s.identity.createUser({ principal: s.admin }, { email: 'dev@example.com' });
    const p = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'dev', user: user.email })).token);
    await expect(s.workspace.apply(p, null, FILE, 'tarmac.yaml', { dryRun: true })).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('applies the demo workspace', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(new URL('../../examples/tarmac.yaml', import.meta.url), 'utf8');
    // The files it names travel with it, as `tarmac apply` sends them.
    const files = { 'evals/underwriting.jsonl': readFileSync(new URL('../../examples/evals/underwriting.jsonl', import.meta.url), 'utf8') };
    const applyDemo = () => s.workspace.apply(s.admin, 'req', text, 'tarmac.yaml', { dryRun: false, files });
    const result = await applyDemo();
    expect(result.changes.length).toBeGreaterThan(5);
    expect(result.changes).toContainEqual(expect.objectContaining({ kind: 'dataset', name: 'underwriting-cases', op: 'create' }));
    expect((await applyDemo()).changes).toEqual([]);
  });
});

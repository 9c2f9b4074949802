import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor, type Principal } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';
import { inPercentCohort } from './index.js';

const spec = {
  name: 'uw-assistant',
  team: 'underwriting',
  owner: 'olivia@x.io',
  riskTier: 'medium',
  prompt: 'uw-answer',
  route: 'local/extractive',
  posture: { deliverThreshold: 0.7, reviewSlaMinutes: 60 },
  cohort: { users: ['carl@x.io'], teams: ['pricing'] },
  kpis: [{ name: 'handling_minutes', baseline: 30, target: 10, direction: 'decrease' }],
};

describe(`use cases (${BACKEND})`, () => {
  let s: TestServer;
  let owner: Principal;
  let builder: Principal;
  let ownerToken: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    s = await openTestServer();
    const admin = { principal: s.admin };
    for (const team of ['underwriting', 'pricing', 'claims']) await s.identity.createTeam(admin, { name: team });
    for (const [email, team, role] of [
      ['olivia@x.io', 'underwriting', 'owner'],
      ['bea@x.io', 'underwriting', 'builder'],
      ['pat@x.io', 'pricing', 'viewer'],
      ['carl@x.io', 'claims', 'viewer'],
      ['dan@x.io', 'claims', 'viewer'],
    ] as const) {
      ids[email] = (await s.identity.createUser(admin, { email })).id;
      await s.identity.setMember(admin, team, email, role);
    }
    ownerToken = (await s.identity.createKey(admin, { name: 'o', user: 'olivia@x.io' })).token;
    owner = await s.identity.authenticate(ownerToken);
    builder = await s.identity.authenticate((await s.identity.createKey(admin, { name: 'b', user: 'bea@x.io' })).token);
  });
  afterAll(async () => {
    await s.close();
  });

  const teamsOf = async (email: string) => Object.keys((await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: email, user: email })).token)).roles);

  it('needs the accountable owner to be an owner of the team', async () => {
    await expect(s.usecases.declare({ principal: builder }, { ...spec, owner: 'bea@x.io' })).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('must be an owner') });
    const created = await s.usecases.declare({ principal: builder }, spec);
    expect(created).toMatchObject({ name: 'uw-assistant', stage: 'pilot', owner: { email: 'olivia@x.io' }, posture: { deliverThreshold: 0.7, belowThreshold: 'held_for_review', timeoutAction: 'block' } });
    // the same declaration again changes nothing
    const before = (await s.audit.verify()).entries;
    await s.usecases.declare({ principal: builder }, spec);
    expect((await s.audit.verify()).entries).toBe(before);
  });

  it('lets the team and the cohort run a pilot, and nobody else', async () => {
    const uc = await s.usecases.forRun('uw-assistant');
    await expect(s.usecases.authorizeRun(uc, { userId: ids['bea@x.io']!, teamIds: await teamsOf('bea@x.io') })).resolves.toBeUndefined();
    await expect(s.usecases.authorizeRun(uc, { userId: ids['carl@x.io']!, teamIds: await teamsOf('carl@x.io') })).resolves.toBeUndefined();
    await expect(s.usecases.authorizeRun(uc, { userId: ids['pat@x.io']!, teamIds: await teamsOf('pat@x.io') })).resolves.toBeUndefined();
    await expect(s.usecases.authorizeRun(uc, { userId: ids['dan@x.io']!, teamIds: await teamsOf('dan@x.io') })).rejects.toMatchObject({ code: 'not_in_rollout' });
  });

  it('rolls out to a stable share of users by percentage', () => {
    const inside = Array.from({ length: 2000 }, (_, i) => inPercentCohort('uc_x', `usr_${i}`, 25)).filter(Boolean).length;
    expect(inside).toBeGreaterThan(400);
    expect(inside).toBeLessThan(600);
    expect(inPercentCohort('uc_x', 'usr_7', 25)).toBe(inPercentCohort('uc_x', 'usr_7', 25));
    expect(Array.from({ length: 50 }, (_, i) => inPercentCohort('uc_x', `u${i}`, 0)).some(Boolean)).toBe(false);
  });

  it('has a stop button that applies at once and that only an owner releases', async () => {
    const paused = await s.usecases.pause({ principal: builder, requestId: 'stop-1' }, 'uw-assistant', 'wrong roof limits quoted');
    expect(paused).toMatchObject({ stage: 'paused', resumeStage: 'pilot' });
    await expect(s.usecases.authorizeRun(await s.usecases.forRun('uw-assistant'), { userId: ids['bea@x.io']!, teamIds: await teamsOf('bea@x.io') })).rejects.toMatchObject({
      code: 'use_case_paused',
    });
    await expect(s.usecases.resume({ principal: builder }, 'uw-assistant', 'fixed')).rejects.toMatchObject({ code: 'forbidden' });
    // configuration applied meanwhile does not resume it
    await s.usecases.declare({ principal: owner }, spec);
    expect((await s.usecases.forRun('uw-assistant')).stage).toBe('paused');
    expect(await s.usecases.resume({ principal: owner }, 'uw-assistant', 'prompt fixed')).toMatchObject({ stage: 'pilot', resumeStage: null });
    const { entries } = await s.audit.list({ action: 'usecase.*', limit: 10 });
    expect(entries.map((e) => e.action).slice(0, 2)).toEqual(['usecase.resumed', 'usecase.paused']);
    expect(entries[1]).toMatchObject({ requestId: 'stop-1', before: { stage: 'pilot' }, after: { stage: 'paused', reason: 'wrong roof limits quoted' } });
  });

  it('changes stages only by a team owner, and production opens it to everyone', async () => {
    await expect(s.usecases.setStage({ principal: builder }, 'uw-assistant', 'production', 'go')).rejects.toMatchObject({ code: 'forbidden' });
    await s.usecases.setStage({ principal: owner }, 'uw-assistant', 'production', 'readiness met');
    await expect(s.usecases.authorizeRun(await s.usecases.forRun('uw-assistant'), { userId: ids['dan@x.io']!, teamIds: await teamsOf('dan@x.io') })).resolves.toBeUndefined();
    await s.usecases.setStage({ principal: owner }, 'uw-assistant', 'retired', 'replaced');
    await expect(s.usecases.pause({ principal: owner }, 'uw-assistant', 'x')).rejects.toMatchObject({ code: 'use_case_retired' });
    await expect(s.usecases.authorizeRun(await s.usecases.forRun('uw-assistant'), { userId: ids['bea@x.io']!, teamIds: [] })).rejects.toMatchObject({ code: 'use_case_retired' });
  });

  it('serves the registry and the stop button over HTTP', async () => {
    const h = bearer(ownerToken);
    const created = await s.app.inject({ method: 'POST', url: '/api/v1/usecases', headers: h, payload: { ...spec, name: 'uw-summary' } });
    expect(created.statusCode, created.body).toBe(200);
    const paused = await s.app.inject({ method: 'POST', url: '/api/v1/usecases/uw-summary/pause', headers: h, payload: { reason: 'check' } });
    expect(paused.json()).toMatchObject({ stage: 'paused' });
    const again = await s.app.inject({ method: 'POST', url: '/api/v1/usecases/uw-summary/resume', headers: h, payload: { reason: 'ok' } });
    expect(again.json()).toMatchObject({ stage: 'pilot' });
    const bad = await s.app.inject({ method: 'POST', url: '/api/v1/usecases', headers: h, payload: { ...spec, riskTier: 'extreme' } });
    expect(bad.json().error).toMatchObject({ code: 'validation_failed', details: { issues: [{ path: 'riskTier' }] } });
    const missing = await s.app.inject({ url: '/api/v1/usecases/nope', headers: h });
    expect(missing.statusCode).toBe(404);
  });

  it('validates the context recipe at create and update, naming the path and any unknown source', async () => {
    const res = await s.app.inject({ method: 'POST', url: '/api/v1/usecases', headers: bearer(ownerToken), payload: { ...spec, name: 'bad-recipe', context: { k: 'eight', colour: 'red' } } });
    expect(res.statusCode).toBe(400);
    const paths = res.json<{ error: { code: string; details: { issues: { path: string }[] } } }>().error.details.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['context.k', 'context.colour']));

    await expect(
      s.usecases.declare({ principal: owner }, { ...spec, name: 'bad-recipe', context: { sources: ['handbook'], exclude: { sources: ['nowhere'] } } }),
    ).rejects.toMatchObject({ code: 'validation_failed', details: { issues: [{ path: 'context.sources[0]', message: 'unknown source handbook' }, { path: 'context.exclude.sources[0]', message: 'unknown source nowhere' }] } });
    await expect(s.usecases.get({ principal: owner }, 'bad-recipe')).rejects.toMatchObject({ code: 'not_found' });

    const updated = await s.usecases.declare({ principal: owner }, { ...spec, context: { k: 4 } }).catch((e: unknown) => e);
    expect(updated).toMatchObject({ context: { k: 4, tokenBudget: 2000 } });
    await expect(s.usecases.declare({ principal: owner }, { ...spec, context: { k: 0 } })).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('tarmac apply names file, path and line of a bad recipe, and accepts a source declared in the same file', async () => {
    const file = (context: string, source = '') => `version: 1
${source}usecases:
  - name: yaml-recipe
    team: underwriting
    owner: olivia@x.io
    riskTier: low
    prompt: uw-answer
    context:
${context}
`;
    const apply = (text: string) => s.workspace.applyAs({ actor: systemActor('test') }, text, 'tarmac.yaml', { dryRun: false });
    const unknownKey = await apply(file('      k: 3\n      colour: red')).catch((e: unknown) => e);
    expect(unknownKey).toMatchObject({ code: 'config_invalid' });
    expect((unknownKey as Error).message).toContain('tarmac.yaml:10: usecases[0].context.colour: unknown key');

    const unknownSource = await apply(file('      k: 3\n      sources: [kb, handbook]')).catch((e: unknown) => e);
    expect(unknownSource).toMatchObject({ code: 'config_invalid', details: { issues: [expect.objectContaining({ file: 'tarmac.yaml', path: 'usecases[0].context.sources[0]', line: 10 })] } });
    expect((unknownSource as Error).message).toContain('unknown source(s): kb, handbook');

    const declared = `sources:\n  - name: kb\n    team: underwriting\n    connector: { type: push }\n`;
    const ok = await apply(file('      sources: [kb]', declared));
    expect(ok.changes.map((c) => `${c.op} ${c.kind} ${c.name}`)).toEqual(['create source kb', 'create usecase yaml-recipe']);
    expect(await s.usecases.get({ principal: owner }, 'yaml-recipe')).toMatchObject({ context: { sources: ['kb'], k: 8 } });
  });
});

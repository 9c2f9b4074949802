import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { bearer, openTestServer, type TestServer } from '../../tests/support/server.js';

const v1 = {
  messages: [
    { role: 'system' as const, content: 'Answer underwriting questions from the context only.' },
    { role: 'user' as const, content: 'Question: {{question}}' },
  ],
  variables: { question: { type: 'string' as const, required: true } },
  model: { temperature: 0.1 },
};
const v2 = { ...v1, messages: [v1.messages[0]!, { role: 'user' as const, content: 'Question: {{question}}\nAnswer in {{language}}.' }], variables: { ...v1.variables, language: { type: 'string' as const, required: false } } };

describe(`prompt registry (${BACKEND})`, () => {
  let s: TestServer;
  let owner: Principal;
  let builder: Principal;
  let outsider: Principal;
  let ownerToken: string;

  beforeAll(async () => {
    s = await openTestServer();
    const admin = { principal: s.admin };
    await s.identity.createTeam(admin, { name: 'underwriting' });
    await s.identity.createTeam(admin, { name: 'claims' });
    for (const [email, team, role] of [['o@x.io', 'underwriting', 'owner'], ['b@x.io', 'underwriting', 'builder'], ['c@x.io', 'claims', 'owner']] as const) {
      await s.identity.createUser(admin, { email });
      await s.identity.setMember(admin, team, email, role);
    }
    ownerToken = (await s.identity.createKey(admin, { name: 'o', user: 'o@x.io' })).token;
    owner = await s.identity.authenticate(ownerToken);
    builder = await s.identity.authenticate((await s.identity.createKey(admin, { name: 'b', user: 'b@x.io' })).token);
    outsider = await s.identity.authenticate((await s.identity.createKey(admin, { name: 'c', user: 'c@x.io' })).token);
  });
  afterAll(async () => {
    await s.close();
  });

  it('versions, labels, renders, diffs and rolls back, with every step audited', async () => {
    const first = await s.prompts.create({ principal: builder }, { name: 'uw-answer', team: 'underwriting', content: v1, labels: ['staging'] });
    expect(first).toMatchObject({ prompt: 'uw-answer', version: 1, labels: ['staging'] });

    // same content again: no new version
    expect(await s.prompts.addVersion({ principal: builder }, 'uw-answer', { content: v1 })).toMatchObject({ version: 1, created: false });
    const second = await s.prompts.addVersion({ principal: builder }, 'uw-answer', { content: v2, note: 'answer language' });
    expect(second).toMatchObject({ version: 2, created: true, note: 'answer language' });

    // production needs an owner; staging a builder
    await expect(s.prompts.moveLabel({ principal: builder }, 'uw-answer', 'production', 2)).rejects.toMatchObject({ code: 'forbidden' });
    await s.prompts.moveLabel({ principal: builder }, 'uw-answer', 'staging', 2);
    await s.prompts.moveLabel({ principal: owner, requestId: 'promote-1' }, 'uw-answer', 'production', 2);

    const rendered = await s.prompts.render({ principal: builder }, 'uw-answer', { label: 'production' }, { question: 'Max roof age?', language: 'French' });
    expect(rendered).toMatchObject({ version: 2, model: { temperature: 0.1 } });
    expect(rendered.messages[1]!.content).toBe('Question: Max roof age?\nAnswer in French.');
    await expect(s.prompts.render({ principal: builder }, 'uw-answer', { label: 'production' }, {})).rejects.toMatchObject({ code: 'prompt_variables_invalid' });
    await expect(s.prompts.render({ principal: builder }, 'uw-answer', { label: 'nowhere' }, { question: 'q' })).rejects.toMatchObject({ code: 'not_found' });

    const diff = await s.prompts.diff({ principal: builder }, 'uw-answer', 1, 2);
    expect(diff.changed).toEqual({ messages: true, variables: true, model: false });
    expect(diff.patch).toContain('+Answer in {{language}}.');
    expect(diff.patch).toContain('+language: string (optional)');

    // rollback = move the label back
    await s.prompts.moveLabel({ principal: owner }, 'uw-answer', 'production', 1);
    expect((await s.prompts.render({ principal: builder }, 'uw-answer', { label: 'production' }, { question: 'q' })).version).toBe(1);

    const { entries } = await s.audit.list({ action: 'prompt.*', limit: 20 });
    expect(entries.map((e) => e.action).reverse()).toEqual([
      'prompt.created',
      'prompt.version_created',
      'prompt.label_moved',
      'prompt.version_created',
      'prompt.label_moved',
      'prompt.label_moved',
      'prompt.label_moved',
    ]);
    expect(entries.find((e) => e.requestId === 'promote-1')).toMatchObject({ before: null, after: { label: 'production', version: 2 } });
    expect(entries[0]).toMatchObject({ before: { label: 'production', version: 2 }, after: { label: 'production', version: 1 } });
  });

  it('keeps versions immutable, even through SQL', async () => {
    await expect(s.db.query("update prompt_versions set note = 'rewritten'")).rejects.toThrow(/immutable/);
    await expect(s.db.query('delete from prompt_versions')).rejects.toThrow(/immutable/);
  });

  it('hides prompts from other teams and refuses undeclared variables', async () => {
    await expect(s.prompts.getVersion({ principal: outsider }, 'uw-answer', { version: 1 })).rejects.toMatchObject({ code: 'not_found' });
    expect(await s.prompts.list({ principal: outsider })).toEqual([]);
    await expect(
      s.prompts.create({ principal: outsider }, { name: 'claims-x', team: 'claims', content: { ...v1, variables: {} } }),
    ).rejects.toMatchObject({ code: 'validation_failed', message: expect.stringContaining('undeclared variable question') });
    await expect(s.prompts.create({ principal: builder }, { name: 'uw-answer', team: 'underwriting', content: v1 })).rejects.toMatchObject({ code: 'conflict' });
  });

  it('serves the registry over HTTP', async () => {
    const h = bearer(ownerToken);
    const created = await s.app.inject({ method: 'POST', url: '/api/v1/prompts', headers: h, payload: { name: 'uw-summary', team: 'underwriting', ...v1, labels: ['production'] } });
    expect(created.statusCode, created.body).toBe(201);
    const render = await s.app.inject({ method: 'POST', url: '/api/v1/prompts/uw-summary/render', headers: h, payload: { variables: { question: 'Flood zone?' } } });
    expect(render.json().messages[1].content).toBe('Question: Flood zone?');
    const bad = await s.app.inject({ method: 'POST', url: '/api/v1/prompts/uw-summary/render', headers: h, payload: { variables: { question: 7 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'prompt_variables_invalid', details: { issues: [{ path: 'question' }] } });
    const label = await s.app.inject({ method: 'PUT', url: '/api/v1/prompts/uw-summary/labels/production', headers: h, payload: { version: 9 } });
    expect(label.statusCode).toBe(404);
    const diff = await s.app.inject({ url: '/api/v1/prompts/uw-answer/diff?from=1&to=2', headers: h });
    expect(diff.json().patch).toContain('uw-answer@v1');
  });
});

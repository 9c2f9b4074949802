// ACL property test: random access lists over 1,000 documents, 200 random callers. Every result must be
// visible to its caller, and the results must equal a brute-force expectation: the caller-visible part of
// the full ranking, cut to k (zero leaks, nothing missing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { RetrievalService } from './index.js';
import { rng } from '../../tests/support/random.js';

const SEED = 20261121;
const random = rng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const some = <T>(list: readonly T[], max: number): T[] => [...new Set(Array.from({ length: Math.floor(random() * (max + 1)) }, () => pick(list)))];

const VOCAB = ['claim', 'policy', 'invoice', 'travel', 'hotel', 'contract', 'renewal', 'safety', 'audit', 'budget', 'vendor', 'refund', 'leave', 'payroll', 'laptop', 'server', 'outage', 'privacy', 'training', 'expense'];
const TEAMS = Array.from({ length: 10 }, (_, i) => `t${i}`);
const USERS = Array.from({ length: 200 }, (_, i) => `u${i}@example.com`);

describe(`ACL-filtered retrieval, property test (${BACKEND})`, () => {
  let s: TestServices;
  const membership = new Map<string, string[]>();
  const docs: { id: string; allowed: string[]; words: string[] }[] = [];

  beforeAll(async () => {
    s = await openTestServices();
    for (const u of USERS) membership.set(u, some(TEAMS, 3));
    const yaml = [
      'version: 1',
      'users:',
      ...USERS.map((u) => `  - email: ${u}`),
      'teams:',
      ...TEAMS.map((t) => [`  - name: ${t}`, '    members:', ...USERS.filter((u) => membership.get(u)!.includes(t)).map((u) => `      - { user: ${u}, role: viewer }`)].join('\n')),
      '  - name: owners',
    ].join('\n');
    await s.workspace.applyAs({ actor: { type: 'system', id: 'test' } }, yaml, 'acl.yaml', { dryRun: false });
    await s.sources.declare({ principal: s.admin }, {
      name: 'acl',
      team: 'owners',
      connector: { type: 'push' },
      acl: { default: [], map: Object.fromEntries(TEAMS.map((t) => [`GROUP-${t}`, [`team:${t}`]])) },
    });
    for (let i = 0; i < 1000; i++) {
      const allowed =
        random() < 0.05
          ? ['*']
          : [...some(USERS, 3).map((u) => `user:${u}`), ...some(TEAMS, 2).map((t) => (random() < 0.5 ? `team:${t}` : `GROUP-${t}`))];
      docs.push({ id: `d${i}`, allowed, words: some(VOCAB, 5) });
    }
    for (let i = 0; i < docs.length; i += 500) {
      await s.sources.push({ principal: s.admin }, 'acl', docs.slice(i, i + 500).map((d) => ({ id: d.id, text: `${d.id} ${d.words.join(' ')}`, allowed: d.allowed })));
    }
  }, 120_000);

  afterAll(async () => {
    await s?.close();
  });

  const visible = (user: string, allowed: string[]) =>
    allowed.some((a) => a === '*' || a === `user:${user}` || membership.get(user)!.some((t) => a === `team:${t}` || a === `GROUP-${t}`));

  it('returns to 200 random callers exactly the top k of what each may read', async () => {
    // Expected rankings come from the reference ranking over the chunks; callers' searches read the postings.
    const exhaustive = new RetrievalService(s.db, s.sources, null, true);
    const pruned = new RetrievalService(s.db, s.sources, null);
    const everyone = { label: 'all', principals: ['*', ...USERS.map((u) => `user:${u}`), ...TEAMS.map((t) => `team:${t}`)] };
    const rankings = new Map<string, string[]>();
    let checked = 0;
    for (let c = 0; c < 200; c++) {
      const user = pick(USERS);
      const query = some(VOCAB, 4).join(' ') || pick(VOCAB);
      const k = 1 + Math.floor(random() * 40);
      if (!rankings.has(query)) rankings.set(query, (await exhaustive.searchAs(everyone, { query, k: 1000 })).map((h) => h.documentId));
      const expected = rankings.get(query)!.filter((id) => visible(user, docs[Number(id.slice(1))]!.allowed)).slice(0, k);
      const identity = await pruned.identityOf(s.admin, user);
      const got = (await pruned.searchAs(identity, { query, k })).map((h) => h.documentId);
      const leaks = got.filter((id) => !visible(user, docs[Number(id.slice(1))]!.allowed));
      expect(leaks, `seed ${SEED}, caller ${c} (${user}), query "${query}"`).toEqual([]);
      expect(got, `seed ${SEED}, caller ${c} (${user}), query "${query}", k ${k}`).toEqual(expected);
      checked += got.length;
    }
    expect(checked).toBeGreaterThan(500);
  }, 300_000);
});

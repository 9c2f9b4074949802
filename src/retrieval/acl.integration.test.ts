// ACL property test: random access lists over 1,000 documents, 200 random callers. Every result must be
// visible to its caller, and the results must equal a brute-force expectation: the caller-visible part of
// the full ranking, cut to k (zero leaks, nothing missing). Record lookups are held to the same rule.
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

  // Two record sources over the same 100 keys, each record with its own random access list.
  const RECORD_SOURCES = [
    { name: 'ledger', precedence: 10 },
    { name: 'crm', precedence: 1 },
  ];
  const records = new Map<string, { key: string; allowed: string[]; tier: string }[]>();
  const randomAllowed = () =>
    random() < 0.1 ? ['*'] : [...some(USERS, 3).map((u) => `user:${u}`), ...some(TEAMS, 2).map((t) => (random() < 0.5 ? `team:${t}` : `GROUP-${t}`))];

  beforeAll(async () => {
    for (const { name, precedence } of RECORD_SOURCES) {
      await s.sources.declare({ principal: s.admin }, {
        name,
        team: 'owners',
        precedence,
        connector: { type: 'push' },
        acl: { default: [], map: Object.fromEntries(TEAMS.map((t) => [`GROUP-${t}`, [`team:${t}`]])) },
      });
      const rows = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, allowed: randomAllowed(), tier: `${name}-${i}-v` })).filter(() => random() < 0.8);
      records.set(name, rows);
      await s.sources.push({ principal: s.admin }, name, rows.map((r) => ({ id: r.key, fields: { tier: r.tier }, allowed: r.allowed })));
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

  it('gives 200 random callers exactly the record fields each may read in a lookup, and nothing else', async () => {
    const retrieval = new RetrievalService(s.db, s.sources, null);
    const recipe = { sources: ['ledger'], k: 1, lookups: [{ name: 'entity', key: '{key}', sources: ['ledger', 'crm'], fields: [{ name: 'tier', required: false }] }] };
    let found = 0;
    let hidden = 0;
    for (let c = 0; c < 200; c++) {
      const user = pick(USERS);
      const key = `k${Math.floor(random() * 100)}`;
      // Highest precedence first: the ledger's value wins, the crm's competes, each only where the caller may read it.
      const readable = RECORD_SOURCES.flatMap(({ name }) => records.get(name)!.filter((r) => r.key === key && visible(user, r.allowed)).map((r) => ({ source: name, value: r.tier })));
      const all = RECORD_SOURCES.flatMap(({ name }) => records.get(name)!.filter((r) => r.key === key));
      const identity = await retrieval.identityOf(s.admin, user);
      const { context, manifest } = await retrieval.assembler.assemble(identity, recipe, { query: 'tier', inputs: { key } });
      const lookup = manifest.lookups[0]!;
      const where = `seed ${SEED}, caller ${c} (${user}), key ${key}`;
      expect(lookup.found, where).toBe(readable.length > 0);
      expect(lookup.sources.map((x) => x.name), where).toEqual(readable.map((r) => r.source));
      const [winner, ...losers] = readable;
      expect(lookup.fields.tier?.value ?? null, where).toEqual(winner?.value ?? null);
      expect((lookup.fields.tier?.competing ?? []).map((x) => x.value), where).toEqual(losers.map((r) => r.value));
      // Nothing of an unreadable record reaches the context or the manifest.
      for (const r of all.filter((x) => !readable.some((y) => y.value === x.tier))) {
        expect(context, where).not.toContain(r.tier);
        expect(JSON.stringify(manifest), where).not.toContain(r.tier);
      }
      if (readable.length > 0) found++;
      if (readable.length < all.length) hidden++;
    }
    // The draw covers both sides of the rule.
    expect(found).toBeGreaterThan(20);
    expect(hidden).toBeGreaterThan(20);
  }, 300_000);
});

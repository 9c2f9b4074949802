// Lexical search reads postings; the reference ranking reads the chunks. Both must give the same results,
// with access lists, source and metadata filters and near-duplicates, and the postings must follow every
// change of the chunks (new, changed and deleted documents, a removed source).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND } from '../../tests/support/db.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { RetrievalService, type SearchIdentity } from './index.js';
import { rng } from '../../tests/support/random.js';

const SEED = 20261122;
const random = rng(SEED);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const VOCAB = ['claim', 'policy', 'invoice', 'travel', 'hotel', 'contract', 'renewal', 'safety', 'audit', 'budget', 'vendor', 'refund', 'leave', 'payroll', 'laptop', 'server', 'outage', 'privacy', 'training', 'expense', 'zeppelin', 'quorum'];
const PRINCIPALS = ['*', 'team:a', 'team:b', 'team:c', 'user:x@example.com'];
const words = (n: number) => Array.from({ length: n }, () => pick(VOCAB)).join(' ');

/** Postings that differ from the expansion of the chunks' lexemes (missing, extra or with other figures). */
const POSTINGS_DRIFT = `select count(*)::int as bad from (
    select u.lexeme, c.allowed, c.id, coalesce(array_length(u.positions, 1), 1) as tf, c.tsv_length as len from chunks c, unnest(c.tsv) u
  ) x full join (
    select p.lexeme, g.allowed, p.chunk_id as id, p.tf, p.len from postings p join acl_groups g on g.id = p.acl_group
  ) p on p.lexeme = x.lexeme and p.id = x.id
  where x.id is null or p.id is null or p.allowed is distinct from x.allowed or p.tf <> x.tf or p.len <> x.len`;

describe(`lexical search over postings (${BACKEND})`, () => {
  let s: TestServices;
  const caller = () => ({ principal: s.admin });

  beforeAll(async () => {
    s = await openTestServices();
    await s.identity.createTeam(caller(), { name: 'owners' });
    for (const name of ['wiki', 'tickets']) {
      await s.sources.declare(caller(), { name, team: 'owners', connector: { type: 'push' }, acl: { default: [], map: {} } });
    }
    for (const source of ['wiki', 'tickets']) {
      const docs = Array.from({ length: 150 }, (_, i) => ({
        id: `${source}-${i}`,
        title: words(2),
        // Every tenth document repeats an earlier text: near-duplicates the search must collapse.
        text: i % 10 === 9 ? `shared text ${Math.floor(i / 20)} ${VOCAB[i % VOCAB.length]} policy` : words(3 + Math.floor(random() * 25)),
        metadata: { lang: random() < 0.5 ? 'en' : 'de' },
        allowed: [...new Set([pick(PRINCIPALS), pick(PRINCIPALS)])],
      }));
      await s.sources.push(caller(), source, docs);
    }
  }, 120_000);

  afterAll(async () => {
    await s?.close();
  });

  it('ranks exactly as the reference BM25 over the chunks, under access lists, filters and near-duplicates', async () => {
    const reference = new RetrievalService(s.db, s.sources, null, true);
    let compared = 0;
    for (let i = 0; i < 120; i++) {
      const identity: SearchIdentity = { label: 'test', principals: [...new Set([pick(PRINCIPALS), pick(PRINCIPALS)])] };
      const input = {
        query: words(1 + Math.floor(random() * 6)),
        k: 1 + Math.floor(random() * 30),
        sources: random() < 0.3 ? [pick(['wiki', 'tickets'])] : undefined,
        metadata: random() < 0.3 ? { lang: pick(['en', 'de']) } : undefined,
      };
      const expected = await reference.searchAs(identity, input);
      const got = await s.retrieval.searchAs(identity, input);
      const where = `seed ${SEED}, case ${i}: ${JSON.stringify({ ...input, principals: identity.principals })}`;
      expect(got.map((h) => h.chunkId), where).toEqual(expected.map((h) => h.chunkId));
      got.forEach((h, j) => expect(h.score, where).toBeCloseTo(expected[j]!.score, 9));
      // Every other field of a hit (text, section path, metadata, freshness dates) as the reference reads it.
      const rest = (hits: typeof got) => hits.map(({ score: _score, ...hit }) => hit);
      expect(rest(got), where).toEqual(rest(expected));
      expect(new Set(got.map((h) => h.text)).size, where).toBe(got.length);
      compared += got.length;
    }
    expect(compared).toBeGreaterThan(300);
  }, 120_000);

  it('keeps the postings equal to the chunks through changes, deletions and the removal of a source', async () => {
    const drift = async () => (await s.db.query<{ bad: number }>(POSTINGS_DRIFT)).rows[0]!.bad;
    expect(await drift()).toBe(0);
    await s.sources.push(caller(), 'wiki', [
      { id: 'wiki-1', text: 'zeppelin quorum renewal', allowed: ['team:a'] },
      { id: 'wiki-2', text: 'an entirely new text about zeppelin budgets', allowed: ['*', 'team:new'] },
    ]);
    await s.sources.deleteDocument(caller(), 'wiki', 'wiki-3');
    expect(await drift()).toBe(0);
    const { results } = await s.retrieval.search(s.admin, { query: 'zeppelin budgets', mode: 'lexical' });
    expect(results.map((r) => r.documentId)).toContain('wiki-2');
    await s.sources.remove(caller(), 'tickets');
    expect(await drift()).toBe(0);
    const { rows } = await s.db.query<{ n: number }>("select count(*)::int as n from postings p join chunks c on c.id = p.chunk_id where c.source_id <> (select id from sources where name = 'wiki')");
    expect(rows[0]!.n).toBe(0);
  });
});

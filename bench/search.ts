// search: latency of ACL-filtered lexical search over 100,000 chunks on PGlite (synthetic documents drawn
// from the SciFact vocabulary, random team access lists; the caller may read about a tenth of them), with
// the 300 SciFact test queries; p50 and p95 over every query of RUNS passes (medians of the passes).
//   node --import tsx bench/search.ts            (CHUNKS=100000, RUNS=3)
import { readFileSync } from 'node:fs';
import { median, openBenchServices, percentile, SCIFACT, scifactCorpus } from './support.js';

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const total = Number(process.env.CHUNKS ?? 100_000);
  const runs = Number(process.env.RUNS ?? 3);
  const random = rng(7);
  // Words in corpus proportions: sampling positions of the concatenated corpus keeps the natural frequencies.
  const words = scifactCorpus().flatMap((d) => `${d.title} ${d.text}`.split(/\s+/)).filter(Boolean);
  const sentence = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
  const s = await openBenchServices({ postgresUrl: process.env.BENCH_DATABASE_URL });
  try {
    await s.identity.createTeam({ principal: s.admin }, { name: 'bench' });
    const teams = Array.from({ length: 30 }, (_, i) => `t${i}`);
    for (const t of teams) await s.identity.createTeam({ principal: s.admin }, { name: t });
    const user = await s.identity.createUser({ principal: s.admin }, { email: 'reader@example.com' });
    for (const t of teams.slice(0, 3)) await s.identity.setMember({ principal: s.admin }, t, user.email, 'viewer');
    await s.sources.declare({ principal: s.admin }, { name: 'synthetic', team: 'bench', connector: { type: 'push' }, acl: { default: [], map: {} }, chunking: { maxTokens: 400, overlapTokens: 0 } });
    const perPush = 1000;
    const t0 = performance.now();
    for (let i = 0; i < total; i += perPush) {
      await s.sources.push(
        { principal: s.admin },
        'synthetic',
        Array.from({ length: Math.min(perPush, total - i) }, (_, j) => ({
          id: `doc${i + j}`,
          title: sentence(8),
          text: sentence(60),
          allowed: [`team:${teams[Math.floor(random() * teams.length)]}`],
        })),
      );
    }
    const ingestSeconds = (performance.now() - t0) / 1000;
    const { rows } = await s.db.query<{ n: number }>('select count(*)::int as n from chunks');
    const queries = readFileSync(new URL('queries.jsonl', SCIFACT), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { text: string }).text)
      .slice(0, 300);
    const identity = await s.retrieval.identityOf(s.admin, user.email);
    const p50s: number[] = [];
    const p95s: number[] = [];
    for (let r = 0; r < runs; r++) {
      const times: number[] = [];
      for (const q of queries) {
        const t = performance.now();
        await s.retrieval.searchAs(identity, { query: q, k: 10 });
        times.push(performance.now() - t);
      }
      p50s.push(percentile(times, 50));
      p95s.push(percentile(times, 95));
    }
    const ms = (x: number) => Math.round(x * 10) / 10;
    console.log(
      JSON.stringify({
        benchmark: 'search',
        backend: s.db.kind,
        chunks: rows[0]!.n,
        queries: queries.length,
        runs,
        lexical: { p50Ms: ms(median(p50s)), p95Ms: ms(median(p95s)) },
        ingestSeconds: Math.round(ingestSeconds),
        target: { lexicalP95Ms: 30 },
      }),
    );
  } finally {
    await s.close();
  }
}

await main();

// search: latency of ACL-filtered lexical search over 100,000 chunks on PGlite, and of hybrid search over
// 20,000 chunks with 384-dimension vectors (from a local stub of an embeddings endpoint). Synthetic documents
// drawn from the SciFact vocabulary, one of 30 teams each; the caller belongs to 3 (reads about a tenth).
// Queries: the 300 SciFact test queries, k 10; p50 and p95 per pass, medians of RUNS passes. Beside the wall
// times, the process CPU time of each search (PGlite runs in this process, so it is the search's own work and
// moves less than wall time when other processes load the machine), and the 1-minute load average.
//   node --import tsx bench/search.ts            (CHUNKS=100000, HYBRID_CHUNKS=20000, RUNS=3)
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { RetrievalService, VectorIndex } from '../src/retrieval/index.js';
import { startEmbeddingsStub } from '../tests/support/embeddings-stub.js';
import { median, openBenchServices, percentile, SCIFACT, scifactCorpus } from './support.js';
import { rng } from '../tests/support/random.js';

type Sentence = (n: number) => string;

/** Fills a push source with `total` one-chunk documents, each readable by one of 30 teams; returns the reader's identity. */
async function fill(s: Awaited<ReturnType<typeof openBenchServices>>, total: number, sentence: Sentence, random: () => number) {
  await s.identity.createTeam({ principal: s.admin }, { name: 'bench' });
  const teams = Array.from({ length: 30 }, (_, i) => `t${i}`);
  for (const t of teams) await s.identity.createTeam({ principal: s.admin }, { name: t });
  const user = await s.identity.createUser({ principal: s.admin }, { email: 'reader@example.com' });
  for (const t of teams.slice(0, 3)) await s.identity.setMember({ principal: s.admin }, t, user.email, 'viewer');
  await s.sources.declare({ principal: s.admin }, { name: 'synthetic', team: 'bench', connector: { type: 'push' }, acl: { default: [], map: {} }, chunking: { maxTokens: 400, overlapTokens: 0 } });
  for (let i = 0; i < total; i += 1000) {
    await s.sources.push(
      { principal: s.admin },
      'synthetic',
      Array.from({ length: Math.min(1000, total - i) }, (_, j) => ({
        id: `doc${i + j}`,
        title: sentence(8),
        text: sentence(60),
        allowed: [`team:${teams[Math.floor(random() * teams.length)]}`],
      })),
    );
  }
  return user.email;
}

interface Latencies {
  p50Ms: number;
  p95Ms: number;
  cpuP50Ms: number;
  cpuP95Ms: number;
  passes: { p50Ms: number; p95Ms: number }[];
}

async function latencies(searches: (() => Promise<unknown>)[], runs: number): Promise<Latencies> {
  const ms = (x: number) => Math.round(x * 10) / 10;
  const passes: { p50Ms: number; p95Ms: number; cpuP50Ms: number; cpuP95Ms: number }[] = [];
  for (let r = 0; r < runs; r++) {
    const times: number[] = [];
    const cpu: number[] = [];
    for (const search of searches) {
      const c = process.cpuUsage();
      const t = performance.now();
      await search();
      times.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
    passes.push({ p50Ms: ms(percentile(times, 50)), p95Ms: ms(percentile(times, 95)), cpuP50Ms: ms(percentile(cpu, 50)), cpuP95Ms: ms(percentile(cpu, 95)) });
  }
  const med = (key: keyof (typeof passes)[number]) => ms(median(passes.map((p) => p[key])));
  return { p50Ms: med('p50Ms'), p95Ms: med('p95Ms'), cpuP50Ms: med('cpuP50Ms'), cpuP95Ms: med('cpuP95Ms'), passes: passes.map(({ p50Ms, p95Ms }) => ({ p50Ms, p95Ms })) };
}

async function main(): Promise<void> {
  const total = Number(process.env.CHUNKS ?? 100_000);
  const hybridTotal = Number(process.env.HYBRID_CHUNKS ?? 20_000);
  const runs = Number(process.env.RUNS ?? 3);
  const random = rng(7);
  // Words in corpus proportions: sampling positions of the concatenated corpus keeps the natural frequencies.
  const words = scifactCorpus().flatMap((d) => `${d.title} ${d.text}`.split(/\s+/)).filter(Boolean);
  const sentence: Sentence = (n) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(' ');
  const queries = readFileSync(new URL('queries.jsonl', SCIFACT), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { text: string }).text)
    .slice(0, 300);
  const out: Record<string, unknown> = { benchmark: 'search', queries: queries.length, runs, loadavg_1m_at_start: Math.round(loadavg()[0]! * 100) / 100 };

  const s = await openBenchServices({ postgresUrl: process.env.BENCH_DATABASE_URL });
  try {
    const reader = await fill(s, total, sentence, random);
    const { rows } = await s.db.query<{ n: number }>('select count(*)::int as n from chunks');
    const identity = await s.retrieval.identityOf(s.admin, reader);
    out.lexical = { backend: s.db.kind, chunks: rows[0]!.n, ...(await latencies(queries.map((q) => () => s.retrieval.searchAs(identity, { query: q, k: 10 })), runs)) };
  } finally {
    await s.close();
  }

  const stub = await startEmbeddingsStub(384);
  const h = await openBenchServices();
  try {
    const reader = await fill(h, hybridTotal, sentence, random);
    const vectors = new VectorIndex(h.db, { url: stub.url, model: 'stub', dimensions: 384 });
    await vectors.embedPending();
    const retrieval = new RetrievalService(h.db, h.sources, vectors);
    const identity = await retrieval.identityOf(h.admin, reader);
    const { rows } = await h.db.query<{ n: number }>('select count(*)::int as n from chunk_embeddings');
    out.hybrid = { backend: h.db.kind, chunks: rows[0]!.n, dimensions: 384, ...(await latencies(queries.map((q) => () => retrieval.searchAs(identity, { query: q, k: 10, mode: 'hybrid' })), runs)) };
  } finally {
    await h.close();
    await stub.close();
  }
  out.loadavg_1m_at_end = Math.round(loadavg()[0]! * 100) / 100;
  out.target = { lexicalP95Ms: 30 };
  console.log(JSON.stringify(out));
}

await main();

// ingest: initial sync of the 5,183 SciFact abstracts as a records (JSONL) source, then a re-sync with
// nothing changed; on PGlite, and on PostgreSQL too when BENCH_DATABASE_URL is set. Medians of RUNS runs.
//   node --import tsx bench/ingest.ts            (RUNS=3 by default)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemActor } from '../src/access/index.js';
import { median, openBenchServices, scifactCorpus } from './support.js';

async function once(postgresUrl: string | undefined, file: string): Promise<{ docsPerSecond: number; resyncSeconds: number; chunks: number }> {
  const s = await openBenchServices({ postgresUrl });
  try {
    await s.identity.createTeam({ principal: s.admin }, { name: 'research' });
    await s.sources.declare({ principal: s.admin }, { name: 'scifact', team: 'research', connector: { type: 'records', path: file, key: '_id', format: 'jsonl', titleField: 'title' }, acl: { default: ['*'], map: {} } });
    const row = (await s.sources.byRef('scifact'))!;
    const ctx = { actor: systemActor('bench') };
    let t = performance.now();
    const first = await s.sources.syncAs(ctx, row);
    const initial = (performance.now() - t) / 1000;
    if (first.status !== 'succeeded') throw new Error(first.error ?? 'sync failed');
    t = performance.now();
    const again = await s.sources.syncAs(ctx, row);
    const resync = (performance.now() - t) / 1000;
    if (again.counts.unchanged !== first.counts.added) throw new Error('re-sync changed documents');
    const { rows } = await s.db.query<{ n: number }>('select count(*)::int as n from chunks');
    return { docsPerSecond: first.counts.added / initial, resyncSeconds: resync, chunks: rows[0]!.n };
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-'));
  const file = path.join(dir, 'scifact.jsonl');
  const corpus = scifactCorpus();
  writeFileSync(file, corpus.map((d) => JSON.stringify({ _id: d._id, title: d.title, text: d.text })).join('\n'));
  const runs = Number(process.env.RUNS ?? 3);
  const out: Record<string, unknown> = { benchmark: 'ingest', documents: corpus.length, runs };
  try {
    for (const [name, url] of [['pglite', undefined], ...(process.env.BENCH_DATABASE_URL ? [['postgres', process.env.BENCH_DATABASE_URL]] : [])] as [string, string | undefined][]) {
      const results = [];
      for (let i = 0; i < runs; i++) results.push(await once(url, file));
      out[name] = {
        docsPerSecond: Math.round(median(results.map((r) => r.docsPerSecond))),
        resyncSeconds: Math.round(median(results.map((r) => r.resyncSeconds)) * 100) / 100,
        chunks: results[0]!.chunks,
      };
    }
    out.target = { pgliteDocsPerSecond: 300, resyncSeconds: 3 };
    console.log(JSON.stringify(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

// retrieval-quality: SciFact (5,183 abstracts, 300 test queries) through a push source and the default
// lexical retrieval; prints nDCG@10 and recall@100 (BM25 reference: nDCG@10 0.665 to 0.679).
//   node --import tsx bench/retrieval-quality.ts
import { readFileSync } from 'node:fs';
import { openBenchServices, SCIFACT, scifactCorpus } from './support.js';

function ndcgAt10(ranked: string[], relevant: Map<string, number>): number {
  let dcg = 0;
  ranked.slice(0, 10).forEach((id, i) => {
    const rel = relevant.get(id) ?? 0;
    if (rel > 0) dcg += (2 ** rel - 1) / Math.log2(i + 2);
  });
  const ideal = [...relevant.values()].sort((a, b) => b - a).slice(0, 10);
  const idcg = ideal.reduce((sum, rel, i) => sum + (2 ** rel - 1) / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

async function main(): Promise<void> {
  const s = await openBenchServices({ postgresUrl: process.env.BENCH_DATABASE_URL });
  try {
    await s.identity.createTeam({ principal: s.admin }, { name: 'research' });
    await s.sources.declare({ principal: s.admin }, { name: 'scifact', team: 'research', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
    const corpus = scifactCorpus();
    for (let i = 0; i < corpus.length; i += 500) {
      await s.sources.push(
        { principal: s.admin },
        'scifact',
        corpus.slice(i, i + 500).map((d) => ({ id: d._id, title: d.title, text: d.text })),
      );
    }
    const queries = new Map(
      readFileSync(new URL('queries.jsonl', SCIFACT), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { _id: string; text: string })
        .map((q) => [q._id, q.text]),
    );
    const qrels = new Map<string, Map<string, number>>();
    for (const line of readFileSync(new URL('qrels/test.tsv', SCIFACT), 'utf8').split('\n').slice(1)) {
      const [qid, docId, score] = line.split('\t');
      if (!qid || !docId) continue;
      if (!qrels.has(qid)) qrels.set(qid, new Map());
      qrels.get(qid)!.set(docId, Number(score));
    }
    const identity = await s.retrieval.identityOf(s.admin);
    let ndcg = 0;
    let recall = 0;
    for (const [qid, relevant] of qrels) {
      const hits = await s.retrieval.searchAs(identity, { query: queries.get(qid) ?? '', k: 300 });
      const ranked: string[] = [];
      for (const h of hits) if (!ranked.includes(h.documentId)) ranked.push(h.documentId);
      ndcg += ndcgAt10(ranked, relevant);
      const top = new Set(ranked.slice(0, 100));
      recall += [...relevant.keys()].filter((d) => top.has(d)).length / relevant.size;
    }
    const n = qrels.size;
    const round = (x: number) => Math.round(x * 10000) / 10000;
    console.log(JSON.stringify({ benchmark: 'retrieval-quality', dataset: 'scifact', backend: s.db.kind, documents: corpus.length, queries: n, ndcgAt10: round(ndcg / n), recallAt100: round(recall / n), target: { ndcgAt10: 0.68 } }));
  } finally {
    await s.close();
  }
}

await main();

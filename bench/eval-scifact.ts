// eval-scifact: SciFact as a use case (its 5,183 abstracts a push source, its 300 test queries with their qrels a
// dataset) evaluated by an eval run on embedded PGlite; prints the run's retrieval nDCG@10 and recall@100, the
// same figures computed as `retrieval-quality` computes them over the same index (the baseline they must agree
// with, within 0.005), and the wall time, ingest included.
//
//   npm run bench -- eval-scifact [--concurrency 4]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openServices } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { emit, intArg, progress, round } from './support/common.js';
import { SCIFACT, scifactCorpus } from './support.js';

const CONCURRENCY = intArg('concurrency', 4);
const K = 200;
const loadAtStart = round(loadavg()[0] ?? 0, 2);
const started = performance.now();

const dir = mkdtempSync(path.join(tmpdir(), 'tarmac-bench-scifact-'));
const config = loadConfig({ TARMAC_DATA_DIR: dir, TARMAC_LOG_LEVEL: 'warn', TARMAC_SEED_DEMO: 'false' });
const services = await openServices(config, { command: 'bench eval-scifact' });
try {
  const caller = { principal: await services.identity.authenticate(readFileSync(path.join(dir, 'admin-key'), 'utf8').trim()) };
  await services.identity.createTeam(caller, { name: 'research' });
  await services.identity.setMember(caller, 'research', 'admin@tarmac.local', 'owner');
  await services.sources.declare(caller, { name: 'scifact', team: 'research', connector: { type: 'push' }, acl: { default: ['*'], map: {} } });
  const corpus = scifactCorpus();
  progress(`pushing ${corpus.length} abstracts`);
  for (let i = 0; i < corpus.length; i += 500) {
    await services.sources.push(caller, 'scifact', corpus.slice(i, i + 500).map((d) => ({ id: d._id, title: d.title, text: d.text })));
  }
  const ingestMs = performance.now() - started;
  await services.prompts.create(caller, {
    name: 'scifact-answer',
    team: 'research',
    labels: ['production'],
    content: {
      messages: [
        { role: 'system', content: 'Answer from the abstracts.\n\n{{context}}' },
        { role: 'user', content: '{{question}}' },
      ],
      variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true } },
      model: {},
    },
  });
  // Enough chunks, and budget for all of them, that the context holds the top 100 documents.
  await services.usecases.declare(caller, { name: 'scifact', team: 'research', owner: 'admin@tarmac.local', riskTier: 'low', prompt: 'scifact-answer', route: 'local/extractive', context: { sources: ['scifact'], k: K, tokenBudget: 1_000_000 } });

  const queries = new Map(
    readFileSync(new URL('queries.jsonl', SCIFACT), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { _id: string; text: string })
      .map((q) => [q._id, q.text]),
  );
  const qrels = new Map<string, Set<string>>();
  for (const line of readFileSync(new URL('qrels/test.tsv', SCIFACT), 'utf8').split('\n').slice(1)) {
    const [qid, docId, score] = line.split('\t');
    if (!qid || !docId || Number(score) <= 0) continue;
    if (!qrels.has(qid)) qrels.set(qid, new Set());
    qrels.get(qid)!.add(docId);
  }
  const cases = [...qrels].map(([qid, docs]) => ({ id: `q${qid}`, input: queries.get(qid) ?? '', expectedDocuments: [...docs] }));
  await services.evals.createDataset(caller, { name: 'scifact-test', team: 'research' }, cases);

  progress(`evaluating ${cases.length} queries (1 trial, concurrency ${CONCURRENCY})`);
  const evalStarted = performance.now();
  const run = await services.evals.start(caller, { useCase: 'scifact', dataset: 'scifact-test', trials: 1, concurrency: CONCURRENCY });
  await services.evals.idle();
  const evalMs = performance.now() - evalStarted;
  const detail = await services.evals.get(caller, run.id);
  const wallMs = performance.now() - started;

  // The baseline: retrieval-quality's computation (search as the caller, k 300, each document once) on this index.
  progress('baseline: the same queries through search');
  const identity = await services.retrieval.identityOf(caller.principal);
  let ndcg = 0;
  let recall = 0;
  for (const [qid, relevant] of qrels) {
    const hits = await services.retrieval.searchAs(identity, { query: queries.get(qid) ?? '', k: 300 });
    const ranked: string[] = [];
    for (const h of hits) if (!ranked.includes(h.documentId)) ranked.push(h.documentId);
    let dcg = 0;
    ranked.slice(0, 10).forEach((id, i) => {
      if (relevant.has(id)) dcg += 1 / Math.log2(i + 2);
    });
    let idcg = 0;
    for (let i = 0; i < Math.min(10, relevant.size); i++) idcg += 1 / Math.log2(i + 2);
    ndcg += dcg / idcg;
    const top = new Set(ranked.slice(0, 100));
    recall += [...relevant].filter((d) => top.has(d)).length / relevant.size;
  }
  const n = qrels.size;
  const evalNdcg = detail.summary?.metrics['retrieval.ndcg@10']?.mean ?? null;
  const evalRecall = detail.summary?.metrics['retrieval.recall@100']?.mean ?? null;
  const baseNdcg = ndcg / n;
  const baseRecall = recall / n;
  emit({
    bench: 'eval-scifact',
    loadavg_1m_at_start: loadAtStart,
    backend: services.db.kind,
    documents: corpus.length,
    queries: n,
    status: detail.status,
    errors: detail.progress.errors,
    ndcg_at_10: evalNdcg === null ? null : round(evalNdcg, 4),
    recall_at_100: evalRecall === null ? null : round(evalRecall, 4),
    ndcg_at_10_interval: detail.summary?.metrics['retrieval.ndcg@10'] ?? null,
    baseline_ndcg_at_10: round(baseNdcg, 4),
    baseline_recall_at_100: round(baseRecall, 4),
    ndcg_difference: evalNdcg === null ? null : round(Math.abs(evalNdcg - baseNdcg), 4),
    recall_difference: evalRecall === null ? null : round(Math.abs(evalRecall - baseRecall), 4),
    ingest_s: round(ingestMs / 1000, 1),
    eval_s: round(evalMs / 1000, 1),
    wall_s: round(wallMs / 1000, 1),
    targets: { agreement: 0.005, wall_s: 120 },
    node: process.version,
  });
} finally {
  await services.registry.close();
  await services.db.close();
  rmSync(dir, { recursive: true, force: true });
}

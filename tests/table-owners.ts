// Which folder owns each table: only that folder's SQL names it; other folders call its public face.
// tests/structure.test.ts checks the source against this map, and that every table of the migrations is in it.
export const TABLE_OWNERS: Record<string, string> = {
  installation: 'identity',
  users: 'identity',
  teams: 'identity',
  team_members: 'identity',
  api_keys: 'identity',
  audit_entries: 'audit',
  audit_checkpoints: 'audit',
  policies: 'policies',
  gateway_config: 'gateway',
  gateway_counters: 'gateway',
  gateway_traces: 'gateway',
  gateway_cache: 'gateway',
  prompts: 'prompts',
  prompt_versions: 'prompts',
  prompt_labels: 'prompts',
  sources: 'sources',
  documents: 'sources',
  chunks: 'sources',
  records: 'sources',
  quarantine: 'sources',
  sync_runs: 'sources',
  source_cursors: 'sources',
  postings: 'sources',
  acl_groups: 'sources',
  term_stats: 'sources',
  corpus_stats: 'sources',
  use_cases: 'usecases',
  runs: 'runs',
  run_feedback: 'runs',
  run_outcomes: 'runs',
  eval_datasets: 'evals',
  eval_dataset_versions: 'evals',
  eval_runs: 'evals',
  eval_trials: 'evals',
  eval_alerts: 'evals',
  review_tasks: 'review',
  reviewer_load: 'review',
};

/**
 * Reads of another folder's tables that stay in SQL, each with its reason. Keep this list short: a read that
 * can go through the owner's public face should.
 */
export const SHARED_READS: { folder: string; tables: string[]; why: string }[] = [
  {
    folder: 'retrieval',
    tables: ['sources', 'documents', 'chunks', 'term_stats', 'corpus_stats'],
    why: 'search ranks the index sources writes: the access filter and BM25 must run inside one statement, so the top k are the best k the caller may read',
  },
  {
    folder: 'review',
    tables: ['users', 'team_members'],
    why: 'the least-loaded reviewer is chosen inside the task insert, in the run-record transaction, to save round trips on the run path',
  },
  {
    folder: 'review',
    tables: ['runs', 'use_cases'],
    why: "four eyes (the run's user) and the review webhook (the posture) are read in the deciding transaction",
  },
  {
    folder: 'usecases',
    tables: ['users'],
    why: "a use case is read with its owner's email in one statement, on every run (cached)",
  },
];

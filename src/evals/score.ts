import { z } from 'zod';
import { RETRIEVAL_KS, type EvalMetric } from '../metrics/index.js';
import type { TrialResult } from '../runs/index.js';
import type { Assertion, AssertionOutcome as AssertionOutcomeShape, EvalCase } from './evals.schema.js';

/** A trial's metric values; a metric that does not apply to the case (or could not be computed) is absent. */
export type TrialMetrics = Partial<Record<EvalMetric, number>>;

export type AssertionOutcome = z.output<typeof AssertionOutcomeShape>;

const normalise = (text: string) =>
  text
    .toLowerCase()
    .normalize('NFKC')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();

const tokens = (text: string) => normalise(text).split(' ').filter((t) => t.length > 0);

/** SQuAD-style token F1 between an answer and the expected answer, after lower-casing and dropping punctuation. */
export function tokenF1(answer: string, expected: string): number {
  const a = tokens(answer);
  const e = tokens(expected);
  if (a.length === 0 || e.length === 0) return a.length === e.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of e) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of a) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      common++;
      counts.set(t, n - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / a.length;
  const recall = common / e.length;
  return (2 * precision * recall) / (precision + recall);
}

// Phrases of an answer that declines: the built-in model's, and the usual ones of hosted models.
const REFUSAL = /\b(i (do not|don't|cannot|can't) (know|find|answer|say|help)|no (sentence|passage|document|source)s? in [^.]{0,80}supports? an answer|no (relevant )?(information|answer|passage|context)|not (enough|sufficient) (information|context)|(unable|not able) to (answer|find|determine)|the (context|passages?|documents?) (do|does) not (say|mention|contain|cover|address))\b/i;

/** Whether an answer says it does not know, or the run declined to answer. */
export function isRefusal(answer: string | null, decision: string | null): boolean {
  if (decision === 'blocked') return true;
  if (answer === null || answer.trim() === '') return true;
  return REFUSAL.test(answer);
}

const firstNumber = (text: string): number | null => {
  const m = /-?\d[\d,]*(?:\.\d+)?/.exec(text);
  return m ? Number(m[0].replace(/,/g, '')) : null;
};

function check(a: Assertion, c: EvalCase, answer: string, t: TrialResult): AssertionOutcome {
  const fold = (s: string, ignoreCase: boolean) => (ignoreCase ? s.toLowerCase() : s);
  switch (a.type) {
    case 'exact_match': {
      const want = a.value ?? c.expected;
      if (want === undefined) return { type: a.type, passed: false, detail: 'no expected answer to match' };
      const passed = a.ignoreCase ? normalise(answer) === normalise(want) : answer.trim() === want.trim();
      return { type: a.type, passed, detail: passed ? 'matches' : 'differs from the expected answer' };
    }
    case 'contains': {
      const passed = fold(answer, a.ignoreCase).includes(fold(a.value, a.ignoreCase));
      return { type: a.type, passed, detail: passed ? `contains "${a.value}"` : `does not contain "${a.value}"` };
    }
    case 'not_contains': {
      const passed = !fold(answer, a.ignoreCase).includes(fold(a.value, a.ignoreCase));
      return { type: a.type, passed, detail: passed ? `does not contain "${a.value}"` : `contains "${a.value}"` };
    }
    case 'regex': {
      const passed = new RegExp(a.pattern, a.flags).test(answer);
      return { type: a.type, passed, detail: passed ? `matches /${a.pattern}/` : `does not match /${a.pattern}/` };
    }
    case 'json_valid':
    case 'json_schema': {
      let value: unknown;
      try {
        value = JSON.parse(answer);
      } catch (err) {
        return { type: a.type, passed: false, detail: `not JSON: ${(err as Error).message}` };
      }
      if (a.type === 'json_valid') return { type: a.type, passed: true, detail: 'valid JSON' };
      const result = z.fromJSONSchema(a.schema).safeParse(value);
      return { type: a.type, passed: result.success, detail: result.success ? 'matches the schema' : (result.error.issues[0]?.message ?? 'does not match the schema') };
    }
    case 'numeric': {
      const n = firstNumber(answer);
      const passed = n !== null && Math.abs(n - a.value) <= a.tolerance;
      return { type: a.type, passed, detail: n === null ? 'no number in the answer' : `${n} (want ${a.value} ± ${a.tolerance})` };
    }
    case 'refusal': {
      const refused = isRefusal(answer, t.decision);
      return { type: a.type, passed: refused === a.expected, detail: refused ? 'declines to answer' : 'answers' };
    }
    case 'f1': {
      if (c.expected === undefined) return { type: a.type, passed: false, detail: 'no expected answer' };
      const f1 = tokenF1(answer, c.expected);
      return { type: a.type, passed: f1 >= a.min, detail: `F1 ${f1.toFixed(3)} (min ${a.min})` };
    }
    case 'groundedness': {
      const g = t.groundedness?.score;
      return { type: a.type, passed: g !== undefined && g >= a.min, detail: g === undefined ? 'not scored' : `groundedness ${g.toFixed(3)} (min ${a.min})` };
    }
    case 'decision':
      return { type: a.type, passed: t.decision === a.value, detail: `decision ${t.decision ?? 'none'}` };
  }
}

/** The case's assertions, or the default: a case with none passes when its answer is delivered. */
export function assertionsOf(c: EvalCase): Assertion[] {
  return c.assertions.length > 0 ? c.assertions : [{ type: 'decision', value: 'delivered' }];
}

/** The documents a trial retrieved, best first, each once: `source/documentId`. */
export function retrieved(t: TrialResult): { source: string; documentId: string }[] {
  const seen = new Set<string>();
  const out: { source: string; documentId: string }[] = [];
  for (const c of t.manifest?.chunks ?? []) {
    const key = `${c.source}/${c.documentId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ source: c.source, documentId: c.documentId });
  }
  return out;
}

/** Whether a retrieved document is an expected one (named by document id or by source/document id). */
const matches = (doc: { source: string; documentId: string }, expected: string) => expected === doc.documentId || expected === `${doc.source}/${doc.documentId}`;

/** Precision, recall and nDCG at each cut-off, MRR and hit rate (binary relevance), from a ranked list. */
export function retrievalMetrics(ranked: { source: string; documentId: string }[], expected: string[]): TrialMetrics {
  const out: TrialMetrics = {};
  if (expected.length === 0) return out;
  const relevant = ranked.map((d) => expected.some((e) => matches(d, e)));
  const firstHit = relevant.indexOf(true);
  out['retrieval.mrr'] = firstHit < 0 ? 0 : 1 / (firstHit + 1);
  out['retrieval.hit_rate'] = firstHit < 0 ? 0 : 1;
  for (const k of RETRIEVAL_KS) {
    const top = relevant.slice(0, k);
    const hits = top.filter(Boolean).length;
    out[`retrieval.precision@${k}`] = hits / k;
    out[`retrieval.recall@${k}`] = hits / expected.length;
    const dcg = top.reduce((sum, rel, i) => sum + (rel ? 1 / Math.log2(i + 2) : 0), 0);
    let ideal = 0;
    for (let i = 0; i < Math.min(k, expected.length); i++) ideal += 1 / Math.log2(i + 2);
    out[`retrieval.ndcg@${k}`] = dcg / ideal;
  }
  return out;
}

export interface ScoredTrial {
  metrics: TrialMetrics;
  passed: boolean;
  assertions: AssertionOutcome[];
}

/**
 * Scores one trial of a case. `knownDocuments` says which expected documents exist: retrieval metrics are left
 * out (not available) when any does not, never counted as zero.
 */
export function scoreTrial(c: EvalCase, t: TrialResult, options: { expectedDocumentsExist: boolean; judge?: { score: number | null } | null }): ScoredTrial {
  const answer = t.answer ?? '';
  const assertions = assertionsOf(c).map((a) => check(a, c, answer, t));
  const passed = assertions.every((a) => a.passed);
  const metrics: TrialMetrics = {
    pass: passed ? 1 : 0,
    error: 0,
    'answer.assertions': assertions.filter((a) => a.passed).length / assertions.length,
    'decision.delivered': t.decision === 'delivered' || t.decision === 'flagged' ? 1 : 0,
    'decision.held': t.decision === 'held_for_review' ? 1 : 0,
    'decision.blocked': t.decision === 'blocked' ? 1 : 0,
    'answer.refusal': isRefusal(t.answer, t.decision) ? 1 : 0,
    latency_ms: t.latencyMs,
    cost_usd: t.costUsd,
    'tokens.input': t.tokens.input,
    'tokens.output': t.tokens.output,
  };
  if (c.expected !== undefined) {
    metrics['answer.exact_match'] = normalise(answer) === normalise(c.expected) ? 1 : 0;
    metrics['answer.f1'] = tokenF1(answer, c.expected);
  }
  if (t.groundedness) {
    metrics['groundedness.score'] = t.groundedness.score;
    metrics['groundedness.unsupported'] = t.groundedness.unsupported.length;
  }
  if (t.relevance) metrics['relevance.score'] = t.relevance.score;
  if (options.judge) {
    if (options.judge.score === null) metrics['judge.error'] = 1;
    else {
      metrics['judge.error'] = 0;
      metrics['judge.score'] = options.judge.score;
    }
  }
  if (options.expectedDocumentsExist) Object.assign(metrics, retrievalMetrics(retrieved(t), c.expectedDocuments));
  return { metrics, passed, assertions };
}

/** The metrics of a trial whose run failed: counted as an error and a fail, nothing else. */
export function failedTrialMetrics(): TrialMetrics {
  return { pass: 0, error: 1 };
}

// Evaluation end to end on the real database: datasets and versions, eval runs through the governed run's steps
// (never cached, never recorded as production), resumption and cancellation, comparisons and the gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemActor, type Principal } from '../access/index.js';
import { BACKEND } from '../../tests/support/db.js';
import { declareRunFixture, ROOF_GUIDE, stubGatewayYaml, underwritingTeam } from '../../tests/support/runs.js';
import { openTestServices, type TestServices } from '../../tests/support/services.js';
import { startStubOpenAi, type StubOpenAi } from '../../tests/support/stub-openai.js';
import type { EvalRunDetail } from './index.js';

const ROOF_Q = 'What is the maximum roof age for a standard homeowners policy?';
const CASES = [
  { id: 'roof', input: ROOF_Q, expected: 'A standard homeowners policy may be written for roofs up to 20 years old.', expectedDocuments: ['guide.md'], assertions: [{ type: 'contains', value: '20 years' }] },
  { id: 'inspection', input: 'When is an inspection required before binding?', expectedDocuments: ['kb/guide.md'], assertions: [{ type: 'contains', value: 'inspection' }] },
  { id: 'ghost', input: 'What does the flood annex say?', expectedDocuments: ['flood-annex.md'], assertions: [{ type: 'refusal' }] },
];

describe(`evaluation (${BACKEND})`, () => {
  let s: TestServices;
  let stub: StubOpenAi;
  let analyst: Principal;
  let owner: Principal;
  let clock = new Date();
  beforeAll(async () => {
    stub = await startStubOpenAi();
    s = await openTestServices({ now: () => clock });
    const routes = [
      '    - { name: quoting, cacheTtlSeconds: 600, targets: [{ provider: stub, model: quote }] }',
      '    - { name: broken, targets: [{ provider: stub, model: fail-500 }] }',
      '    - { name: judging, targets: [{ provider: stub, model: judge-0.8 }] }',
    ].join('\n');
    await s.workspace.applyAs({ actor: systemActor('test') }, stubGatewayYaml(stub.url, `${routes}\n`), 'gateway.yaml', { dryRun: false });
    analyst = await s.identity.authenticate(await underwritingTeam(s));
    owner = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'o', user: 'owner@x.io' })).token);
    await declareRunFixture(s, { docs: [{ id: 'guide.md', text: ROOF_GUIDE }], useCase: { name: 'uw', posture: { deliverThreshold: 0.6, reviewSampleRate: 0 } } });
    await s.evals.createDataset({ principal: analyst }, { name: 'uw-cases', team: 'underwriting' }, CASES);
  });
  afterAll(async () => {
    await s?.close();
    await stub?.close();
  });

  const finished = async (id: string): Promise<EvalRunDetail> => {
    await s.evals.idle();
    return s.evals.get({ principal: analyst }, id);
  };

  it('imports nothing from a file with a malformed line, and names the line', async () => {
    const good = JSON.stringify({ input: 'a question?' });
    await expect(s.evals.importVersion({ principal: analyst }, 'uw-cases', `${good}\n{"input": "half\n${good}\n`, 'jsonl')).rejects.toMatchObject({
      code: 'validation_failed',
      details: { issues: [{ path: 'line 2' }] },
    });
    await expect(s.evals.importVersion({ principal: analyst }, 'uw-cases', `${good}\n${JSON.stringify({ input: '' })}\n`, 'jsonl')).rejects.toMatchObject({
      code: 'validation_failed',
      details: { issues: [{ path: 'line 2: input' }] },
    });
    expect((await s.evals.getDataset({ principal: analyst }, 'uw-cases')).version).toBe(1);
  });

  it('round-trips a version through CSV, and warns of expected documents that do not exist', async () => {
    const csv = await s.evals.exportVersion({ principal: analyst }, 'uw-cases', 1, 'csv');
    const created = await s.evals.importVersion({ principal: analyst }, 'uw-cases', csv, 'csv', 'from csv');
    expect(created).toMatchObject({ version: 2, caseCount: 3 });
    expect(created.warnings).toEqual([expect.stringContaining('flood-annex.md')]);
    expect((await s.evals.casesOf({ principal: analyst }, 'uw-cases', 2)).cases).toEqual((await s.evals.casesOf({ principal: analyst }, 'uw-cases', 1)).cases.map((c) => ({ ...c, origin: { kind: 'import' } })));
    // Versions are immutable: version 1 reads as it was written.
    expect((await s.evals.casesOf({ principal: analyst }, 'uw-cases', 1)).cases[0]!.origin).toEqual({ kind: 'api' });
  });

  it('runs every case N times through the governed run, records no production run, and scores it', async () => {
    const runsBefore = Number((await s.db.query<{ n: number }>('select count(*)::int as n from runs')).rows[0]!.n);
    const started = await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', trials: 3 });
    expect(started).toMatchObject({ status: 'queued', datasetVersion: 2, progress: { total: 9 }, config: { promptVersion: 1, route: 'local/extractive' } });
    const run = await finished(started.id);
    expect(run.status).toBe('completed');
    expect(run.progress).toMatchObject({ done: 9, total: 9, errors: 0 });
    expect(Number((await s.db.query<{ n: number }>('select count(*)::int as n from runs')).rows[0]!.n)).toBe(runsBefore);
    const roof = run.cases.find((c) => c.caseId === 'roof')!;
    expect(roof).toMatchObject({ trials: 3, passed: 3, passAll: true });
    expect(roof.metrics).toMatchObject({ 'retrieval.hit_rate': 1, 'retrieval.mrr': 1, 'retrieval.recall@10': 1, 'retrieval.ndcg@10': 1 });
    expect(roof.metrics['answer.f1']).toBeGreaterThan(0.6);
    // The expected document that does not exist: retrieval is not available for that case, never zero.
    const ghost = run.cases.find((c) => c.caseId === 'ghost')!;
    expect(ghost.metrics['retrieval.mrr']).toBeUndefined();
    expect(run.summary!.notAvailable).toHaveLength(1);
    expect(run.summary!.metrics['retrieval.mrr']).toMatchObject({ mean: 1, cases: 2 });
    expect(run.summary!.passRate.cases).toBe(3);
    expect(run.summary!.passRate.low!).toBeLessThanOrEqual(run.summary!.passRate.mean!);
    expect(JSON.stringify(run)).not.toMatch(/NaN|Infinity/);
  });

  it('bypasses the response cache, varies the seed per trial, and marks eval traffic in the traces', async () => {
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-hosted', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'quoting', posture: { deliverThreshold: 0.6 } });
    const before = stub.requests.length;
    const started = await s.evals.start({ principal: analyst }, { useCase: 'uw-hosted', dataset: 'uw-cases', datasetVersion: 1, trials: 3 });
    const run = await finished(started.id);
    expect(run.status).toBe('completed');
    const calls = stub.requests.slice(before).filter((r) => r.body.model === 'quote');
    expect(calls).toHaveLength(9);
    const roofSeeds = calls.filter((r) => JSON.stringify(r.body.messages).includes('maximum roof age')).map((r) => r.body.seed);
    expect(new Set(roofSeeds).size).toBe(3);
    await s.gateway.flush();
    const traces = (await s.db.query<{ eval_run: string | null; cache_hit: boolean }>("select eval_run, cache_hit from gateway_traces where use_case = 'uw-hosted'")).rows;
    expect(traces).toHaveLength(9);
    expect(traces.every((t) => t.eval_run === started.id && !t.cache_hit)).toBe(true);
  });

  it('records failed trials as errors with their reason, and completes', async () => {
    const started = await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 2, config: { route: 'broken' } });
    const run = await finished(started.id);
    expect(run.status).toBe('completed');
    expect(run.progress).toMatchObject({ done: 6, errors: 6 });
    expect(run.summary!.errorRate).toBe(1);
    expect(run.cases[0]!.results[0]!.error).toMatch(/upstream/);
  });

  it('resumes a run a stopped worker left, without running or counting a trial twice', async () => {
    const held: (() => void)[] = [];
    s.evals.dispatchWith(async () => undefined);
    const started = await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 4, concurrency: 1 });
    // A first worker does part of the run, then stops (as a server does on SIGTERM, or a crash would).
    const trial = s.runs.trial.bind(s.runs);
    let calls = 0;
    s.runs.trial = async (...args) => {
      calls++;
      if (calls === 5) await new Promise<void>((resolve) => held.push(resolve));
      return trial(...args);
    };
    const first = s.evals.execute(started.id);
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    const partial = await s.evals.get({ principal: analyst }, started.id);
    expect(partial.status).toBe('running');
    expect(partial.progress.done).toBeLessThan(12);
    held[0]!();
    await first.catch(() => undefined);
    // A second execution of the same run finishes what is left; trials are keyed by case and trial number.
    await s.evals.execute(started.id);
    s.runs.trial = trial;
    const run = await s.evals.get({ principal: analyst }, started.id);
    expect(run.status).toBe('completed');
    expect(run.progress.done).toBe(12);
    expect(run.cases.map((c) => c.results.map((r) => r.trial))).toEqual([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]);
    const rows = (await s.db.query<{ n: number }>('select count(*)::int as n from eval_trials where eval_run_id = $1', [started.id])).rows[0]!.n;
    expect(Number(rows)).toBe(12);
    s.evals.dispatchWith(async (id) => s.evals.execute(id));
  });

  it('cancels: trials in flight finish, finished ones are kept', async () => {
    s.evals.dispatchWith(async () => undefined);
    const started = await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 2 });
    expect((await s.evals.cancel({ principal: analyst }, started.id)).status).toBe('cancelled');
    await expect(s.evals.cancel({ principal: analyst }, started.id)).rejects.toMatchObject({ code: 'conflict' });
    await s.evals.execute(started.id);
    expect((await s.evals.get({ principal: analyst }, started.id)).progress.done).toBe(0);
    s.evals.dispatchWith(async (id) => s.evals.execute(id));
  });

  it('compares A with A as no change, and a worse prompt version as a regression', async () => {
    const a = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 2 })).id);
    const b = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 2 })).id);
    const same = await s.evals.compare({ principal: analyst }, a.id, b.id);
    expect(same.cases).toBe(3);
    expect(same.metrics.filter((m) => m.metric !== 'latency_ms').every((m) => m.verdict === 'no_detectable_change')).toBe(true);
    // Version 2 hides the context: the extractive model has nothing to quote.
    await s.prompts.addVersion({ principal: s.admin }, 'uw-answer', {
      content: {
        messages: [{ role: 'user', content: '{{question}}' }],
        variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true } },
        model: {},
      },
    });
    const worse = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 2, config: { promptVersion: 2 } })).id);
    const cmp = await s.evals.compare({ principal: analyst }, a.id, worse.id);
    expect(cmp.metrics.find((m) => m.metric === 'answer.f1')).toMatchObject({ verdict: 'regressed' });
    expect(cmp.regressed.map((c) => c.caseId)).toContain('roof');
  });

  it('gates promotion and the production label on a passing eval run; an owner overrides with a reason', async () => {
    await s.usecases.declare({ principal: s.admin }, {
      name: 'uw-gated',
      team: 'underwriting',
      owner: 'owner@x.io',
      riskTier: 'medium',
      prompt: 'uw-answer',
      route: 'local/extractive',
      posture: { deliverThreshold: 0.6 },
      gate: { dataset: 'uw-cases', thresholds: ['answer.f1 >= 0.5', 'cost_per_case_usd <= 0.01'], maxAgeDays: 7 },
    });
    await expect(s.usecases.declare({ principal: s.admin }, { name: 'uw-bad-gate', team: 'underwriting', owner: 'owner@x.io', riskTier: 'low', prompt: 'uw-answer', gate: { dataset: 'uw-cases', thresholds: ['answer.bleu >= 0.5'] } })).rejects.toMatchObject({ code: 'validation_failed' });
    // No eval run of this configuration on the current version yet.
    await expect(s.usecases.setStage({ principal: owner }, 'uw-gated', 'production', 'ready')).rejects.toMatchObject({ code: 'gate_failed' });
    await s.evals.importVersion({ principal: analyst }, 'uw-cases', CASES.slice(0, 2).map((c) => JSON.stringify(c)).join('\n'), 'jsonl');
    const run = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw-gated', dataset: 'uw-cases', trials: 2 })).id);
    expect((await s.evals.gateOfRun({ principal: analyst }, run.id)).result).toBe('pass');
    expect((await s.usecases.setStage({ principal: owner }, 'uw-gated', 'production', 'eval passed')).stage).toBe('production');
    // The production label cannot move to the worse version; an override passes, audited with what it waived.
    await expect(s.prompts.moveLabel({ principal: owner }, 'uw-answer', 'production', 2)).rejects.toMatchObject({ code: 'gate_failed' });
    await s.prompts.moveLabel({ principal: owner }, 'uw-answer', 'production', 2, { overrideGate: 'accepting the risk for a demo' });
    const entry = (await s.db.query<{ after: { gate?: Record<string, { overridden?: string }> } }>("select after from audit_entries where action = 'prompt.label_moved' order by seq desc limit 1")).rows[0]!;
    expect(entry.after.gate?.['uw-gated']?.overridden).toBe('accepting the risk for a demo');
    // A stale eval run no longer opens the gate.
    clock = new Date(Date.now() + 8 * 86_400_000);
    await s.usecases.setStage({ principal: owner }, 'uw-gated', 'pilot', 'back');
    await expect(s.usecases.setStage({ principal: owner }, 'uw-gated', 'limited', 'again')).rejects.toMatchObject({ code: 'gate_failed' });
    // Config as code is held to the same gate.
    const yaml = `version: 1
usecases:
  - name: uw-gated
    team: underwriting
    owner: owner@x.io
    riskTier: medium
    prompt: uw-answer
    route: local/extractive
    stage: limited
    posture: { deliverThreshold: 0.6 }
    gate: { dataset: uw-cases, thresholds: ['answer.f1 >= 0.5', 'cost_per_case_usd <= 0.01'], maxAgeDays: 7 }
`;
    await expect(s.workspace.applyAs({ actor: systemActor('test') }, yaml, 'tarmac.yaml', { dryRun: false })).rejects.toThrow(/gate refuses/);
    clock = new Date();
  });

  it('makes a case of a corrected run, linked to it', async () => {
    await s.prompts.moveLabel({ principal: s.admin }, 'uw-answer', 'production', 1, { overrideGate: 'restore' });
    const ran = await s.runs.run({ principal: analyst }, 'uw', { input: ROOF_Q });
    await expect(s.evals.caseFromRun({ principal: analyst }, 'uw-cases', { runId: ran.runId })).rejects.toMatchObject({ code: 'validation_failed' });
    await s.runs.feedback({ principal: analyst }, ran.runId, { rating: 1, correction: 'Up to 20 years; older roofs need an inspection.' });
    const v = await s.evals.caseFromRun({ principal: analyst }, 'uw-cases', { runId: ran.runId, tags: ['feedback'] });
    const made = (await s.evals.casesOf({ principal: analyst }, 'uw-cases', v.version)).cases.find((c) => c.id === `run:${ran.runId}`);
    expect(made).toMatchObject({ input: ROOF_Q, expected: 'Up to 20 years; older roofs need an inspection.', tags: ['feedback'], origin: { kind: 'run', runId: ran.runId } });
  });

  it('reports an unparseable judge answer as a judge error, never a score of zero', async () => {
    const run = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', datasetVersion: 1, trials: 1, judge: { model: 'quoting', rubric: 'Is it right?' } })).id);
    expect(run.summary!.metrics['judge.error']).toMatchObject({ mean: 1 });
    expect(run.summary!.metrics['judge.score']).toBeUndefined();
  });

  it('applies datasets declared in tarmac.yaml idempotently; a changed file makes a new version, a bad one nothing', async () => {
    const ctx = { actor: systemActor('test') };
    const yaml = 'version: 1\ndatasets:\n  - { name: uw-yaml, team: underwriting, file: evals/cases.jsonl }\n';
    const lines = CASES.map((c) => JSON.stringify(c));
    const apply = (content: string | null) => s.workspace.applyAs(ctx, yaml, 'tarmac.yaml', { dryRun: false, files: content === null ? {} : { 'evals/cases.jsonl': content } });
    expect((await apply(lines.join('\n'))).changes).toEqual([expect.objectContaining({ op: 'create', kind: 'dataset', name: 'uw-yaml' })]);
    expect((await apply(lines.join('\n'))).changes).toEqual([]);
    expect((await apply(lines.slice(0, 2).join('\n'))).changes).toEqual([expect.objectContaining({ op: 'update', kind: 'dataset', fields: [{ path: 'version', from: 1, to: 2 }] })]);
    await expect(apply(`${lines[0]}\n{oops`)).rejects.toThrow(/evals\/cases\.jsonl: .*line 2/);
    await expect(apply(null)).rejects.toThrow(/cannot read evals\/cases\.jsonl/);
    const ds = await s.evals.getDataset({ principal: analyst }, 'uw-yaml');
    expect(ds.versions.map((v) => v.caseCount)).toEqual([3, 2]);
    expect((await s.evals.casesOf({ principal: analyst }, 'uw-yaml')).cases[0]!.origin).toEqual({ kind: 'config' });
  });

  it('runs the production configuration on its schedule and raises eval_drift when a bad prompt version ships', async () => {
    // Twelve distinct questions the good prompt answers and the bad one cannot.
    const many = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, input: `${ROOF_Q.replace(/\?$/, '')} (${i})?`, assertions: [{ type: 'contains', value: '20 years' }] }));
    await s.evals.createDataset({ principal: analyst }, { name: 'uw-scheduled', team: 'underwriting' }, many);
    await s.prompts.create({ principal: s.admin }, {
      name: 'uw-sched-answer',
      team: 'underwriting',
      labels: ['production'],
      content: {
        messages: [
          { role: 'system', content: 'Answer only from the context.\n\nContext:\n{{context}}' },
          { role: 'user', content: '{{question}}' },
        ],
        variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true } },
        model: {},
      },
    });
    const start = new Date(Date.now() - 86_400_000);
    start.setUTCMinutes(30, 0, 0);
    clock = start;
    await s.usecases.declare({ principal: s.admin }, {
      name: 'uw-sched',
      team: 'underwriting',
      owner: 'owner@x.io',
      riskTier: 'medium',
      prompt: 'uw-sched-answer',
      route: 'local/extractive',
      posture: { deliverThreshold: 0.6 },
      evalSchedule: { dataset: 'uw-scheduled', cron: '0 * * * *', trials: 2, baselineRuns: 3 },
    });
    await s.db.query("update use_cases set created_at = $1 where name = 'uw-sched'", [new Date(start.getTime() - 3_600_000)]);
    const tick = async (hours: number) => {
      clock = new Date(start.getTime() + hours * 3_600_000);
      const started = await s.evals.scheduleTick(clock);
      await s.evals.idle();
      return started;
    };
    expect(await tick(0)).toHaveLength(1);
    expect(await tick(0.2)).toHaveLength(0);
    for (const h of [1, 2]) expect(await tick(h)).toHaveLength(1);
    expect(await s.evals.alerts({ principal: analyst }, { useCase: 'uw-sched', limit: 50 })).toEqual([]);
    // A version that hides the context reaches production.
    await s.prompts.addVersion({ principal: s.admin }, 'uw-sched-answer', {
      content: { messages: [{ role: 'user', content: '{{question}}' }], variables: { context: { type: 'string', required: true }, question: { type: 'string', required: true } }, model: {} },
      labels: ['production'],
    });
    const [bad] = await tick(3);
    const alerts = await s.evals.alerts({ principal: analyst }, { useCase: 'uw-sched', limit: 50 });
    expect(alerts.map((a) => a.metric)).toContain('pass');
    const pass = alerts.find((a) => a.metric === 'pass')!;
    expect(pass).toMatchObject({ kind: 'eval_drift', evalRun: bad, detail: { baseline: 1, value: 0 } });
    expect(pass.detail.baselineRuns).toHaveLength(3);
    const scheduled = await s.evals.get({ principal: analyst }, bad!);
    expect(scheduled).toMatchObject({ trigger: 'schedule', config: { promptVersion: 2 }, status: 'completed' });
    expect(await s.evals.alerts({ principal: { ...analyst, roles: {} } }, { limit: 50 })).toEqual([]);
    clock = new Date();
  });

  it('monitors production runs: a shift in the last day against the 14 before raises online_drift, once a day', async () => {
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-online', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.6, reviewSampleRate: 0 } });
    for (let i = 0; i < 40; i++) await s.runs.run({ principal: analyst }, 'uw-online', { input: `${ROOF_Q.replace(/\?$/, '')} (${i})?` });
    await s.db.query("update runs set created_at = now() - make_interval(days => 2 + (random() * 12)::int) where use_case_id = (select id from use_cases where name = 'uw-online')");
    for (let i = 0; i < 25; i++) await s.runs.run({ principal: analyst }, 'uw-online', { input: `What does the flood annex say about basements (${i})?` });
    const now = new Date(Date.now() + 60_000);
    const report = await s.evals.monitor({ principal: analyst }, 'uw-online', now);
    expect(report.days).toHaveLength(15);
    expect(report.days.reduce((n, d) => n + d.runs, 0)).toBe(65);
    expect(report.tests.find((t) => t.signal === 'decision.delivered')).toMatchObject({ shifted: true, lastDay: 25, trailing: 40 });
    expect(report.tests.find((t) => t.signal === 'groundedness')!.shifted).toBe(true);
    expect(await s.evals.monitorTick(now)).toBeGreaterThan(0);
    expect(await s.evals.monitorTick(now)).toBe(0);
    const alerts = await s.evals.alerts({ principal: analyst }, { useCase: 'uw-online', limit: 50 });
    expect(alerts.map((a) => a.kind)).toContain('online_drift');
    expect(alerts.find((a) => a.metric === 'decision.delivered')!.message).toMatch(/shifted in the last day/);
    // Too few runs on a side is no test, never a shift.
    expect((await s.evals.monitor({ principal: analyst }, 'uw', now)).tests.every((t) => !t.shifted)).toBe(true);
  });

  it('keeps a judge\'s record: self-consistency on repeated trials, kappa against reviewers; a gate may require it', async () => {
    const run = await finished((await s.evals.start({ principal: analyst }, { useCase: 'uw', dataset: 'uw-cases', trials: 3, judge: { model: 'judging', rubric: 'Is it right?' } })).id);
    expect(run.summary!.metrics['judge.score']).toMatchObject({ mean: 0.8 });
    expect(run.judgeRecord).toMatchObject({ model: 'judging', selfConsistency: { answers: 3, pairs: 9, agreement: 1 }, humanAgreement: { verdicts: 0, kappa: null } });
    // Production runs the same model judges (0.8, under the 0.9 threshold: held), two approved and two rejected.
    await s.usecases.declare({ principal: s.admin }, { name: 'uw-judged', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.9, judge: { model: 'judging' } } });
    for (let i = 0; i < 4; i++) {
      const ran = await s.runs.run({ principal: analyst }, 'uw-judged', { input: `${ROOF_Q.replace(/\?$/, '')} (${i})?` });
      const task = (await s.runs.get({ principal: s.admin }, ran.runId)).review!.taskId;
      await s.review.decide({ principal: owner }, task, i < 2 ? { action: 'approve' } : { action: 'reject', reason: 'wrong' });
    }
    const record = await s.evals.judgeRecord({ principal: analyst }, 'judging');
    expect(record.humanAgreement).toEqual({ verdicts: 4, accuracy: 0.5, kappa: 0 });
    expect((await s.evals.judgeRecord({ principal: { ...analyst, roles: {} } }, 'judging')).humanAgreement.verdicts).toBe(0);
    // A gate that needs a proven judge reports its threshold instead of holding it.
    await s.usecases.declare({ principal: s.admin }, { name: 'uw', team: 'underwriting', owner: 'owner@x.io', riskTier: 'medium', prompt: 'uw-answer', route: 'local/extractive', posture: { deliverThreshold: 0.6, reviewSampleRate: 0 }, gate: { dataset: 'uw-cases', thresholds: ['judge.score >= 0.9'], judge: { minVerdicts: 10 } } });
    const gate = await s.evals.gateOfRun({ principal: analyst }, run.id);
    expect(gate.notes).toEqual([expect.stringContaining('reported, not gated')]);
  });

  it('keeps datasets and eval runs to their team', async () => {
    await s.identity.createUser({ principal: s.admin }, { email: 'outsider@x.io' });
    const outsider = await s.identity.authenticate((await s.identity.createKey({ principal: s.admin }, { name: 'out', user: 'outsider@x.io' })).token);
    await expect(s.evals.getDataset({ principal: outsider }, 'uw-cases')).rejects.toMatchObject({ code: 'not_found' });
    expect(await s.evals.list({ principal: outsider }, { limit: 50 })).toEqual([]);
    await expect(s.evals.start({ principal: outsider }, { useCase: 'uw', dataset: 'uw-cases' })).rejects.toMatchObject({ code: 'not_found' });
    const any = (await s.evals.list({ principal: analyst }, { limit: 1 }))[0]!;
    await expect(s.evals.get({ principal: outsider }, any.id)).rejects.toMatchObject({ code: 'not_found' });
  });
});

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { callerOf, routeAuth, type ZodTypeProvider } from '../access/index.js';
import { DATASET_FORMATS } from './datasets.js';
import { Comparison, Dataset as DatasetShape, EvalAlert, DatasetDetail, DatasetVersion, EVAL_STATUSES, EvalRunDetail, EvalRunView, GateReport, JudgeRecord as JudgeRecordShape, MonitorReport, VersionCases } from './evals.schema.js';
import type { EvalService } from './evals.service.js';

const tags = ['evals'];
const read = routeAuth({ scope: 'read' });
const write = routeAuth({ scope: 'write' });
const Dataset = z.strictObject({ dataset: z.string().min(1).max(100) });
const Format = z.enum(DATASET_FORMATS);

/** Datasets and eval runs: `/api/v1/datasets…` and `/api/v1/evals…`. */
export function registerEvalRoutes(app: FastifyInstance, evals: EvalService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/api/v1/datasets', { config: read, schema: { summary: 'Datasets the caller can read.', tags, response: { 200: z.object({ datasets: z.array(DatasetShape) }) } } }, async (request) => ({ datasets: await evals.listDatasets(callerOf(request)) }));

  r.post(
    '/api/v1/datasets',
    {
      config: write,
      schema: {
        summary: 'Create a dataset (team builders), with a first version when cases are given.',
        tags,
        body: z.strictObject({ name: z.string(), team: z.string(), description: z.string().optional(), cases: z.array(z.unknown()).max(100_000).optional() }),
        response: { 201: DatasetShape },
      },
    },
    async (request, reply) => {
      const { cases, ...spec } = request.body;
      return reply.code(201).send(await evals.createDataset(callerOf(request), spec, cases));
    },
  );

  r.get('/api/v1/datasets/:dataset', { config: read, schema: { summary: 'A dataset with its versions.', tags, params: Dataset, response: { 200: DatasetDetail } } }, async (request) =>
    evals.getDataset(callerOf(request), request.params.dataset),
  );

  r.post(
    '/api/v1/datasets/:dataset/versions',
    {
      config: write,
      schema: {
        summary: 'A new version from a JSONL or CSV file: the file holds every case of the version; a bad line imports nothing.',
        tags,
        params: Dataset,
        body: z.strictObject({ format: Format.default('jsonl'), content: z.string().min(1), note: z.string().max(2000).optional() }),
        response: { 201: DatasetVersion },
      },
    },
    async (request, reply) => reply.code(201).send(await evals.importVersion(callerOf(request), request.params.dataset, request.body.content, request.body.format, request.body.note)),
  );

  r.get(
    '/api/v1/datasets/:dataset/export',
    {
      config: routeAuth({ scope: 'read' }, { undeclaredResponse: 'a JSONL or CSV file' }),
      schema: { summary: "A version's cases as JSONL or CSV.", tags, params: Dataset, querystring: z.strictObject({ version: z.coerce.number().int().min(1).optional(), format: Format.default('jsonl') }) },
    },
    async (request, reply) => {
      const text = await evals.exportVersion(callerOf(request), request.params.dataset, request.query.version, request.query.format);
      return reply.type(request.query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8').send(text);
    },
  );

  r.get(
    '/api/v1/datasets/:dataset/cases',
    { config: read, schema: { summary: "A version's cases (default: the current version).", tags, params: Dataset, querystring: z.strictObject({ version: z.coerce.number().int().min(1).optional() }), response: { 200: VersionCases } } },
    async (request) => evals.casesOf(callerOf(request), request.params.dataset, request.query.version),
  );

  r.post(
    '/api/v1/datasets/:dataset/cases',
    {
      config: write,
      schema: {
        summary: 'A new version with cases added (an existing id is replaced) or removed.',
        tags,
        params: Dataset,
        body: z.strictObject({ add: z.array(z.unknown()).max(100_000).optional(), remove: z.array(z.string()).max(100_000).optional(), note: z.string().max(2000).optional() }),
        response: { 201: DatasetVersion },
      },
    },
    async (request, reply) => reply.code(201).send(await evals.editCases(callerOf(request), request.params.dataset, request.body)),
  );

  r.post(
    '/api/v1/datasets/:dataset/cases/from-run',
    {
      config: write,
      schema: {
        summary: "A new version with a case made from a run: its input, and the reviewer's edited answer or the feedback correction as the expected answer.",
        tags,
        params: Dataset,
        body: z.strictObject({ runId: z.string().min(1).max(100), tags: z.array(z.string().min(1).max(100)).max(50).optional(), expectedDocuments: z.array(z.string().min(1).max(1000)).max(1000).optional() }),
        response: { 201: DatasetVersion },
      },
    },
    async (request, reply) => reply.code(201).send(await evals.caseFromRun(callerOf(request), request.params.dataset, request.body)),
  );

  r.post('/api/v1/evals', { config: write, schema: { summary: 'Start an eval run of a use case configuration over a dataset version (team builders).', tags, body: z.record(z.string(), z.unknown()), response: { 202: EvalRunView } } }, async (request, reply) =>
    reply.code(202).send(await evals.start(callerOf(request), request.body)),
  );

  r.get(
    '/api/v1/evals',
    {
      config: read,
      schema: {
        summary: 'Eval runs, newest first.',
        tags,
        querystring: z.strictObject({ useCase: z.string().optional(), dataset: z.string().optional(), status: z.enum(EVAL_STATUSES).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ evals: z.array(EvalRunView) }) },
      },
    },
    async (request) => ({ evals: await evals.list(callerOf(request), request.query) }),
  );

  r.get(
    '/api/v1/evals/compare',
    { config: read, schema: { summary: 'B against A on the same dataset version: paired bootstrap intervals and a verdict per metric.', tags, querystring: z.strictObject({ a: z.string().min(1), b: z.string().min(1) }), response: { 200: Comparison } } },
    async (request) => evals.compare(callerOf(request), request.query.a, request.query.b),
  );

  r.get(
    '/api/v1/evals/alerts',
    {
      config: read,
      schema: {
        summary: 'Drift alerts of scheduled eval runs, newest first.',
        tags,
        querystring: z.strictObject({ useCase: z.string().optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }),
        response: { 200: z.object({ alerts: z.array(EvalAlert) }) },
      },
    },
    async (request) => ({ alerts: await evals.alerts(callerOf(request), request.query) }),
  );

  r.get(
    '/api/v1/evals/monitor',
    {
      config: read,
      schema: {
        summary: "Online monitoring of a use case's production runs: daily distributions, and the last day tested against the 14 before.",
        tags,
        querystring: z.strictObject({ useCase: z.string().min(1) }),
        response: { 200: MonitorReport },
      },
    },
    async (request) => evals.monitor(callerOf(request), request.query.useCase),
  );

  r.get(
    '/api/v1/evals/judges',
    {
      config: read,
      schema: {
        summary: "A judge model's reliability record over your teams: self-consistency on repeated trials, agreement with reviewers.",
        tags,
        querystring: z.strictObject({ model: z.string().min(1).max(200) }),
        response: { 200: JudgeRecordShape },
      },
    },
    async (request) => evals.judgeRecord(callerOf(request), request.query.model),
  );

  const Id = z.strictObject({ id: z.string().min(1).max(100) });
  r.get('/api/v1/evals/:id', { config: read, schema: { summary: 'An eval run with its progress, summary and per-case results.', tags, params: Id, response: { 200: EvalRunDetail } } }, async (request) => evals.get(callerOf(request), request.params.id));
  r.get('/api/v1/evals/:id/gate', { config: read, schema: { summary: "The use case's promotion gate held against this eval run.", tags, params: Id, response: { 200: GateReport } } }, async (request) => evals.gateOfRun(callerOf(request), request.params.id));
  r.post('/api/v1/evals/:id/cancel', { config: write, schema: { summary: 'Cancel an eval run: finished trials are kept.', tags, params: Id, response: { 200: EvalRunView } } }, async (request) => evals.cancel(callerOf(request), request.params.id));
}

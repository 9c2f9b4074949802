import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { systemActor, type Principal } from '../access/index.js';
import { adminKeyPath, openServices, refuseOtherAdminKey, serverInfoPath, type Services } from '../app/index.js';
import type { VerifyResult } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { embeddedLockOwner } from '../db/index.js';
import { ERROR_CODES, TarmacError, type ErrorCode } from '../errors/index.js';
import type { ApiKey, CreatedKey, CreateKeyInput } from '../identity/index.js';
import type { PromptDiff, PromptSummary, PromptVersion, VersionSelector } from '../prompts/index.js';
import type { SearchInput, SearchResult } from '../retrieval/index.js';
import type { SourceStatus, SyncCounts, SyncResult } from '../sources/index.js';
import type { Decision as ReviewDecision, ReviewTask } from '../review/index.js';
import type { RunRecord, RunResult } from '../runs/index.js';
import { spend, type SpendQuery, type SpendRow } from '../gateway/index.js';
import type { ApplyResult } from '../workspace/index.js';
import type { Comparison, Dataset, DatasetFormat, DatasetVersion, EvalRunDetail, EvalRunView, GateReport } from '../evals/index.js';

/** What the CLI does, against the database directly or through a running server's API. */
export interface TarmacClient {
  readonly mode: 'local' | 'remote';
  apply(text: string, file: string, dryRun: boolean, files: Record<string, string>): Promise<ApplyResult>;
  verifyAudit(): Promise<VerifyResult>;
  createKey(input: CreateKeyInput): Promise<CreatedKey>;
  listKeys(): Promise<ApiKey[]>;
  revokeKey(id: string): Promise<ApiKey>;
  listPrompts(): Promise<PromptSummary[]>;
  ask(useCase: string, input: string, as: string | undefined): Promise<RunResult>;
  /** A streaming run: `onText` receives the answer text as the run releases it. */
  askStream(useCase: string, input: string, as: string | undefined, onText: (text: string) => void): Promise<RunResult>;
  reviews(mine: boolean, status: string | undefined): Promise<ReviewTask[]>;
  review(taskId: string): Promise<ReviewTask>;
  run(runId: string): Promise<RunRecord>;
  decide(taskId: string, decision: ReviewDecision): Promise<ReviewTask>;
  assignReview(taskId: string, user: string): Promise<ReviewTask>;
  getPromptVersion(name: string, selector: VersionSelector): Promise<PromptVersion>;
  diffPrompt(name: string, from: number, to: number): Promise<PromptDiff>;
  movePromptLabel(name: string, label: string, version: number, overrideGate?: string): Promise<PromptSummary>;
  sync(source: string, onProgress: (counts: SyncCounts) => void): Promise<SyncResult>;
  sourceStatus(source: string): Promise<SourceStatus>;
  search(input: SearchInput): Promise<SearchResult>;
  spend(query: SpendQuery): Promise<SpendRow[]>;
  listDatasets(): Promise<Dataset[]>;
  createDataset(name: string, team: string, description: string): Promise<Dataset>;
  importDataset(name: string, content: string, format: DatasetFormat, note: string | undefined): Promise<DatasetVersion>;
  exportDataset(name: string, version: number | undefined, format: DatasetFormat): Promise<string>;
  startEval(body: Record<string, unknown>): Promise<EvalRunView>;
  getEval(id: string): Promise<EvalRunDetail>;
  listEvals(filter: { useCase?: string | undefined; dataset?: string | undefined }): Promise<EvalRunView[]>;
  compareEvals(a: string, b: string): Promise<Comparison>;
  evalGate(id: string): Promise<GateReport>;
  close(): Promise<void>;
}

function readKey(config: Config): string {
  if (config.apiKey) return config.apiKey;
  const file = adminKeyPath(config);
  if (!existsSync(file)) {
    throw new TarmacError('unauthorized', `no API key: set TARMAC_API_KEY, or start Tarmac once so that it writes ${file}`);
  }
  return readFileSync(file, 'utf8').trim();
}

class LocalClient implements TarmacClient {
  readonly mode = 'local' as const;

  private constructor(
    private readonly services: Services,
    private readonly principal: Principal,
  ) {}

  static async open(config: Config): Promise<LocalClient> {
    const services = await openServices(config, { command: `tarmac ${process.argv.slice(2, 4).join(' ')}` });
    try {
      // A new installation's demo sources are synced before the first command uses them.
      for (const name of services.seededSources) {
        const row = await services.sources.byRef(name);
        if (row) await services.sources.syncAs({ actor: systemActor('demo-seed') }, row, { trigger: 'seed' });
      }
      const principal = await services.identity.authenticate(readKey(config));
      return new LocalClient(services, principal);
    } catch (err) {
      await services.registry.close();
      await services.db.close();
      throw err;
    }
  }

  apply(text: string, file: string, dryRun: boolean, files: Record<string, string>): Promise<ApplyResult> {
    return this.services.workspace.apply(this.principal, null, text, file, { dryRun, files });
  }

  async verifyAudit(): Promise<VerifyResult> {
    if (!this.principal.isAdmin) throw new TarmacError('forbidden', 'verifying the audit log needs a platform admin');
    return this.services.audit.verify();
  }

  createKey(input: CreateKeyInput): Promise<CreatedKey> {
    return this.services.identity.createKey({ principal: this.principal }, input);
  }

  listKeys(): Promise<ApiKey[]> {
    return this.services.identity.listKeys({ principal: this.principal });
  }

  revokeKey(id: string): Promise<ApiKey> {
    return this.services.identity.revokeKey({ principal: this.principal }, id);
  }

  listPrompts(): Promise<PromptSummary[]> {
    return this.services.prompts.list({ principal: this.principal });
  }

  ask(useCase: string, input: string, as: string | undefined): Promise<RunResult> {
    return this.services.runs.run({ principal: this.principal }, useCase, { input, as });
  }

  askStream(useCase: string, input: string, as: string | undefined, onText: (text: string) => void): Promise<RunResult> {
    const sink = { signal: new AbortController().signal, event: (name: string, data: Record<string, unknown>) => name === 'delta' && onText(String(data.text)) };
    return this.services.runs.run({ principal: this.principal }, useCase, { input, as }, sink);
  }

  reviews(mine: boolean, status: string | undefined): Promise<ReviewTask[]> {
    return this.services.review.list({ principal: this.principal }, { mine, status, limit: 200 });
  }

  review(taskId: string): Promise<ReviewTask> {
    return this.services.review.get({ principal: this.principal }, taskId);
  }

  run(runId: string): Promise<RunRecord> {
    return this.services.runs.get({ principal: this.principal }, runId);
  }

  decide(taskId: string, decision: ReviewDecision): Promise<ReviewTask> {
    return this.services.review.decide({ principal: this.principal }, taskId, decision);
  }

  assignReview(taskId: string, user: string): Promise<ReviewTask> {
    return this.services.review.assign({ principal: this.principal }, taskId, user);
  }

  getPromptVersion(name: string, selector: VersionSelector): Promise<PromptVersion> {
    return this.services.prompts.getVersion({ principal: this.principal }, name, selector);
  }

  diffPrompt(name: string, from: number, to: number): Promise<PromptDiff> {
    return this.services.prompts.diff({ principal: this.principal }, name, from, to);
  }

  movePromptLabel(name: string, label: string, version: number, overrideGate?: string): Promise<PromptSummary> {
    return this.services.prompts.moveLabel({ principal: this.principal }, name, label, version, { overrideGate });
  }

  sync(source: string, onProgress: (counts: SyncCounts) => void): Promise<SyncResult> {
    return this.services.sources.sync({ principal: this.principal }, source, { onProgress, trigger: 'cli' });
  }

  sourceStatus(source: string): Promise<SourceStatus> {
    return this.services.sources.status({ principal: this.principal }, source);
  }

  search(input: SearchInput): Promise<SearchResult> {
    return this.services.retrieval.search(this.principal, input);
  }

  spend(query: SpendQuery): Promise<SpendRow[]> {
    return spend(this.services.db, this.principal, query);
  }

  listDatasets(): Promise<Dataset[]> {
    return this.services.evals.listDatasets({ principal: this.principal });
  }

  createDataset(name: string, team: string, description: string): Promise<Dataset> {
    return this.services.evals.createDataset({ principal: this.principal }, { name, team, description });
  }

  importDataset(name: string, content: string, format: DatasetFormat, note: string | undefined): Promise<DatasetVersion> {
    return this.services.evals.importVersion({ principal: this.principal }, name, content, format, note);
  }

  exportDataset(name: string, version: number | undefined, format: DatasetFormat): Promise<string> {
    return this.services.evals.exportVersion({ principal: this.principal }, name, version, format);
  }

  startEval(body: Record<string, unknown>): Promise<EvalRunView> {
    return this.services.evals.start({ principal: this.principal }, body);
  }

  getEval(id: string): Promise<EvalRunDetail> {
    return this.services.evals.get({ principal: this.principal }, id);
  }

  listEvals(filter: { useCase?: string | undefined; dataset?: string | undefined }): Promise<EvalRunView[]> {
    return this.services.evals.list({ principal: this.principal }, { ...filter, limit: 50 });
  }

  compareEvals(a: string, b: string): Promise<Comparison> {
    return this.services.evals.compare({ principal: this.principal }, a, b);
  }

  evalGate(id: string): Promise<GateReport> {
    return this.services.evals.gateOfRun({ principal: this.principal }, id);
  }

  async close(): Promise<void> {
    await this.services.registry.close();
    await this.services.db.close();
  }
}

/** The TarmacError an API error body (or an `error` event) stands for. */
function errorOf(status: number, payload: unknown): TarmacError {
  const error = (payload as { error?: { code: string; message: string; details?: unknown } } | null)?.error;
  const code = (ERROR_CODES as readonly string[]).includes(error?.code ?? '') ? (error?.code as ErrorCode) : 'internal_error';
  return new TarmacError(code, error?.message ?? `HTTP ${status}`, error?.details);
}

class RemoteClient implements TarmacClient {
  readonly mode = 'remote' as const;

  constructor(
    private readonly baseUrl: string,
    private readonly key: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new TarmacError('not_ready', `cannot reach Tarmac at ${this.baseUrl}: ${(err as Error).message}`);
    }
    const payload: unknown = await response.json().catch(() => null);
    if (!response.ok) throw errorOf(response.status, payload);
    return payload as T;
  }

  apply(text: string, file: string, dryRun: boolean, files: Record<string, string>): Promise<ApplyResult> {
    return this.call('POST', '/api/v1/apply', { yaml: text, file, dryRun, files });
  }

  verifyAudit(): Promise<VerifyResult> {
    return this.call('GET', '/api/v1/audit/verify');
  }

  createKey(input: CreateKeyInput): Promise<CreatedKey> {
    const { expiresAt, ...rest } = input;
    return this.call('POST', '/api/v1/keys', { ...rest, ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}) });
  }

  async listKeys(): Promise<ApiKey[]> {
    return (await this.call<{ keys: ApiKey[] }>('GET', '/api/v1/keys')).keys;
  }

  revokeKey(id: string): Promise<ApiKey> {
    return this.call('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
  }

  async listPrompts(): Promise<PromptSummary[]> {
    return (await this.call<{ prompts: PromptSummary[] }>('GET', '/api/v1/prompts')).prompts;
  }

  ask(useCase: string, input: string, as: string | undefined): Promise<RunResult> {
    return this.call('POST', `/api/v1/usecases/${encodeURIComponent(useCase)}/runs`, { input, ...(as ? { as } : {}) });
  }

  async askStream(useCase: string, input: string, as: string | undefined, onText: (text: string) => void): Promise<RunResult> {
    let response: Response;
    try {
      response = await fetch(new URL(`/api/v1/usecases/${encodeURIComponent(useCase)}/runs`, this.baseUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input, stream: true, ...(as ? { as } : {}) }),
      });
    } catch (err) {
      throw new TarmacError('not_ready', `cannot reach Tarmac at ${this.baseUrl}: ${(err as Error).message}`);
    }
    if (!response.ok || !response.body) throw errorOf(response.status, await response.json().catch(() => null));
    let buffer = '';
    for await (const bytes of response.body.pipeThrough(new TextDecoderStream())) {
      buffer += bytes;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as Record<string, unknown>;
        if (event === 'delta') onText(String(data.text));
        if (event === 'decision') return data as unknown as RunResult;
        if (event === 'error') throw errorOf(response.status, data);
      }
    }
    throw new TarmacError('internal_error', 'the run stream ended before its decision');
  }

  async reviews(mine: boolean, status: string | undefined): Promise<ReviewTask[]> {
    const query = new URLSearchParams({ limit: '200', ...(mine ? { mine: 'true' } : {}), ...(status ? { status } : {}) });
    return (await this.call<{ tasks: ReviewTask[] }>('GET', `/api/v1/reviews?${query.toString()}`)).tasks;
  }

  review(taskId: string): Promise<ReviewTask> {
    return this.call('GET', `/api/v1/reviews/${encodeURIComponent(taskId)}`);
  }

  run(runId: string): Promise<RunRecord> {
    return this.call('GET', `/api/v1/runs/${encodeURIComponent(runId)}`);
  }

  decide(taskId: string, decision: ReviewDecision): Promise<ReviewTask> {
    return this.call('POST', `/api/v1/reviews/${encodeURIComponent(taskId)}/decision`, decision);
  }

  assignReview(taskId: string, user: string): Promise<ReviewTask> {
    return this.call('POST', `/api/v1/reviews/${encodeURIComponent(taskId)}/assign`, { user });
  }

  async getPromptVersion(name: string, selector: VersionSelector): Promise<PromptVersion> {
    const prompt = encodeURIComponent(name);
    if ('version' in selector) return this.call('GET', `/api/v1/prompts/${prompt}/versions/${selector.version}`);
    const summary = await this.call<PromptSummary>('GET', `/api/v1/prompts/${prompt}`);
    const version = summary.labels[selector.label];
    if (version === undefined) throw new TarmacError('not_found', `prompt ${name} has no label ${selector.label}`);
    return this.call('GET', `/api/v1/prompts/${prompt}/versions/${version}`);
  }

  diffPrompt(name: string, from: number, to: number): Promise<PromptDiff> {
    return this.call('GET', `/api/v1/prompts/${encodeURIComponent(name)}/diff?from=${from}&to=${to}`);
  }

  movePromptLabel(name: string, label: string, version: number, overrideGate?: string): Promise<PromptSummary> {
    return this.call('PUT', `/api/v1/prompts/${encodeURIComponent(name)}/labels/${encodeURIComponent(label)}`, { version, ...(overrideGate ? { overrideGate } : {}) });
  }

  sync(source: string): Promise<SyncResult> {
    return this.call('POST', `/api/v1/sources/${encodeURIComponent(source)}/sync`);
  }

  sourceStatus(source: string): Promise<SourceStatus> {
    return this.call('GET', `/api/v1/sources/${encodeURIComponent(source)}/status`);
  }

  search(input: SearchInput): Promise<SearchResult> {
    return this.call('POST', '/api/v1/search', input);
  }

  async spend(query: SpendQuery): Promise<SpendRow[]> {
    const params = new URLSearchParams({ groupBy: query.groupBy.join(',') });
    if (query.from) params.set('from', query.from);
    if (query.to) params.set('to', query.to);
    return (await this.call<{ rows: SpendRow[] }>('GET', `/api/v1/spend?${params.toString()}`)).rows;
  }

  async listDatasets(): Promise<Dataset[]> {
    return (await this.call<{ datasets: Dataset[] }>('GET', '/api/v1/datasets')).datasets;
  }

  createDataset(name: string, team: string, description: string): Promise<Dataset> {
    return this.call('POST', '/api/v1/datasets', { name, team, description });
  }

  importDataset(name: string, content: string, format: DatasetFormat, note: string | undefined): Promise<DatasetVersion> {
    return this.call('POST', `/api/v1/datasets/${encodeURIComponent(name)}/versions`, { content, format, ...(note ? { note } : {}) });
  }

  async exportDataset(name: string, version: number | undefined, format: DatasetFormat): Promise<string> {
    const query = new URLSearchParams({ format, ...(version ? { version: String(version) } : {}) });
    let response: Response;
    try {
      response = await fetch(new URL(`/api/v1/datasets/${encodeURIComponent(name)}/export?${query.toString()}`, this.baseUrl), { headers: { authorization: `Bearer ${this.key}` } });
    } catch (err) {
      throw new TarmacError('not_ready', `cannot reach Tarmac at ${this.baseUrl}: ${(err as Error).message}`);
    }
    if (!response.ok) throw errorOf(response.status, await response.json().catch(() => null));
    return response.text();
  }

  startEval(body: Record<string, unknown>): Promise<EvalRunView> {
    return this.call('POST', '/api/v1/evals', body);
  }

  getEval(id: string): Promise<EvalRunDetail> {
    return this.call('GET', `/api/v1/evals/${encodeURIComponent(id)}`);
  }

  async listEvals(filter: { useCase?: string | undefined; dataset?: string | undefined }): Promise<EvalRunView[]> {
    const query = new URLSearchParams({ ...(filter.useCase ? { useCase: filter.useCase } : {}), ...(filter.dataset ? { dataset: filter.dataset } : {}) });
    return (await this.call<{ evals: EvalRunView[] }>('GET', `/api/v1/evals?${query.toString()}`)).evals;
  }

  compareEvals(a: string, b: string): Promise<Comparison> {
    return this.call('GET', `/api/v1/evals/compare?${new URLSearchParams({ a, b }).toString()}`);
  }

  evalGate(id: string): Promise<GateReport> {
    return this.call('GET', `/api/v1/evals/${encodeURIComponent(id)}/gate`);
  }

  async close(): Promise<void> {}
}

/** The URL of a Tarmac server listening on `port` of TARMAC_HOST, or null when none answers there. */
async function serverOn(config: Config, port: number): Promise<string | null> {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    const body = (await response.json().catch(() => null)) as { status?: string } | null;
    return response.ok && body?.status === 'ok' ? url : null;
  } catch {
    return null;
  }
}

/**
 * Talks to `TARMAC_URL` when set, or to the local server that holds the embedded database, or to the server on
 * `serverPort` (TARMAC_PORT) when one answers there; otherwise opens the database itself (PostgreSQL, or the
 * embedded one). It never installs a new embedded database where another installation's admin key is.
 */
export async function connect(config: Config, options: { serverPort?: number | null } = {}): Promise<TarmacClient> {
  if (config.url) return new RemoteClient(config.url, readKey(config));
  if (!config.databaseUrl) {
    const owner = embeddedLockOwner(config.dataDirAbsolute);
    if (owner) {
      const infoFile = serverInfoPath(config);
      const info = existsSync(infoFile) ? (JSON.parse(readFileSync(infoFile, 'utf8')) as { pid: number; url: string }) : null;
      if (info?.pid === owner.pid) return new RemoteClient(info.url, readKey(config));
      throw new TarmacError('database_locked', `the embedded database is in use by process ${owner.pid} (${owner.command}); wait for it or stop it`);
    }
    const url = options.serverPort ? await serverOn(config, options.serverPort) : null;
    if (url) return new RemoteClient(url, readKey(config));
    if (!existsSync(path.join(config.dataDirAbsolute, 'pglite'))) refuseOtherAdminKey(config);
  }
  return LocalClient.open(config);
}

import { createHash, randomUUID } from 'node:crypto';
import type { AuditContext, Principal } from '../access/index.js';
import type { AuditLog } from '../audit/index.js';
import type { Database } from '../db/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { Pseudonymiser, type StreamRestorer } from '../guard/index.js';
import { CLASSIFICATIONS, egressAllows, piiActionFor, type Classification, type PiiAction } from '../policies/index.js';
import { CircuitBreakers } from './breaker.js';
import { BudgetLedger, type Limit, type Reservation } from './budgets.js';
import { loadGateway, type LoadedGateway } from './config.js';
import type { GatewayRoute, ModelList } from './gateway.schema.js';
import type { ChatBody, ChatChunk, ChatCompletion, ChatMessage, Usage } from './providers/provider.js';
import { callWithFallback, ClientGone, orderTargets, type FallbackOptions } from './router.js';
import { boundMessageTokens, boundTextTokens, countTextTokens, estimateMessageTokens, messageText } from './tokens.js';
import { pruneGatewayTraces, type TraceRetentionResult } from './retention.js';
import { TraceWriter, type GatewayTrace, type TraceJournal } from './traces.js';

/** A tool call's piece in a streamed delta. */
interface StreamedToolCall {
  index?: number;
  function?: { arguments?: unknown };
}

/** Who calls the gateway and with which request headers. */
export interface GatewayCaller {
  principal: Principal;
  requestId: string;
  /** `x-tarmac-classification`. */
  classification?: string | undefined;
  /** `x-tarmac-use-case`. */
  useCase?: string | undefined;
  /** `x-tarmac-team`: the team a user key acts for, when its user is in several. */
  team?: string | undefined;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** A trial of this eval run: never answered from the cache, and its trace is marked as evaluation traffic. */
  evalRun?: string | undefined;
}

export interface GatewayOptions {
  env?: NodeJS.ProcessEnv;
  /** How long a loaded configuration is used before it is read again. */
  configTtlMs?: number;
  /** Where traces are durable before they are committed (the embedded database: see {@link TraceJournal}). */
  traceJournal?: TraceJournal;
  onError?: (err: unknown, what: string) => void;
}

/** A finished non-streaming call, with what the response headers report. */
export interface ChatResult {
  runId: string;
  costUsd: number;
  costEstimated: boolean;
  body: Record<string, unknown>;
}

/** A streaming call: the run id (known at once) and the chunks; the generator records the trace when it ends. */
export interface ChatStream {
  runId: string;
  includeUsage: boolean;
  chunks: AsyncGenerator<ChatChunk>;
  /** What the call has cost so far: final once `chunks` has ended, failed or been returned. */
  spent(): { costUsd: number; tokens: { input: number; output: number }; model: string | null };
}

interface Resolved {
  name: string;
  route: GatewayRoute;
}

const BREAKER_DEFAULTS = { errorRatio: 0.5, minRequests: 10, windowSeconds: 30, openSeconds: 30 };

const newRunId = () => `run_${randomUUID().replace(/-/g, '').slice(0, 24)}`;

function usageOf(usage: Usage | null | undefined): { input: number; output: number; cached: number } | null {
  if (!usage || typeof usage.prompt_tokens !== 'number') return null;
  return { input: usage.prompt_tokens, output: usage.completion_tokens ?? 0, cached: usage.prompt_tokens_details?.cached_tokens ?? 0 };
}

/** The text a completion produced (content and tool-call arguments), for estimating output tokens. */
function completionText(choices: readonly Record<string, unknown>[]): string {
  let text = '';
  for (const c of choices) {
    const m = (c.message ?? c.delta) as Record<string, unknown> | undefined;
    if (!m) continue;
    text += messageText(m.content);
    if (Array.isArray(m.tool_calls)) text += JSON.stringify(m.tool_calls);
  }
  return text;
}

/**
 * The OpenAI-compatible gateway: resolves the model to a route, applies the egress policy and PII handling,
 * reserves budgets and rate limits, calls the route's targets with retries, fallbacks and circuit breakers,
 * prices the usage and records one trace per request.
 *
 * @example
 * const gateway = new GatewayService(db);
 * const result = await gateway.chat(caller, { model: 'local/extractive', messages });
 */
export class GatewayService {
  readonly traces: TraceWriter;
  readonly breakers = new CircuitBreakers({ errorRatio: 0.5, minRequests: 10, windowMs: 30_000, openMs: 30_000 });
  private readonly ledger: BudgetLedger;
  private loaded: { at: number; value: Promise<LoadedGateway> } | null = null;
  private readonly env: NodeJS.ProcessEnv;
  private readonly configTtlMs: number;

  constructor(
    private readonly db: Database,
    private readonly options: GatewayOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.configTtlMs = options.configTtlMs ?? 2000;
    this.ledger = new BudgetLedger(db, { onError: (err) => options.onError?.(err, 'budget settlement failed; will retry') });
    this.traces = new TraceWriter(db, {
      batchSize: 500,
      alongside: this.ledger.alongside(),
      journal: options.traceJournal,
      onError: (err) => options.onError?.(err, 'trace write failed; retrying trace by trace'),
    });
  }

  /** The configuration in use (re-read at most every `configTtlMs`, so applies reach every process). */
  gateway(): Promise<LoadedGateway> {
    const now = Date.now();
    if (!this.loaded || now - this.loaded.at > this.configTtlMs) {
      const value = loadGateway(this.db, this.env);
      this.loaded = { at: now, value };
      value
        .then((g) => {
          const b = { ...BREAKER_DEFAULTS, ...g.config.breaker };
          this.breakers.configure({ errorRatio: b.errorRatio, minRequests: b.minRequests, windowMs: b.windowSeconds * 1000, openMs: b.openSeconds * 1000 });
        })
        .catch(() => {
          this.loaded = null;
        });
    }
    return this.loaded.value;
  }

  /** Forgets the loaded configuration (after an apply in this process). */
  reload(): void {
    this.loaded = null;
  }

  /** Writes pending traces and settlements; call before closing the database. */
  async close(): Promise<void> {
    try {
      await this.traces.close();
    } finally {
      await this.ledger.close();
    }
  }

  /**
   * Deletes traces older than the gateway policy's `retention.traceDays` (the daily `gateway-trace-retention`
   * job), reading the policy afresh so a change applies at the next run.
   */
  async pruneTraces(audit: AuditLog, ctx: AuditContext, options: { now?: Date; batchSize?: number } = {}): Promise<TraceRetentionResult> {
    const g = await loadGateway(this.db, this.env);
    return pruneGatewayTraces(audit, ctx, { traceDays: g.policy?.retention?.traceDays ?? null, policy: g.policyName, ...options });
  }

  /** Writes pending budget settlements and traces now (tests and reports that read them at once). */
  async flush(): Promise<void> {
    await this.traces.flush();
    await this.ledger.flush();
  }

  /** `GET /v1/models`: routes, declared provider models and the built-in model. */
  async models(): Promise<ModelList> {
    const g = await this.gateway();
    const ids: { id: string; owner: string }[] = [
      ...g.config.routes.map((r) => ({ id: r.name, owner: 'tarmac' })),
      ...g.config.providers.flatMap((p) => (p.models ?? []).map((m) => ({ id: `${p.name}/${m}`, owner: p.name }))),
      { id: 'local/extractive', owner: 'tarmac' },
    ];
    return { object: 'list', data: ids.map(({ id, owner }) => ({ id, object: 'model' as const, created: 0, owned_by: owner })) };
  }

  private resolve(g: LoadedGateway, model: string): Resolved {
    const route = g.config.routes.find((r) => r.name === model);
    if (route) return { name: route.name, route };
    const slash = model.indexOf('/');
    if (slash > 0) {
      const provider = model.slice(0, slash);
      const name = model.slice(slash + 1);
      if (g.providers.has(provider) && (provider !== 'local' || name === 'extractive')) {
        return { name: model, route: { name: model, targets: [{ provider, model: name }] } };
      }
    }
    throw new TarmacError('model_not_found', `no route or provider model named ${JSON.stringify(model)}; GET /v1/models lists them`, { model });
  }

  /** The header, else the key's default, else the gateway's default, else `internal`. */
  private classification(g: LoadedGateway, header: string | undefined, principal: Principal): Classification {
    if (header === undefined) return (principal.classification as Classification | null | undefined) ?? g.config.defaultClassification ?? 'internal';
    if (!(CLASSIFICATIONS as readonly string[]).includes(header)) {
      throw new TarmacError('validation_failed', `x-tarmac-classification must be one of ${CLASSIFICATIONS.join(', ')}`, {
        issues: [{ path: 'x-tarmac-classification', message: `one of ${CLASSIFICATIONS.join(', ')}` }],
      });
    }
    return header as Classification;
  }

  private team(g: LoadedGateway, caller: GatewayCaller): string | null {
    const p = caller.principal;
    if (p.teamId) return p.teamId;
    if (caller.team) {
      const id = g.teamIdByName.get(caller.team) ?? (g.teamNameById.has(caller.team) ? caller.team : null);
      if (!id || (!p.roles[id] && !p.isAdmin)) throw new TarmacError('forbidden', `this key does not act for team ${caller.team}`);
      return id;
    }
    const teams = Object.keys(p.roles);
    return teams.length === 1 ? (teams[0] ?? null) : null;
  }

  private limits(g: LoadedGateway, caller: GatewayCaller, teamId: string | null): Limit[] {
    const out: Limit[] = [];
    const add = (scope: string, b: { dailyUsd?: number | undefined; monthlyUsd?: number | undefined; requestsPerMinute?: number | undefined; tokensPerMinute?: number | undefined }) => {
      if (b.dailyUsd !== undefined) out.push({ scope, window: 'day', label: 'dailyUsd', usdCap: b.dailyUsd, requestCap: null, tokenCap: null });
      if (b.monthlyUsd !== undefined) out.push({ scope, window: 'month', label: 'monthlyUsd', usdCap: b.monthlyUsd, requestCap: null, tokenCap: null });
      if (b.requestsPerMinute !== undefined || b.tokensPerMinute !== undefined) {
        const label = [b.requestsPerMinute !== undefined ? 'requestsPerMinute' : null, b.tokensPerMinute !== undefined ? 'tokensPerMinute' : null].filter(Boolean).join('/');
        out.push({ scope, window: 'minute', label, usdCap: null, requestCap: b.requestsPerMinute ?? null, tokenCap: b.tokensPerMinute ?? null });
      }
    };
    if (g.policy?.budgets) add(`policy:${g.policyName}`, g.policy.budgets);
    const teamName = teamId ? g.teamNameById.get(teamId) : undefined;
    for (const b of g.config.budgets) {
      if (b.scope === 'global') add('global', b);
      else if (b.scope === 'team' && teamName !== undefined && b.name === teamName) add(`team:${teamName}`, b);
      else if (b.scope === 'key' && b.name === caller.principal.keyId) add(`key:${b.name}`, b);
      else if (b.scope === 'useCase' && caller.useCase !== undefined && b.name === caller.useCase) add(`useCase:${b.name}`, b);
    }
    return out;
  }

  private egress(g: LoadedGateway, classification: Classification): (provider: string) => boolean {
    return (provider) => egressAllows(g.policy, classification, provider);
  }

  private pii(g: LoadedGateway, classification: Classification): Pseudonymiser | null {
    const action = piiActionFor(g.policy, classification);
    return action === 'allow' ? null : new Pseudonymiser(action);
  }

  /** What the gateway does with personal data of `classification`: the rule of the policy it enforces. */
  async piiAction(classification: Classification): Promise<PiiAction> {
    return piiActionFor((await this.gateway()).policy, classification);
  }

  private newTrace(caller: { requestId: string; keyId: string | null; useCase?: string | undefined; evalRun?: string | undefined }, endpoint: GatewayTrace['endpoint'], model: unknown, stream: boolean): GatewayTrace {
    return {
      id: newRunId(),
      at: new Date().toISOString(),
      request_id: caller.requestId,
      key_id: caller.keyId,
      team_id: null,
      use_case: caller.useCase ?? null,
      eval_run: caller.evalRun ?? null,
      endpoint,
      route: null,
      requested_model: typeof model === 'string' ? model : null,
      provider: null,
      model: null,
      attempts: [],
      fallbacks: 0,
      stream,
      status: 'ok',
      http_status: 200,
      error_code: null,
      classification: null,
      pii_types: [],
      cache_hit: false,
      first_token_ms: null,
      total_ms: 0,
      input_tokens: 0,
      output_tokens: 0,
      cached_tokens: 0,
      cost_usd: 0,
      cost_estimated: false,
    };
  }

  private async finish(trace: GatewayTrace, started: number, err: unknown): Promise<void> {
    trace.total_ms = Math.round((performance.now() - started) * 1000) / 1000;
    // Targets abandoned: a target that failed and then answered on its retry was not fallen back from.
    const target = (a: GatewayTrace['attempts'][number]) => `${a.provider}/${a.model}`;
    const answered = new Set(trace.attempts.filter((a) => a.outcome === 'ok').map(target));
    trace.fallbacks = new Set(trace.attempts.map(target).filter((t) => !answered.has(t))).size;
    if (err) {
      trace.status = err instanceof ClientGone ? 'cancelled' : 'error';
      const error = isTarmacError(err) ? err : null;
      trace.error_code = err instanceof ClientGone ? 'client_disconnected' : (error?.code ?? 'internal_error');
      trace.http_status = err instanceof ClientGone ? 499 : (error?.status ?? 500);
    }
    await this.traces.record(trace);
  }

  /**
   * Records a request refused at authentication (401, 403), so that abuse shows in the traces: the key's id
   * only when the key was recognised, never the key itself. Written like every trace, off the request path.
   */
  async refused(request: { requestId: string; keyId: string | null; endpoint: GatewayTrace['endpoint']; httpStatus: number; code: string; totalMs: number }): Promise<void> {
    const trace = this.newTrace(request, request.endpoint, null, false);
    trace.status = 'refused';
    trace.http_status = request.httpStatus;
    trace.error_code = request.code;
    trace.total_ms = Math.round(request.totalMs * 1000) / 1000;
    await this.traces.record(trace);
  }

  /** How a request that passed admission walks its route: targets in order, retries, breakers, egress. */
  private fallbackOptions(admitted: Awaited<ReturnType<GatewayService['admit']>>, caller: GatewayCaller, trace: GatewayTrace): FallbackOptions {
    const route = admitted.resolved.route;
    return {
      targets: orderTargets(route.targets),
      providers: admitted.g.providers,
      allowed: admitted.allowed,
      breakers: this.breakers,
      retries: route.retries ?? 1,
      backoffMs: route.backoffMs ?? 200,
      client: caller.signal,
      attempts: trace.attempts,
      classification: admitted.classification,
    };
  }

  /** Steps shared by chat and embeddings: route, classification, team, limits and the reservation. */
  private async admit(caller: GatewayCaller, trace: GatewayTrace, model: string, inputTokens: number, requestedOutput: number | null) {
    const g = await this.gateway();
    const maxOutput = requestedOutput ?? g.config.reserveOutputTokens ?? 1024;
    const resolved = this.resolve(g, model);
    trace.route = resolved.name;
    const classification = this.classification(g, caller.classification, caller.principal);
    trace.classification = classification;
    const teamId = this.team(g, caller);
    trace.team_id = teamId;
    const allowed = this.egress(g, classification);
    const candidates = resolved.route.targets.filter((t) => g.providers.has(t.provider));
    if (candidates.length > 0 && !candidates.some((t) => allowed(t.provider))) {
      for (const t of candidates) trace.attempts.push({ provider: t.provider, model: t.model, outcome: 'skipped_egress' });
      throw new TarmacError('egress_denied', `no provider of route ${resolved.name} may receive ${classification} data`, { classification, route: resolved.name });
    }
    const priciest = Math.max(0, ...candidates.map((t) => g.prices.cost(t.provider, t.model, { input: inputTokens, output: maxOutput, cached: 0 }, true).usd));
    const reservation = await this.ledger.reserve(this.limits(g, caller, teamId), { usd: priciest, tokens: inputTokens + maxOutput });
    return { g, resolved, classification, allowed, reservation };
  }

  private settle(reservation: Reservation, trace: GatewayTrace): void {
    this.ledger.settle(reservation, { usd: trace.cost_usd, tokens: trace.input_tokens + trace.output_tokens });
  }

  private price(g: LoadedGateway, trace: GatewayTrace, provider: string, model: string, usage: { input: number; output: number; cached: number }, estimated: boolean): void {
    const cost = g.prices.cost(provider, model, usage, estimated);
    trace.input_tokens = usage.input;
    trace.output_tokens = usage.output;
    trace.cached_tokens = usage.cached;
    trace.cost_usd = cost.usd;
    trace.cost_estimated = estimated;
  }

  private prepareMessages(messages: ChatMessage[], pii: Pseudonymiser | null): ChatMessage[] {
    if (!pii) return messages;
    return messages.map((m) => {
      if (typeof m.content === 'string') return { ...m, content: pii.apply(m.content) };
      if (Array.isArray(m.content)) {
        return {
          ...m,
          content: m.content.map((part: unknown) =>
            typeof part === 'object' && part && 'text' in part && typeof part.text === 'string' ? { ...part, text: pii.apply(part.text) } : part,
          ),
        };
      }
      return m;
    });
  }

  private restoreCompletion(completion: ChatCompletion, pii: Pseudonymiser | null): ChatCompletion {
    if (!pii?.restores) return completion;
    for (const choice of completion.choices) {
      const message = choice.message as Record<string, unknown> | undefined;
      if (!message) continue;
      if (typeof message.content === 'string') message.content = pii.restore(message.content);
      if (Array.isArray(message.tool_calls)) {
        for (const call of message.tool_calls as { function?: { arguments?: unknown } }[]) {
          if (call.function && typeof call.function.arguments === 'string') call.function.arguments = pii.restore(call.function.arguments);
        }
      }
    }
    return completion;
  }

  private cacheKey(teamId: string | null, body: ChatBody): string {
    return createHash('sha256').update(JSON.stringify([teamId, body])).digest('hex');
  }

  private async cached(teamId: string | null, route: string, hash: string): Promise<ChatCompletion | null> {
    const row = (
      await this.db.query<{ response: ChatCompletion }>('select response from gateway_cache where team_key = $1 and route = $2 and request_hash = $3 and expires_at > now()', [
        teamId ?? '',
        route,
        hash,
      ])
    ).rows[0];
    return row?.response ?? null;
  }

  private stores = 0;

  private async store(teamId: string | null, route: string, hash: string, response: ChatCompletion, ttlSeconds: number): Promise<void> {
    // Expired answers are swept now and then, so the cache does not grow without bound.
    if (++this.stores % 100 === 1) await this.db.query('delete from gateway_cache where expires_at < now()');
    await this.db.query(
      `insert into gateway_cache (team_key, route, request_hash, response, expires_at) values ($1, $2, $3, $4, now() + make_interval(secs => $5))
       on conflict (team_key, route, request_hash) do update set response = excluded.response, expires_at = excluded.expires_at`,
      [teamId ?? '', route, hash, JSON.stringify(response), ttlSeconds],
    );
  }

  /** `POST /v1/chat/completions` without streaming. */
  async chat(caller: GatewayCaller, body: ChatBody): Promise<ChatResult> {
    const started = performance.now();
    const trace = this.newTrace({ ...caller, keyId: caller.principal.keyId }, 'chat', body.model, false);
    return this.traced(trace, started, async (hold) => {
      const inputTokens = boundMessageTokens(body.messages);
      const admitted = await this.admit(caller, trace, body.model, inputTokens, this.maxOutput(body));
      hold(admitted.reservation);
      const { g, resolved } = admitted;
      const pii = this.pii(g, admitted.classification);
      const messages = this.prepareMessages(body.messages, pii);
      if (pii) trace.pii_types = [...pii.types];
      // Eval trials are real calls: a cached answer would make repeated trials one trial.
      const ttl = caller.evalRun ? undefined : resolved.route.cacheTtlSeconds;
      const hash = ttl ? this.cacheKey(trace.team_id, { ...body, messages }) : '';
      if (ttl) {
        const hit = await this.cached(trace.team_id, resolved.name, hash);
        if (hit) {
          trace.cache_hit = true;
          trace.first_token_ms = Math.round((performance.now() - started) * 1000) / 1000;
          const u = usageOf(hit.usage);
          trace.input_tokens = u?.input ?? 0;
          trace.output_tokens = u?.output ?? 0;
          return { runId: trace.id, costUsd: 0, costEstimated: false, body: this.restoreCompletion(hit, pii) };
        }
      }
      const { value: completion, target } = await callWithFallback(
        this.fallbackOptions(admitted, caller, trace),
        async (provider, t, control) => {
          try {
            return await provider.chat({ ...body, model: t.model, messages }, { signal: control.signal });
          } finally {
            control.done();
          }
        },
      );
      trace.first_token_ms = Math.round((performance.now() - started) * 1000) / 1000;
      trace.provider = target.provider;
      trace.model = target.model;
      const reported = usageOf(completion.usage);
      const usage = reported ?? { input: estimateMessageTokens(messages), output: countTextTokens(completionText(completion.choices)), cached: 0 };
      this.price(g, trace, target.provider, target.model, usage, reported === null);
      if (ttl) await this.store(trace.team_id, resolved.name, hash, completion, ttl);
      return { runId: trace.id, costUsd: trace.cost_usd, costEstimated: trace.cost_estimated, body: this.restoreCompletion(completion, pii) };
    });
  }

  /**
   * Runs a non-streaming call and records its trace once: on success the reservation (handed over by `hold`)
   * is settled and the trace finished; on failure both happen through {@link fail}.
   */
  private async traced<T>(trace: GatewayTrace, started: number, call: (hold: (reservation: Reservation) => void) => Promise<T>): Promise<T> {
    let reservation: Reservation | null = null;
    try {
      return await call((r) => {
        reservation = r;
      });
    } catch (err) {
      await this.fail(trace, started, err, reservation);
      throw err;
    } finally {
      if (trace.status === 'ok') {
        if (reservation) this.settle(reservation, trace);
        await this.finish(trace, started, null);
      }
    }
  }

  private async fail(trace: GatewayTrace, started: number, err: unknown, reservation: Reservation | null): Promise<void> {
    trace.status = 'error';
    if (reservation) this.settle(reservation, trace);
    await this.finish(trace, started, err);
  }

  /** The output tokens a request asks for at most, if it says. */
  private maxOutput(body: Record<string, unknown>): number | null {
    const m = body.max_completion_tokens ?? body.max_tokens;
    return typeof m === 'number' && m > 0 ? m : null;
  }

  /**
   * `POST /v1/chat/completions` with `stream: true`. Admission errors and failures before the first chunk
   * throw from the first `next()` (after falling back through the route); a failure after it throws from a
   * later `next()`, and the route ends the stream with an error event.
   */
  chatStream(caller: GatewayCaller, body: ChatBody): ChatStream {
    const trace = this.newTrace({ ...caller, keyId: caller.principal.keyId }, 'chat', body.model, true);
    const options = body.stream_options as { include_usage?: unknown } | undefined;
    return {
      runId: trace.id,
      includeUsage: options?.include_usage === true,
      chunks: this.streamChunks(caller, body, trace),
      spent: () => ({ costUsd: trace.cost_usd, tokens: { input: trace.input_tokens, output: trace.output_tokens }, model: trace.model }),
    };
  }

  private async *streamChunks(caller: GatewayCaller, body: ChatBody, trace: GatewayTrace): AsyncGenerator<ChatChunk> {
    const started = performance.now();
    let reservation: Reservation | null = null;
    let failure: unknown = null;
    let g: LoadedGateway | null = null;
    let text = '';
    let reported: ReturnType<typeof usageOf> = null;
    let messages = body.messages;
    try {
      const inputTokens = boundMessageTokens(body.messages);
      const admitted = await this.admit(caller, trace, body.model, inputTokens, this.maxOutput(body));
      reservation = admitted.reservation;
      g = admitted.g;
      const pii = this.pii(g, admitted.classification);
      messages = this.prepareMessages(body.messages, pii);
      if (pii) trace.pii_types = [...pii.types];
      const restorers = new Map<string, StreamRestorer>();
      const toolCalls = new Map<string, number>();
      const { value, target, control } = await callWithFallback(
        this.fallbackOptions(admitted, caller, trace),
        async (provider, t, c) => {
          const iterator = provider.chatStream({ ...body, model: t.model, messages }, { signal: c.signal })[Symbol.asyncIterator]();
          const first = await iterator.next();
          if (first.done) throw new Error('the stream ended before its first chunk');
          c.rearm();
          return { iterator, first: first.value };
        },
      );
      trace.provider = target.provider;
      trace.model = target.model;
      trace.first_token_ms = Math.round((performance.now() - started) * 1000) / 1000;
      // One restorer per streamed text: each choice's content and each of its tool calls' arguments.
      const restore = (chunk: ChatChunk): ChatChunk => {
        if (!pii?.restores) return chunk;
        const restorer = (key: string): StreamRestorer => {
          let r = restorers.get(key);
          if (!r) restorers.set(key, (r = pii.streamRestorer()));
          return r;
        };
        for (const choice of chunk.choices) {
          const delta = choice.delta as Record<string, unknown> | undefined;
          const index = typeof choice.index === 'number' ? choice.index : 0;
          const content = restorer(`${index}`);
          if (delta && typeof delta.content === 'string') delta.content = content.push(delta.content);
          const calls = delta && Array.isArray(delta.tool_calls) ? (delta.tool_calls as StreamedToolCall[]) : [];
          for (const call of calls) {
            if (typeof call.function?.arguments !== 'string') continue;
            const key = `${index}:${call.index ?? 0}`;
            toolCalls.set(key, call.index ?? 0);
            call.function.arguments = restorer(key).push(call.function.arguments);
          }
          if (choice.finish_reason && delta) {
            delta.content = `${typeof delta.content === 'string' ? delta.content : ''}${content.flush()}`;
            // What the restorers still hold of each tool call's arguments goes out with the choice's last chunk.
            const out = [...calls];
            for (const [key, i] of toolCalls) {
              if (!key.startsWith(`${index}:`)) continue;
              const held = restorer(key).flush();
              const call = calls.find((c) => (c.index ?? 0) === i);
              if (held === '') continue;
              if (call?.function && typeof call.function.arguments === 'string') call.function.arguments += held;
              else out.push({ index: i, function: { arguments: held } });
            }
            if (out.length > calls.length) delta.tool_calls = out;
          }
        }
        return chunk;
      };
      let chunk: ChatChunk = value.first;
      try {
        for (;;) {
          text += completionText(chunk.choices);
          if (chunk.usage) reported = usageOf(chunk.usage);
          yield restore(chunk);
          let next: IteratorResult<ChatChunk>;
          try {
            next = await value.iterator.next();
          } catch (err) {
            if (caller.signal.aborted) throw new ClientGone();
            throw new TarmacError(control.timedOut ? 'upstream_timeout' : 'upstream_error', `the stream failed after its first token: ${(err as Error).message}`, {
              provider: target.provider,
              model: target.model,
            });
          }
          if (next.done) break;
          control.rearm();
          chunk = next.value;
        }
      } finally {
        control.done(true);
        await value.iterator.return?.();
      }
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      if (g && trace.provider && trace.model) {
        const usage = reported ?? { input: estimateMessageTokens(messages), output: countTextTokens(text), cached: 0 };
        this.price(g, trace, trace.provider, trace.model, usage, reported === null);
      }
      // A consumer that stops reading (the client went away) ends the generator without an error.
      if (!failure && caller.signal.aborted) failure = new ClientGone();
      if (reservation) this.settle(reservation, trace);
      await this.finish(trace, started, failure);
    }
  }

  /** `POST /v1/embeddings`. */
  async embeddings(caller: GatewayCaller, body: Record<string, unknown> & { model: string; input: unknown }): Promise<ChatResult> {
    const started = performance.now();
    const trace = this.newTrace({ ...caller, keyId: caller.principal.keyId }, 'embeddings', body.model, false);
    return this.traced(trace, started, async (hold) => {
      const inputs = Array.isArray(body.input) ? body.input : [body.input];
      const text = inputs.filter((i): i is string => typeof i === 'string').join('\n');
      const inputTokens = boundTextTokens(text);
      const admitted = await this.admit(caller, trace, body.model, inputTokens, 0);
      hold(admitted.reservation);
      const { g } = admitted;
      const pii = this.pii(g, admitted.classification);
      const input = pii ? (Array.isArray(body.input) ? body.input.map((i: unknown) => (typeof i === 'string' ? pii.apply(i) : i)) : typeof body.input === 'string' ? pii.apply(body.input) : body.input) : body.input;
      if (pii) trace.pii_types = [...pii.types];
      const { value, target } = await callWithFallback(
        this.fallbackOptions(admitted, caller, trace),
        async (provider, t, control) => {
          try {
            return await provider.embeddings({ ...body, model: t.model, input }, { signal: control.signal });
          } finally {
            control.done();
          }
        },
      );
      trace.provider = target.provider;
      trace.model = target.model;
      trace.first_token_ms = Math.round((performance.now() - started) * 1000) / 1000;
      const usage = value.usage as { prompt_tokens?: unknown } | undefined;
      const reported = typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : null;
      this.price(g, trace, target.provider, target.model, { input: reported ?? countTextTokens(text), output: 0, cached: 0 }, reported === null);
      return { runId: trace.id, costUsd: trace.cost_usd, costEstimated: trace.cost_estimated, body: value };
    });
  }
}

import { performance } from 'node:perf_hooks';
import { type Caller, canReview, hasScope, hasTeamRole, type Principal, systemActor } from '../access/index.js';
import type { AuditLog } from '../audit/index.js';
import { type Database, GroupCommit, newId, type Queryable } from '../db/index.js';
import { isTarmacError, TarmacError } from '../errors/index.js';
import { checkGroundedness, checkRelevance, detectPii, injectionMarkers, judgeMessages, parseJudgeVerdict, type GroundednessResult, type RelevanceResult } from '../guard/index.js';
import { emailsNamed, findUser, membershipsOfUser } from '../identity/index.js';
import type { GatewayCaller, GatewayService } from '../gateway/index.js';
import { highestClassification, type Classification } from '../policies/index.js';
import type { PromptService } from '../prompts/index.js';
import type { AssembledContext, ContextManifest, ContextPassage as AssembledPassage, RetrievalService, SearchIdentity } from '../retrieval/index.js';
import type { OpenReview, ReviewService, RunPort, RunVerdict } from '../review/index.js';
import { reason, type Reason } from './reasons.js';
import * as repo from './runs.repository.js';
import type { Citation, Decision, ListedRun, RunRecord, RunResult, RunStatus } from './runs.schema.js';
import { findUseCase, useCaseNames, type UseCase, type UseCaseService } from '../usecases/index.js';

/** How a streaming run sends its answer text: as it is generated, or once the decision released it. */
export type Delivery = 'progressive' | 'after_decision';

/**
 * Receives a streaming run's events as they happen: `run` (run id), `context` (what the model will see, and
 * the delivery mode), `delta` (answer text). The caller sends the final `decision` (or `error`) itself.
 */
export interface RunStreamSink {
  /** Aborted when the client goes away: the model call stops and the run is recorded as cancelled. */
  signal: AbortSignal;
  event(name: 'run' | 'context' | 'delta', data: Record<string, unknown>): void;
}

/** What the model call produced. */
interface ModelReply {
  answer: string;
  /** Tool calls the model asked for (OpenAI wire format); empty when it answered. */
  toolCalls: ToolCall[];
  model: string | null;
  gatewayRunId: string;
  costUsd: number;
  tokens: { input: number; output: number };
}

/** What the judge model said about a run's claims (score null when it failed: `error` says why). */
interface JudgeRecord {
  model: string;
  score: number | null;
  unsupported: number[];
  error: string | null;
  costUsd: number;
  gatewayRunId: string | null;
}

interface StoredGroundedness {
  score: number;
  threshold: number;
  claims: { text: string; supported: boolean; missing: string[] }[];
  offlineScore?: number;
  decidedBy?: 'offline' | 'judge';
  judge?: JudgeRecord | null;
}

type StoredRelevance = RelevanceResult & { threshold: number };

/** The passages that support at least one of the answer's claims. */
function supportingPassages(g: GroundednessResult): string[] {
  return g.claims.flatMap((c) => (c.supported && c.support ? [c.support.passageId] : []));
}

/** A run's record as it waits to be committed with the review task it opens. */
interface ReviewedRecord {
  row: Omit<repo.RunRow, 'created_at'>;
  review: OpenReview;
}

/** A tool call a model asked for, as the OpenAI wire format carries it. */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** Runs the tool calls of a model step and answers them as `tool` messages (what agent actions plug in). */
export interface ToolExecutor {
  execute(state: Readonly<RunState>, calls: ToolCall[]): Promise<{ role: 'tool'; tool_call_id: string; content: string }[]>;
}

// Model calls one run may make while it answers tool calls: enough for a few tools, and a bound on a loop.
const MAX_MODEL_STEPS = 5;

/** What the steps of one governed run share, filled in as they go. */
export interface RunState {
  readonly caller: Caller;
  readonly input: RunInput;
  readonly useCase: UseCase;
  /** Who retrieval reads as: the end user, resolved once. */
  readonly identity: SearchIdentity;
  readonly base: Pick<repo.RunRow, 'id' | 'use_case_id' | 'team_id' | 'user_id' | 'key_id' | 'request_id' | 'input' | 'variables' | 'route'>;
  readonly started: number;
  readonly spans: { name: string; ms: number }[];
  readonly span: (name: string) => void;
  /** False when evaluating: no run record, no review task. */
  readonly record: boolean;
  /** Set for a trial of an eval run: the configuration it evaluates and its mark on the gateway's traces. */
  readonly trial?: TrialOptions;
  readonly sink?: RunStreamSink;
  assembled: AssembledContext | null;
  reasons: Reason[];
  prompt: { prompt: string; version: number } | null;
  rendered: Awaited<ReturnType<PromptService['renderForRun']>> | null;
  classification: Classification;
  delivery: Delivery;
  reply: ModelReply | null;
  groundedness: GroundednessResult | null;
  relevance: RelevanceResult | null;
  judge: JudgeRecord | null;
  scored: { score: number; by: 'offline' | 'judge' } | null;
  piiTypes: string[];
  allowsPii: () => Promise<boolean>;
}

/** What the decision is made from: the output guard's findings and the context's flags. */
export interface DecisionInput {
  reasons: Reason[];
  piiInAnswer: boolean;
  piiTypes: string[];
  scored: { score: number; by: 'offline' | 'judge' };
  relevance: RelevanceResult;
  manifest: ContextManifest;
  judge: JudgeRecord | null;
  judgeHolds: boolean;
  /** A uniform draw in [0, 1), for the review sample. */
  draw: () => number;
}

/**
 * The decision of a run, a pure function of what the guards found and the posture: personal data where the
 * policy forbids it blocks; a score under a threshold, a flagged context or a judge that failed (when the
 * posture holds on failure) holds or flags; otherwise delivered, a sample of those marked for review.
 */
export function decide(posture: UseCase['posture'], d: DecisionInput): { decision: Decision; reasons: Reason[] } {
  const reasons = [...d.reasons];
  if (d.piiInAnswer) return { decision: 'blocked', reasons: [...reasons, reason('pii_in_answer', `pii_in_answer: ${d.piiTypes.join(', ')}`)] };
  const threshold = posture.deliverThreshold;
  if (d.scored.score < threshold) reasons.push(reason('groundedness_below_threshold', `groundedness ${d.scored.score.toFixed(2)} below ${threshold}${d.scored.by === 'judge' ? ' (judge)' : ''}`));
  const relevant = posture.relevanceThreshold;
  if (d.relevance.score < relevant) {
    const missing = d.relevance.missing.length > 0 ? ` (not addressed: ${d.relevance.missing.join(', ')})` : '';
    reasons.push(reason('answer_not_relevant', `answer_not_relevant: relevance ${d.relevance.score.toFixed(2)} below ${relevant}${missing}`));
  }
  if (d.manifest.flagged) reasons.push(...d.manifest.rules.filter((r) => r.action === 'proceed_flagged').map((r) => reason('context_flagged', `context_flagged: ${r.detail}`)));
  if (d.judgeHolds) reasons.push(reason('judge_failed', `judge_failed: ${d.judge?.error}`));
  if (reasons.length > 0) return { decision: d.judgeHolds ? 'held_for_review' : posture.belowThreshold, reasons };
  if (d.draw() < posture.reviewSampleRate) return { decision: 'delivered', reasons: [reason('sampled_for_review', 'sampled_for_review')] };
  return { decision: 'delivered', reasons };
}

/** The score the posture holds against its threshold; a failed judge leaves the offline score. */
function decidingScore(offline: number, judge: JudgeRecord | null, decides: 'judge' | 'offline' | 'lowest'): { score: number; by: 'offline' | 'judge' } {
  const judged = judge?.score ?? null;
  if (judged === null || decides === 'offline') return { score: offline, by: 'offline' };
  if (decides === 'judge' || judged < offline) return { score: judged, by: 'judge' };
  return { score: offline, by: 'offline' };
}

/** The client of a streaming run went away: what the model call had used by then. */
class RunCancelled extends Error {
  constructor(readonly spent: Omit<ModelReply, 'answer' | 'toolCalls'>) {
    super('the client disconnected');
  }
}

/** A trial of an eval run: the configuration under evaluation (each part defaulting to the use case's). */
export interface TrialOptions {
  evalRun: string;
  promptVersion?: number | undefined;
  route?: string | undefined;
  context?: UseCase['context'] | undefined;
  seed?: number | undefined;
}

/** What a trial of an eval run scores: the result, with the model's whole answer even when it was held. */
export interface TrialResult extends RunResult {
  manifest: ContextManifest | null;
  tokens: { input: number; output: number };
  promptVersion: number | null;
  model: string | null;
}

export interface RunInput {
  input: string;
  variables?: Record<string, string> | undefined;
  /** The end user the run is for (keys with the `act_as` scope, and platform admins). */
  as?: string | undefined;
}

// The built-in extractive model labels its answers and quotes sentences; the label is not a claim, each quote is.
const EXTRACTIVE_LABEL = /^Extractive answer \([^)]*\):\s*/;

/** The claims an answer makes, as text: an extractive answer's quotes one per line, any other answer as it is. */
function claimText(answer: string): string {
  if (!EXTRACTIVE_LABEL.test(answer)) return answer;
  const quotes = [...answer.replace(EXTRACTIVE_LABEL, '').matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '');
  return quotes.length > 0 ? quotes.join('\n') : answer.replace(EXTRACTIVE_LABEL, '');
}


type ChatRequest = Parameters<GatewayService['chat']>[1];

/** The `context` event of a streaming run: what the model will see, and how the answer will be sent. */
function contextEvent(manifest: ContextManifest, delivery: Delivery): Record<string, unknown> {
  return {
    delivery,
    chunks: manifest.chunks.map((c) => ({ ref: c.ref, documentId: c.documentId, title: c.title, source: c.source, version: c.version })),
    lookups: manifest.lookups.map((l) => ({ name: l.name, key: l.key, found: l.found })),
    tokensUsed: manifest.tokensUsed,
    flagged: manifest.flagged,
    warnings: manifest.warnings,
  };
}


/**
 * The governed run: authorise (stage, cohort), assemble context as the end user, check the input and the
 * context for prompt injection, render the prompt by label, call the model through the gateway (egress, PII,
 * budgets, traces), check the answer's groundedness, decide per the risk posture, record everything.
 *
 * @example
 * const result = await runs.run(caller, 'underwriting-assistant', { input: 'Max roof age for a standard policy?' });
 * result.decision; // 'delivered' | 'flagged' | 'held_for_review' | 'blocked'
 */
export class RunService implements RunPort {
  /** Records of runs that open no review task: one multi-row insert per batch. */
  private readonly plain: GroupCommit<ReviewedRecord['row']>;
  /** Records of runs that open one, with their tasks and audit entries: one transaction per batch. */
  private readonly reviewed: GroupCommit<ReviewedRecord>;

  constructor(
    private readonly db: Database,
    private readonly deps: {
      audit: AuditLog;
      review: ReviewService;
      usecases: UseCaseService;
      prompts: PromptService;
      retrieval: RetrievalService;
      gateway: GatewayService;
      random?: () => number;
      /** What answers a model's tool calls; without it a run ends at the first reply. */
      tools?: ToolExecutor;
    },
  ) {
    // Two queues, so that a batch waiting for a reviewer's load or the audit chain never holds up the others.
    this.plain = new GroupCommit((rows: ReviewedRecord['row'][]) => repo.insertRuns(this.db, rows));
    this.reviewed = new GroupCommit((batch: ReviewedRecord[]) => this.commitReviewed(batch));
  }

  /**
   * Writes runs' records with their review tasks and the tasks' audit entries, several runs in one transaction
   * (group commit): none of the batch or all of it.
   */
  private async commitReviewed(batch: ReviewedRecord[]): Promise<void> {
    // The statements are sent together and run in order: the records, then each task (the next one sees the
    // reviewers' load after the last); each task's audit entry names its own run's request.
    await this.deps.audit.transaction({ actor: systemActor('run'), requestId: null }, async (tx, recordAudit) => {
      await Promise.all([
        repo.insertRuns(tx, batch.map((p) => p.row)),
        ...batch.map(({ row, review }) => this.deps.review.open(tx, (entry) => recordAudit({ ...entry, requestId: row.request_id }), review)),
      ]);
    });
  }

  private async endUser(principal: Principal, as: string | undefined): Promise<{ userId: string; teamIds: string[]; admin: boolean; actingFor: string | undefined }> {
    if (as !== undefined) {
      if (!principal.isAdmin && !hasScope(principal, 'act_as')) throw new TarmacError('forbidden', 'running on behalf of another user needs a key with the act_as scope');
      const user = await findUser(this.db, as);
      if (!user || user.disabled) {
        // A bare name is not matched to an address (acting as someone must be exact), but it is suggested.
        const named = as.includes('@') ? [] : await emailsNamed(this.db, as);
        throw new TarmacError('not_found', `user ${as} does not exist${named.length > 0 ? `; did you mean ${named.join(' or ')}?` : ': give an email or a user id'}`);
      }
      const teamIds = (await membershipsOfUser(this.db, user.id)).map((m) => m.team_id);
      return { userId: user.id, teamIds, admin: false, actingFor: user.email };
    }
    if (!principal.userId) throw new TarmacError('validation_failed', 'a team key runs on behalf of a user: set "as"', { issues: [{ path: 'as', message: 'required for team keys' }] });
    // Authentication resolved this principal from an active user's key: no need to read the user again.
    return { userId: principal.userId, teamIds: Object.keys(principal.roles), admin: principal.isAdmin, actingFor: undefined };
  }

  /**
   * Runs a use case for the caller (or, with `act_as`, for the user it names). With a `sink` the model is
   * called as a stream and the run reports its progress; the answer text reaches the sink as it is generated
   * only when nothing can withhold it ({@link RunService.delivery}), otherwise never before the decision.
   */
  async run(caller: Caller, useCaseRef: string, input: RunInput, sink?: RunStreamSink): Promise<RunResult> {
    return this.execute(caller, useCaseRef, input, { record: true, ...(sink ? { sink } : {}) });
  }

  /**
   * The governed run's steps without the production record: no run row, no review task (the model call is
   * still traced and budgeted by the gateway). What evaluation runs to score a use case as its users get it.
   */
  async evaluate(caller: Caller, useCaseRef: string, input: RunInput): Promise<RunResult> {
    return this.execute(caller, useCaseRef, input, { record: false });
  }

  /**
   * One trial of an eval run: the governed run's steps for a configuration (prompt version, route, context
   * recipe), nothing recorded, the gateway's cache bypassed and its traces marked with the eval run. A paused use
   * case can be evaluated; the evals capability checks who may.
   */
  async trial(caller: Caller, useCaseRef: string, input: RunInput, options: TrialOptions): Promise<TrialResult> {
    const state = await this.begin(caller, useCaseRef, input, { record: false, trial: options });
    const result = await this.steps(state);
    return {
      ...result,
      answer: state.reply?.answer ?? null,
      groundedness: result.groundedness && state.groundedness ? { ...result.groundedness, unsupported: state.groundedness.claims.filter((c) => !c.supported).map((c) => ({ text: c.text, missing: c.missing })) } : result.groundedness,
      manifest: state.assembled?.manifest ?? null,
      tokens: state.reply?.tokens ?? { input: 0, output: 0 },
      promptVersion: state.prompt?.version ?? null,
      model: state.reply?.model ?? null,
    };
  }

  /** The steps of the governed run, in order, over one state; see docs/architecture.md. */
  private async execute(caller: Caller, useCaseRef: string, input: RunInput, options: { record: boolean; sink?: RunStreamSink }): Promise<RunResult> {
    return this.steps(await this.begin(caller, useCaseRef, input, options));
  }

  private async steps(state: RunState): Promise<RunResult> {
    try {
      await this.assembleStep(state);
      this.inputGuardStep(state);
      await this.promptStep(state);
      await this.deliveryStep(state);
      if (state.reasons.some((r) => r.code === 'prompt_injection')) return await this.finish(state, { status: 'completed', decision: 'blocked' });
      await this.modelStep(state);
      await this.outputGuardStep(state);
      const decided = decide(state.useCase.posture, {
        reasons: state.reasons,
        piiInAnswer: state.piiTypes.length > 0 && !(await state.allowsPii()),
        piiTypes: state.piiTypes,
        scored: state.scored!,
        relevance: state.relevance!,
        manifest: state.assembled!.manifest,
        judge: state.judge,
        judgeHolds: state.judge?.error != null && state.useCase.posture.judge?.onFailure === 'hold',
        draw: this.deps.random ?? Math.random,
      });
      state.reasons = decided.reasons;
      state.span('decide');
      const result = await this.finish(state, { status: 'completed', decision: decided.decision });
      // Text that could have been withheld is sent whole, and only once the decision released it.
      if (state.sink && state.delivery !== 'progressive' && result.answer !== null) state.sink.event('delta', { text: result.answer });
      return result;
    } catch (err) {
      return this.failStep(state, err);
    }
  }

  /** Resolve the use case and the end user once (their access and identity for retrieval), then authorise. */
  private async begin(caller: Caller, useCaseRef: string, input: RunInput, options: { record: boolean; sink?: RunStreamSink; trial?: TrialOptions }): Promise<RunState> {
    const started = performance.now();
    const spans: { name: string; ms: number }[] = [];
    let mark = started;
    const span = (name: string) => {
      const now = performance.now();
      spans.push({ name, ms: Math.round((now - mark) * 1000) / 1000 });
      mark = now;
    };
    const trial = options.trial;
    const registered = await this.deps.usecases.forRun(useCaseRef);
    const useCase = trial ? { ...registered, route: trial.route ?? registered.route, context: trial.context ?? registered.context } : registered;
    const user = await this.endUser(caller.principal, input.as);
    const identity = await this.deps.retrieval.identityOf(caller.principal, user.actingFor);
    if (!trial) await this.deps.usecases.authorizeRun(useCase, { ...user, email: identity.label.startsWith('user:') ? identity.label.slice(5) : undefined });
    span('authorize');
    const base = {
      id: newId('run'),
      use_case_id: useCase.id,
      team_id: useCase.teamId,
      user_id: user.userId,
      key_id: caller.principal.keyId,
      request_id: caller.requestId ?? null,
      input: input.input,
      variables: input.variables ?? {},
      route: useCase.route,
    };
    options.sink?.event('run', { runId: base.id, useCase: useCase.name });
    let piiAllowed: boolean | undefined;
    const state: RunState = {
      caller, input, useCase, identity, base, started, spans, span, record: options.record,
      ...(options.sink ? { sink: options.sink } : {}),
      ...(trial ? { trial } : {}),
      assembled: null, reasons: [], prompt: null, rendered: null, classification: 'internal', delivery: 'after_decision',
      reply: null, groundedness: null, relevance: null, judge: null, scored: null, piiTypes: [],
      allowsPii: async () => (piiAllowed ??= await this.piiAllowed(state.classification)),
    };
    return state;
  }

  /** Context, retrieved as the end user; the call's classification is the most sensitive chunk's. */
  private async assembleStep(state: RunState): Promise<void> {
    state.assembled = await this.deps.retrieval.assembler.assemble(state.identity, state.useCase.context, { query: state.input.input, inputs: state.input.variables ?? {} });
    const { chunks } = state.assembled.manifest;
    // The gateway's default for unclassified text when no chunk says otherwise.
    state.classification = chunks.length > 0 ? highestClassification(chunks.map((c) => c.classification)) : 'internal';
    state.span('context');
  }

  /** Injection markers in the retrieved context or the question block the run before any model call. */
  private inputGuardStep(state: RunState): void {
    const injected = [...injectionMarkers(state.assembled!.context), ...injectionMarkers(state.input.input)];
    if (injected.length > 0) state.reasons.push(reason('prompt_injection', `prompt_injection: ${[...new Set(injected)].join('; ')}`));
  }

  /** The prompt version the use case's label points at, with the context and the question. */
  private async promptStep(state: RunState): Promise<void> {
    const variables = { ...(state.input.variables ?? {}), context: state.assembled!.context, question: state.input.input };
    const version = state.trial?.promptVersion;
    const rendered =
      version === undefined
        ? await this.deps.prompts.renderForRun(state.useCase.prompt, state.useCase.promptLabel, variables)
        : await this.deps.prompts.renderVersionForRun(state.useCase.prompt, version, variables);
    state.rendered = rendered;
    state.prompt = { prompt: rendered.prompt, version: rendered.version };
    state.span('prompt');
  }

  /** A streaming run learns how its answer will come, with the context it was given. */
  private async deliveryStep(state: RunState): Promise<void> {
    if (!state.sink) return;
    state.delivery = this.delivery(state.useCase, await state.allowsPii());
    state.sink.event('context', contextEvent(state.assembled!.manifest, state.delivery));
  }

  /** The model call through the gateway (egress, PII, budgets, traces); tool calls loop within a step limit. */
  private async modelStep(state: RunState): Promise<void> {
    const { model: params, messages } = state.rendered!;
    const request = {
      model: params.route ?? state.useCase.route,
      messages,
      ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
      ...(params.topP !== undefined ? { top_p: params.topP } : {}),
      ...(params.maxTokens !== undefined ? { max_tokens: params.maxTokens } : {}),
      ...(params.stop ? { stop: params.stop } : {}),
      ...(params.seed !== undefined ? { seed: params.seed } : {}),
      ...(state.trial?.seed !== undefined ? { seed: state.trial.seed } : {}),
    };
    const caller = this.gatewayCaller(state);
    if (state.sink) state.reply = await this.streamModel(caller, request, state.sink, state.delivery === 'progressive');
    else {
      let reply = await this.callModel(caller, request);
      const tools = this.deps.tools;
      const spent = { costUsd: reply.costUsd, input: reply.tokens.input, output: reply.tokens.output };
      let conversation: ChatRequest['messages'] = [...request.messages];
      for (let step = 1; tools && reply.toolCalls.length > 0 && step < MAX_MODEL_STEPS; step++) {
        conversation = [...conversation, { role: 'assistant', content: reply.answer || null, tool_calls: reply.toolCalls }, ...(await tools.execute(state, reply.toolCalls))];
        reply = await this.callModel(caller, { ...request, messages: conversation });
        spent.costUsd += reply.costUsd;
        spent.input += reply.tokens.input;
        spent.output += reply.tokens.output;
      }
      state.reply = { ...reply, costUsd: spent.costUsd, tokens: { input: spent.input, output: spent.output } };
    }
    state.span('model');
  }

  /** Groundedness and relevance of the answer against its passages, personal data in it, and the judge. */
  private async outputGuardStep(state: RunState): Promise<void> {
    const { passages } = state.assembled!;
    const claims = claimText(state.reply!.answer);
    const g = checkGroundedness(claims, passages);
    state.groundedness = g;
    state.relevance = checkRelevance(state.input.input, claims, passages, supportingPassages(g));
    state.piiTypes = [...new Set(detectPii(state.reply!.answer).map((m) => m.type))];
    state.span('guard');
    const judgeConfig = state.useCase.posture.judge;
    if (judgeConfig) {
      state.judge = await this.judge(this.gatewayCaller(state), judgeConfig.model, g, state.assembled!.context);
      state.span('judge');
    }
    state.scored = decidingScore(g.score, state.judge, judgeConfig?.decides ?? 'offline');
  }

  /** What the gateway is told about a run's model calls. */
  private gatewayCaller(state: RunState): GatewayCaller {
    return {
      principal: state.caller.principal,
      requestId: state.caller.requestId ?? state.base.id,
      classification: state.classification,
      useCase: state.useCase.name,
      signal: state.sink?.signal ?? new AbortController().signal,
      ...(state.trial ? { evalRun: state.trial.evalRun } : {}),
    };
  }

  /** The run's end: recorded (and a review task opened when it needs one), or only its result when evaluating. */
  private async finish(state: RunState, outcome: { status: RunStatus; decision: Decision | null; error?: string; spent?: Omit<ModelReply, 'answer' | 'toolCalls'> }): Promise<RunResult> {
    const reply = state.reply;
    return this.record(state.base, state.spans, state.started, state.record, {
      status: outcome.status,
      decision: outcome.decision,
      reasons: state.reasons,
      manifest: state.assembled?.manifest ?? null,
      prompt: state.prompt,
      useCase: state.useCase,
      ...(state.groundedness ? { groundedness: state.groundedness } : {}),
      ...(state.relevance ? { relevance: state.relevance } : {}),
      ...(state.scored ? { scored: state.scored } : {}),
      ...(state.groundedness ? { judge: state.judge } : {}),
      ...(state.assembled && state.groundedness ? { passages: state.assembled.passages } : {}),
      ...(reply ? { answer: reply.answer, model: reply.model, gatewayRunId: reply.gatewayRunId, tokens: reply.tokens, costUsd: reply.costUsd + (state.judge?.costUsd ?? 0) } : {}),
      ...(outcome.spent ?? {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
    });
  }

  /** A step that threw: cancelled, blocked by egress, or failed, each recorded with what was known by then. */
  private async failStep(state: RunState, err: unknown): Promise<RunResult> {
    state.reply = null;
    if (err instanceof RunCancelled) {
      state.reasons = [];
      const cancelled = await this.finish(state, { status: 'cancelled', decision: null, error: 'run_cancelled: the client disconnected', spent: err.spent });
      throw new TarmacError('run_cancelled', 'the client disconnected before the run ended', { runId: cancelled.runId }, { cause: err });
    }
    this.clearChecks(state);
    // The egress policy refusing the context's classification to every provider of the route is a policy
    // violation, not a failure: the run is blocked, with the reason, and no model saw the context.
    if (isTarmacError(err) && err.code === 'egress_denied') {
      state.reasons = [reason('egress_denied', `egress_denied: ${err.message}`)];
      return this.finish(state, { status: 'completed', decision: 'blocked' });
    }
    // Only the model call and the steps after authorisation reach here: the run is recorded as failed.
    state.reasons = [];
    const message = isTarmacError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
    const failed = await this.finish(state, { status: 'failed', decision: null, error: message });
    if (isTarmacError(err)) throw new TarmacError(err.code, err.message, { ...(typeof err.details === 'object' && err.details ? err.details : {}), runId: failed.runId }, { cause: err });
    throw err;
  }

  /** A run that did not reach its decision records no scores. */
  private clearChecks(state: RunState): void {
    state.groundedness = null;
    state.relevance = null;
    state.scored = null;
    state.judge = null;
  }

  /**
   * A streaming run sends answer text as it is generated only when no check after the model can withhold it:
   * the posture flags (never holds) answers under its threshold, and PII in answers is allowed for the
   * context's classification (so nothing can block). Otherwise the text is sent once the decision released it.
   */
  delivery(useCase: UseCase, piiAllowed: boolean): Delivery {
    const canHold = useCase.posture.belowThreshold === 'held_for_review' || useCase.posture.judge?.onFailure === 'hold';
    return !canHold && piiAllowed ? 'progressive' : 'after_decision';
  }

  /** The LLM-as-judge check: never throws; a failed call or an unreadable verdict is recorded as `error`. */
  private async judge(caller: GatewayCaller, model: string, g: GroundednessResult, context: string): Promise<JudgeRecord> {
    let completion: Awaited<ReturnType<GatewayService['chat']>>;
    try {
      completion = await this.deps.gateway.chat(caller, { model, messages: judgeMessages(g.claims.map((c) => c.text), context), temperature: 0 });
    } catch (err) {
      const error = isTarmacError(err) ? `${err.code}: ${err.message}` : (err as Error).message;
      return { model, score: null, unsupported: [], error, costUsd: 0, gatewayRunId: null };
    }
    const body = completion.body as { choices?: { message?: { content?: string | null } }[] };
    const spent = { model, costUsd: completion.costUsd, gatewayRunId: completion.runId };
    try {
      return { ...spent, ...parseJudgeVerdict(body.choices?.[0]?.message?.content ?? ''), error: null };
    } catch (err) {
      return { ...spent, score: null, unsupported: [], error: `judge_malformed: ${(err as Error).message}` };
    }
  }

  private async callModel(caller: GatewayCaller, request: ChatRequest): Promise<ModelReply> {
    const completion = await this.deps.gateway.chat(caller, request);
    const body = completion.body as { model?: string; choices?: { message?: { content?: string | null; tool_calls?: ToolCall[] } }[]; usage?: { prompt_tokens?: number; completion_tokens?: number } };
    return {
      answer: body.choices?.[0]?.message?.content ?? '',
      toolCalls: body.choices?.[0]?.message?.tool_calls ?? [],
      model: body.model ?? null,
      gatewayRunId: completion.runId,
      costUsd: completion.costUsd,
      tokens: { input: body.usage?.prompt_tokens ?? 0, output: body.usage?.completion_tokens ?? 0 },
    };
  }

  /** The model call as a stream: text goes to the sink as it comes when `progressive`; a gone client cancels it. */
  private async streamModel(caller: GatewayCaller, request: ChatRequest, sink: RunStreamSink, progressive: boolean): Promise<ModelReply> {
    const session = this.deps.gateway.chatStream(caller, { ...request, stream: true, stream_options: { include_usage: true } });
    let answer = '';
    let model: string | null = null;
    try {
      for await (const chunk of session.chunks) {
        if (typeof chunk.model === 'string') model = chunk.model;
        const text = (chunk.choices[0]?.delta as { content?: unknown } | undefined)?.content;
        if (typeof text === 'string' && text !== '') {
          answer += text;
          if (progressive) sink.event('delta', { text });
        }
        if (sink.signal.aborted) break;
      }
    } catch (err) {
      if (!sink.signal.aborted) throw err;
    }
    const spent = session.spent();
    const reply = { model: model ?? spent.model, gatewayRunId: session.runId, costUsd: spent.costUsd, tokens: spent.tokens };
    if (sink.signal.aborted) throw new RunCancelled(reply);
    return { answer, toolCalls: [], ...reply };
  }

  /** Whether personal data may be in answers of this classification: the gateway's policy decides, as it does for the call. */
  private async piiAllowed(classification: Classification): Promise<boolean> {
    return (await this.deps.gateway.piiAction(classification)) === 'allow';
  }

  private async record(
    base: RunState['base'],
    spans: { name: string; ms: number }[],
    started: number,
    persist: boolean,
    r: {
      status: RunStatus;
      decision: Decision | null;
      reasons: Reason[];
      manifest: ContextManifest | null;
      prompt: { prompt: string; version: number } | null;
      useCase: UseCase;
      answer?: string;
      groundedness?: GroundednessResult;
      relevance?: RelevanceResult;
      judge?: JudgeRecord | null;
      scored?: { score: number; by: 'offline' | 'judge' };
      passages?: AssembledPassage[];
      model?: string | null;
      gatewayRunId?: string;
      costUsd?: number;
      tokens?: { input: number; output: number };
      error?: string;
    },
  ): Promise<RunResult> {
    const citations: Citation[] = [];
    for (const claim of r.groundedness?.claims ?? []) {
      const passage = r.passages?.find((p) => p.id === claim.support?.passageId);
      const ref = Number(passage?.id);
      if (!claim.supported || !passage || citations.some((c) => c.ref === ref)) continue;
      citations.push({ ref, kind: passage.kind, chunkId: passage.chunkId, documentId: passage.documentId, title: passage.title, source: passage.source, quote: (claim.support?.text ?? '').slice(0, 400) });
    }
    const latencyMs = Math.round(performance.now() - started);
    spans.push({ name: 'total', ms: latencyMs });
    const released = r.decision === 'delivered' || r.decision === 'flagged';
    const review = r.decision === 'held_for_review' ? 'hold' : r.reasons.some((x) => x.code === 'sampled_for_review') ? 'sample' : null;
    // The record is built here and written without reading it back (its manifest and claims are large).
    const row: Omit<repo.RunRow, 'created_at'> = {
      ...base,
      status: r.status,
      decision: r.decision,
      reasons: r.reasons,
      answer: r.answer ?? null,
      released,
      citations,
      groundedness: r.groundedness
        ? {
            score: r.scored?.score ?? r.groundedness.score,
            offlineScore: r.groundedness.score,
            decidedBy: r.scored?.by ?? 'offline',
            judge: r.judge ?? null,
            support: r.groundedness.support,
            threshold: r.useCase.posture.deliverThreshold,
            claims: r.groundedness.claims,
          }
        : null,
      relevance: r.relevance ? { ...r.relevance, threshold: r.useCase.posture.relevanceThreshold } : null,
      manifest: r.manifest,
      spans,
      prompt: r.prompt?.prompt ?? null,
      prompt_version: r.prompt?.version ?? null,
      model: r.model ?? null,
      gateway_run_id: r.gatewayRunId ?? null,
      cost_usd: r.costUsd ?? 0,
      tokens_in: r.tokens?.input ?? 0,
      tokens_out: r.tokens?.output ?? 0,
      latency_ms: latencyMs,
      error: r.error ?? null,
    };
    // An evaluation sees the result as a caller would, and writes nothing.
    if (!persist) return this.result(row, r.useCase.name, false);
    // Concurrent runs share the commit; each is answered once its own record (and task) is committed.
    if (!review) await this.plain.submit(row);
    else {
      const posture = r.useCase.posture;
      await this.reviewed.submit({
        row,
        review: { runId: row.id, runUserId: row.user_id, useCaseId: row.use_case_id, teamId: row.team_id, kind: review, slaMinutes: posture.reviewSlaMinutes, escalation: posture.escalation, timeoutAction: posture.timeoutAction },
      });
    }
    return this.result(row, r.useCase.name, false);
  }

  /** Applies a review decision or timeout: releases (possibly edited) or blocks the answer. */
  async applyVerdict(tx: Queryable, runId: string, verdict: RunVerdict): Promise<void> {
    await tx.query(
      `update runs set decision = $2::text, released = ($2::text = 'delivered'), answer = coalesce($3, answer),
         reasons = reasons || $4::jsonb where id = $1`,
      [runId, verdict.decision, verdict.answer ?? null, JSON.stringify(verdict.reason ? [reason(verdict.timedOut ? 'review_timed_out' : 'review_rejected', `review: ${verdict.reason}`)] : [])],
    );
  }

  /** A run as a caller sees it: the answer once released, or always for the team's reviewers. */
  private result(row: Omit<repo.RunRow, 'created_at'>, useCase: string, reviewer: boolean): RunResult {
    const g = row.groundedness as StoredGroundedness | null;
    const rel = row.relevance as StoredRelevance | null;
    const visible = row.released || reviewer;
    return {
      runId: row.id,
      useCase,
      status: row.status,
      decision: row.decision,
      reasons: row.reasons,
      answer: visible ? row.answer : null,
      // Runs recorded before records could be cited hold only chunk citations.
      citations: (row.citations as Citation[]).map((c) => ({ ...c, kind: c.kind ?? 'chunk' })),
      // Unsupported claims quote the answer: withheld with it.
      groundedness: g
        ? {
            score: g.score,
            threshold: g.threshold,
            unsupported: visible ? g.claims.filter((c) => !c.supported).map((c) => ({ text: c.text, missing: c.missing })) : [],
            offlineScore: g.offlineScore ?? g.score,
            decidedBy: g.decidedBy ?? 'offline',
            judge: g.judge ? { model: g.judge.model, score: g.judge.score, error: g.judge.error } : null,
          }
        : null,
      relevance: rel ? { score: rel.score, threshold: rel.threshold, contextScore: rel.contextScore, missing: visible ? rel.missing : [] } : null,
      costUsd: row.cost_usd,
      latencyMs: row.latency_ms,
      error: row.error,
    };
  }

  /** Reviewers of the team see answers not yet released, except on their own runs (four eyes). */
  private mayReview(principal: Principal, row: repo.RunRow): boolean {
    return canReview(principal, row.team_id) && row.user_id !== principal.userId;
  }

  /** What the caller may see of a run: its own runs (answer once released), or any run of their team's use cases. */
  private async visible(principal: Principal, id: string): Promise<{ row: repo.RunRow; team: boolean }> {
    const row = await repo.findRun(this.db, id);
    const team = row !== null && hasTeamRole(principal, row.team_id, 'viewer');
    if (!row || (!team && row.user_id !== principal.userId)) throw new TarmacError('not_found', `run ${id} does not exist`);
    return { row, team };
  }

  async get(caller: Caller, id: string): Promise<RunRecord> {
    const { row, team } = await this.visible(caller.principal, id);
    const useCase = (await useCaseNames(this.db, [row.use_case_id])).get(row.use_case_id) ?? row.use_case_id;
    const reviewer = team && this.mayReview(caller.principal, row);
    return {
      ...this.result(row, useCase, reviewer),
      teamId: row.team_id,
      userId: row.user_id,
      keyId: row.key_id,
      input: row.input,
      variables: row.variables,
      manifest: team ? (row.manifest as ContextManifest | null) : null,
      spans: row.spans,
      prompt: row.prompt,
      promptVersion: row.prompt_version,
      route: row.route,
      model: row.model,
      gatewayRunId: row.gateway_run_id,
      tokens: { input: row.tokens_in, output: row.tokens_out },
      createdAt: row.created_at.toISOString(),
      feedback: (await repo.feedbackOf(this.db, row.id)).map((f) => ({ userId: f.user_id, rating: f.rating, comment: f.comment, correction: f.correction, at: f.created_at.toISOString() })),
      outcome: await repo.outcomeOf(this.db, row.id).then((o) => (o ? { outcome: o.outcome, timeSpentSeconds: o.time_spent_seconds, recordedBy: o.recorded_by, at: o.created_at.toISOString() } : null)),
      review: await this.deps.review.ofRun(row.id),
    };
  }

  async list(
    caller: Caller,
    filter: { useCase?: string | undefined; decision?: string | undefined; user?: string | undefined; since?: Date | undefined; until?: Date | undefined; before?: Date | undefined; limit: number },
  ): Promise<ListedRun[]> {
    const p = caller.principal;
    let useCaseIds: string[] | undefined;
    if (filter.useCase) {
      const uc = await findUseCase(this.db, filter.useCase);
      if (!uc) throw new TarmacError('not_found', `use case ${filter.useCase} does not exist`);
      useCaseIds = [uc.id];
    }
    const userId = filter.user ? (await findUser(this.db, filter.user))?.id ?? '-' : undefined;
    const rows = await repo.listRuns(this.db, {
      useCaseIds,
      decision: filter.decision,
      userId,
      since: filter.since,
      until: filter.until,
      before: filter.before,
      visible: p.isAdmin ? null : { userId: p.userId, teamIds: Object.keys(p.roles) },
      limit: filter.limit,
    });
    const names = await useCaseNames(this.db, [...new Set(rows.map((r) => r.use_case_id))]);
    return rows.map((r) => ({ ...this.result(r, names.get(r.use_case_id) ?? r.use_case_id, this.mayReview(p, r)), userId: r.user_id, createdAt: r.created_at.toISOString() }));
  }

  /**
   * The production signals of a use case's completed runs in [from, to) (decision, groundedness, the top
   * retrieval score), for monitoring; the caller authorises (the evals capability, for the use case's team).
   */
  async signals(useCaseId: string, from: Date, to: Date): Promise<repo.RunSignal[]> {
    return repo.runSignals(this.db, useCaseId, from, to, 200_000);
  }

  /** The newest runs a judge model scored, with the threshold each was held against (judge reliability). */
  async judgedRuns(model: string, teamIds: string[] | null): Promise<{ id: string; score: number; threshold: number }[]> {
    return repo.judgedRuns(this.db, model, teamIds, 20_000);
  }

  /** Feedback from the run's user or its team: a rating, a comment, a correction. */
  async feedback(caller: Caller, id: string, f: { rating?: number | undefined; comment?: string | undefined; correction?: string | undefined }): Promise<RunRecord> {
    const { row } = await this.visible(caller.principal, id);
    await repo.insertFeedback(this.db, { runId: row.id, userId: caller.principal.userId, rating: f.rating ?? null, comment: f.comment ?? null, correction: f.correction ?? null });
    return this.get(caller, id);
  }

  /** What became of the answer: accepted, edited, overridden or abandoned, and the time spent. */
  async outcome(caller: Caller, id: string, o: { outcome: 'accepted' | 'edited' | 'overridden' | 'abandoned'; timeSpentSeconds?: number | undefined }): Promise<RunRecord> {
    const { row } = await this.visible(caller.principal, id);
    await repo.upsertOutcome(this.db, { runId: row.id, outcome: o.outcome, timeSpentSeconds: o.timeSpentSeconds ?? null, by: caller.principal.userId ?? caller.principal.keyId });
    return this.get(caller, id);
  }
}

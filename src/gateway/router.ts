import { TarmacError } from '../errors/index.js';
import type { CircuitBreakers } from './breaker.js';
import type { GatewayTarget } from './gateway.schema.js';
import { ProviderError, type Provider } from './providers/provider.js';
import type { Attempt } from './traces.js';

const DEFAULT_TIMEOUT_MS = 60_000;
/** A Retry-After longer than this moves on to the next target instead of waiting. */
const MAX_RETRY_WAIT_MS = 10_000;

/** Per-attempt deadline that a stream re-arms after every chunk (an idle timeout). */
export class AttemptControl {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private readonly onClientAbort = () => this.controller.abort(new Error('client disconnected'));
  timedOut = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly client: AbortSignal,
  ) {
    if (client.aborted) this.controller.abort(new Error('client disconnected'));
    else client.addEventListener('abort', this.onClientAbort, { once: true });
    this.rearm();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  rearm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timeout'));
    }, this.timeoutMs);
  }

  /** Ends the attempt: no more timeouts; `cancel` also aborts the upstream request. */
  done(cancel = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.client.removeEventListener('abort', this.onClientAbort);
    if (cancel) this.controller.abort(new Error('finished'));
  }
}

/** Targets in the order they are tried: weighted ones first, drawn by weight; then the rest as declared. */
export function orderTargets(targets: readonly GatewayTarget[], random = Math.random): GatewayTarget[] {
  const weighted = targets.filter((t) => (t.weight ?? 0) > 0);
  const rest = targets.filter((t) => (t.weight ?? 0) <= 0);
  const out: GatewayTarget[] = [];
  const pool = [...weighted];
  while (pool.length > 0) {
    const total = pool.reduce((sum, t) => sum + (t.weight ?? 0), 0);
    let draw = random() * total;
    let index = pool.findIndex((t) => (draw -= t.weight ?? 0) < 0);
    if (index < 0) index = pool.length - 1;
    out.push(...pool.splice(index, 1));
  }
  return [...out, ...rest];
}

export interface FallbackOptions {
  targets: readonly GatewayTarget[];
  providers: ReadonlyMap<string, Provider>;
  /** Egress: may this provider receive the request? */
  allowed: (provider: string) => boolean;
  breakers: CircuitBreakers;
  retries: number;
  backoffMs: number;
  client: AbortSignal;
  /** Filled with every attempt, for the trace. */
  attempts: Attempt[];
  classification: string;
}

export class ClientGone extends Error {
  constructor() {
    super('the client disconnected');
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ClientGone());
    const t = setTimeout(() => {
      signal.removeEventListener('abort', abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(t);
      reject(new ClientGone());
    };
    signal.addEventListener('abort', abort, { once: true });
  });
}

function toProviderError(err: unknown, control: AttemptControl, provider: string): ProviderError {
  if (control.timedOut) return new ProviderError(`${provider}: no answer within the timeout`, 'timeout');
  if (err instanceof ProviderError) return err;
  return new ProviderError(`${provider}: ${(err as Error).message}`, 'network');
}

/** The error a caller sees after every target failed. */
function finalError(last: ProviderError | null, attempts: Attempt[], classification: string): TarmacError {
  const details = { attempts };
  if (!last) {
    if (attempts.length > 0 && attempts.every((a) => a.outcome === 'skipped_egress')) {
      return new TarmacError('egress_denied', `no provider of this route may receive ${classification} data`, { classification, ...details });
    }
    return new TarmacError('upstream_error', 'every target of the route is unavailable (circuit breaker open)', details);
  }
  if (last.kind === 'capability') return new TarmacError('model_capability_unsupported', last.message, details);
  if (last.kind === 'timeout') return new TarmacError('upstream_timeout', last.message, details);
  if (last.kind === 'http' && last.status !== null && last.status < 500 && last.status !== 429 && last.status !== 408) {
    return new TarmacError('upstream_rejected', last.message, { ...details, status: last.status, upstream: last.upstream ?? null });
  }
  return new TarmacError('upstream_error', last.message, details);
}

/**
 * Calls the targets in order until one answers: skips targets the egress policy forbids or whose circuit is
 * open, retries 429, 5xx, timeouts and broken connections with exponential backoff (honouring Retry-After),
 * then falls back to the next target, as it does from a target that cannot do what is asked (`capability`). A
 * provider's refusal of the request itself (4xx) ends the search.
 *
 * @example
 * const { value } = await callWithFallback(options, (provider, target, control) => provider.chat(body, { signal: control.signal }));
 */
export async function callWithFallback<T>(
  options: FallbackOptions,
  call: (provider: Provider, target: GatewayTarget, control: AttemptControl) => Promise<T>,
): Promise<{ value: T; target: GatewayTarget; control: AttemptControl }> {
  let last: ProviderError | null = null;
  for (const target of options.targets) {
    const provider = options.providers.get(target.provider);
    const key = `${target.provider}/${target.model}`;
    if (!provider) continue;
    if (!options.allowed(target.provider)) {
      options.attempts.push({ provider: target.provider, model: target.model, outcome: 'skipped_egress' });
      continue;
    }
    for (let attempt = 0; attempt <= options.retries; attempt++) {
      if (!options.breakers.allow(key)) {
        options.attempts.push({ provider: target.provider, model: target.model, outcome: 'skipped_circuit' });
        break;
      }
      const started = performance.now();
      const control = new AttemptControl(target.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.client);
      try {
        const value = await call(provider, target, control);
        options.breakers.record(key, true);
        options.attempts.push({ provider: target.provider, model: target.model, outcome: 'ok', ms: Math.round(performance.now() - started) });
        return { value, target, control };
      } catch (err) {
        control.done(true);
        if (options.client.aborted) throw new ClientGone();
        const error = toProviderError(err, control, target.provider);
        // A target that cannot serve the request does not hide why an earlier one that could failed.
        if (error.kind !== 'capability' || !last) last = error;
        options.breakers.record(key, !error.retryable);
        options.attempts.push({
          provider: target.provider,
          model: target.model,
          outcome: 'error',
          error: error.message.slice(0, 300),
          status: error.status,
          ms: Math.round(performance.now() - started),
        });
        if (!error.retryable) {
          if (error.kind === 'unsupported' || error.kind === 'capability') break;
          throw finalError(error, options.attempts, options.classification);
        }
        if (attempt === options.retries) break;
        const wait = error.retryAfterMs ?? options.backoffMs * 2 ** attempt * (0.8 + Math.random() * 0.4);
        if (wait > MAX_RETRY_WAIT_MS) break;
        await sleep(wait, options.client);
      }
    }
  }
  throw finalError(last, options.attempts, options.classification);
}

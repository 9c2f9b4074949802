export interface BreakerSettings {
  errorRatio: number;
  minRequests: number;
  windowMs: number;
  openMs: number;
}

interface State {
  outcomes: { at: number; ok: boolean }[];
  openUntil: number;
  probing: boolean;
}

/**
 * Circuit breakers per target (`provider/model`), in this process: a target whose recent attempts failed at
 * `errorRatio` or more opens for `openMs`; then one half-open probe decides whether it closes again.
 *
 * @example
 * if (breakers.allow('openai/gpt-4o')) { ...; breakers.record('openai/gpt-4o', ok); }
 */
export class CircuitBreakers {
  private readonly states = new Map<string, State>();

  constructor(private settings: BreakerSettings) {}

  configure(settings: BreakerSettings): void {
    this.settings = settings;
  }

  private state(target: string): State {
    let s = this.states.get(target);
    if (!s) this.states.set(target, (s = { outcomes: [], openUntil: 0, probing: false }));
    return s;
  }

  /** Whether an attempt may go to the target now; in half-open state only one probe at a time. */
  allow(target: string, now = Date.now()): boolean {
    const s = this.state(target);
    if (s.openUntil === 0) return true;
    if (now < s.openUntil || s.probing) return false;
    s.probing = true;
    return true;
  }

  /** The state a trace and the docs name: closed, open or half-open. */
  status(target: string, now = Date.now()): 'closed' | 'open' | 'half-open' {
    const s = this.states.get(target);
    if (!s || s.openUntil === 0) return 'closed';
    return now < s.openUntil ? 'open' : 'half-open';
  }

  record(target: string, ok: boolean, now = Date.now()): void {
    const s = this.state(target);
    if (s.openUntil !== 0 && s.probing) {
      s.probing = false;
      if (ok) {
        s.openUntil = 0;
        s.outcomes = [];
      } else {
        s.openUntil = now + this.settings.openMs;
      }
      return;
    }
    s.outcomes.push({ at: now, ok });
    const since = now - this.settings.windowMs;
    while (s.outcomes.length > 0 && (s.outcomes[0]?.at ?? now) < since) s.outcomes.shift();
    const failed = s.outcomes.filter((o) => !o.ok).length;
    if (s.openUntil === 0 && s.outcomes.length >= this.settings.minRequests && failed / s.outcomes.length >= this.settings.errorRatio) {
      s.openUntil = now + this.settings.openMs;
    }
  }
}

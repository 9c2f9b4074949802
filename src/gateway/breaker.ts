export interface BreakerSettings {
  errorRatio: number;
  minRequests: number;
  windowMs: number;
  openMs: number;
}

/** Outcomes counted per slice of the window, so that recording costs the same at any request rate. */
interface Bucket {
  start: number;
  total: number;
  failed: number;
}

interface State {
  buckets: Bucket[];
  total: number;
  failed: number;
  openUntil: number;
  probing: boolean;
}

/** The window is counted in this many slices; outcomes leave it one slice at a time. */
const SLICES = 60;

/**
 * Circuit breakers per target (`provider/model`), in this process: a target whose recent attempts failed at
 * `errorRatio` or more opens for `openMs`; then one half-open probe decides whether it closes again. Outcomes
 * are counted per sixtieth of the window, so recording one costs the same at any request rate.
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
    if (!s) this.states.set(target, (s = { buckets: [], total: 0, failed: 0, openUntil: 0, probing: false }));
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
        s.buckets = [];
        s.total = 0;
        s.failed = 0;
      } else {
        s.openUntil = now + this.settings.openMs;
      }
      return;
    }
    const width = Math.max(1, Math.ceil(this.settings.windowMs / SLICES));
    const start = now - (now % width);
    let last = s.buckets[s.buckets.length - 1];
    if (!last || last.start !== start) s.buckets.push((last = { start, total: 0, failed: 0 }));
    last.total++;
    s.total++;
    if (!ok) {
      last.failed++;
      s.failed++;
    }
    const since = now - this.settings.windowMs;
    for (let first = s.buckets[0]; first && first.start + width <= since; first = s.buckets[0]) {
      s.buckets.shift();
      s.total -= first.total;
      s.failed -= first.failed;
    }
    if (s.openUntil === 0 && s.total >= this.settings.minRequests && s.failed / s.total >= this.settings.errorRatio) {
      s.openUntil = now + this.settings.openMs;
    }
  }
}

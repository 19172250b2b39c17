// Stops calling a plugin that keeps breaching its limits or crashing its sandbox, so one bad
// plugin cannot keep the sandbox process restarting. Closed → open after `threshold` faults
// within `windowMs`; open refuses calls for `cooldownMs`; then one trial call (half-open)
// decides whether it closes again.

export interface BreakerOptions {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, windowMs: 60_000, cooldownMs: 30_000 };

export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private readonly options: BreakerOptions;
  private readonly now: () => number;
  private faults: number[] = [];
  private openedAt: number | null = null;
  private trialInFlight = false;
  lastFault: { at: string; kind: string; message: string } | null = null;

  constructor(options: Partial<BreakerOptions> = {}, now: () => number = Date.now) {
    this.options = { ...DEFAULT_BREAKER, ...options };
    this.now = now;
  }

  get state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** Whether a call may go ahead now; in half-open state only one trial call at a time. */
  admit(): { ok: true } | { ok: false; retryInMs: number } {
    const state = this.state;
    if (state === 'closed') return { ok: true };
    if (state === 'half-open' && !this.trialInFlight) {
      this.trialInFlight = true;
      return { ok: true };
    }
    return { ok: false, retryInMs: this.retryInMs() };
  }

  /** While open: how long until the next trial call is allowed. */
  retryInMs(): number {
    return this.openedAt === null ? 0 : Math.max(0, this.options.cooldownMs - (this.now() - this.openedAt));
  }

  recordSuccess(): void {
    if (this.trialInFlight || this.state === 'half-open') {
      this.openedAt = null;
      this.faults = [];
    }
    this.trialInFlight = false;
  }

  recordFault(kind: string, message: string): void {
    const t = this.now();
    this.lastFault = { at: new Date(t).toISOString(), kind, message };
    if (this.trialInFlight) {
      this.trialInFlight = false;
      this.openedAt = t;
      return;
    }
    this.faults = this.faults.filter((f) => t - f < this.options.windowMs);
    this.faults.push(t);
    if (this.faults.length >= this.options.threshold) this.openedAt = t;
  }

  /** Opens at once (a fault that would only repeat, e.g. the memory cap): the plugin is paused. */
  trip(kind: string, message: string): void {
    const t = this.now();
    this.lastFault = { at: new Date(t).toISOString(), kind, message };
    this.trialInFlight = false;
    this.openedAt = t;
  }

  /** A trial call that never ran (throttled, sandbox unavailable) decides nothing: allow another. */
  cancelTrial(): void {
    this.trialInFlight = false;
  }

  /** Forget the faults, e.g. after an administrator reloaded a fixed version of the plugin. */
  reset(): void {
    this.faults = [];
    this.openedAt = null;
    this.trialInFlight = false;
  }

  snapshot(): { state: BreakerState; recentFaults: number; lastFault: CircuitBreaker['lastFault'] } {
    const t = this.now();
    return { state: this.state, recentFaults: this.faults.filter((f) => t - f < this.options.windowMs).length, lastFault: this.lastFault };
  }
}

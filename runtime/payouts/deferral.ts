// Payouts that could not be dispatched (design.md §6). When the sandbox refuses a call before the
// plugin's code starts it (NOT_DISPATCHED: breaker open, throttled, sandbox restarting, plugin not
// loaded or failing to load, arguments that could not be handed over), nothing can have left the
// sandbox and nobody refused the payout: the order stays inProgressPayout, no IPN is sent, and the
// payout starts again by itself once the plugin takes calls again.
//
// This module decides when "again" is: never in a hot loop, never hammering a paused plugin.
//  - per plugin: after a refusal no order of that plugin is tried before a short, growing backoff
//    ends, so one probe per window reaches the sandbox instead of one per waiting order;
//  - per order: the refused order itself waits twice as long (a growing backoff with a higher cap),
//    so the next probe is another order: an order the sandbox refuses for its own reasons
//    (arguments it cannot hand over) cannot keep the other orders of its plugin waiting;
//  - the plugin's availability (e.g. its breaker is open) is asked before an attempt is written,
//    so a known pause costs neither an attempt nor a sandbox call.
// State is per server process: two servers may each probe once per window, which is harmless.
import { NOT_DISPATCHED } from '../sandbox/protocol.ts';
import type { SandboxFailure } from '../sandbox/protocol.ts';

/** Prefix of the reason of an attempt that ended FAILED because transfer() never ran. */
export const NEVER_DISPATCHED = 'never dispatched';

/**
 * Whether a failed call never reached the plugin's code. Both must hold: a NOT_DISPATCHED kind and
 * no request started during the call, so an inconsistent report is never read as "nothing sent".
 */
export function neverDispatched(failure: SandboxFailure, requestsSent: number): boolean {
  return requestsSent === 0 && NOT_DISPATCHED.has(failure.kind);
}

/** What the host knows, cheaply and without side effects, about whether a plugin takes calls now. */
export type PluginAvailability = { available: true } | { available: false; reason: string };

/**
 * Availability from a plugin's circuit breaker as the sandbox host reports it (health().plugins):
 * open refuses every call; half-open lets one trial call through, which may be a payout.
 */
export function breakerAvailability(breaker: { state: string; lastFault: { kind: string } | null } | undefined): PluginAvailability {
  if (!breaker || breaker.state !== 'open') return { available: true };
  return { available: false, reason: `the plugin is paused after repeated faults${breaker.lastFault ? ` (last: ${breaker.lastFault.kind})` : ''}` };
}

export interface DeferralOptions {
  now(): number;
  /** A plugin's first wait after a refusal (default 5 s; the refused order waits twice that); doubles with each further refusal. */
  baseMs?: number;
  /** Longest wait of a plugin between probes (default 60 s). */
  pluginMaxMs?: number;
  /** Longest wait of one refused order (default 2 min). */
  orderMaxMs?: number;
}

export interface Deferred {
  reason: string;
  /** Not tried before this time (ISO); the sweep tries it at its first run after. */
  retryAt: string;
}

interface Backoff { until: number; refusals: number; reason: string }

// Bounds the per-order memory of a process whose orders leave inProgressPayout by other paths.
const MAX_ORDERS_REMEMBERED = 10_000;

export class PayoutDeferrals {
  private readonly options: Required<DeferralOptions>;
  private readonly plugins = new Map<string, Backoff>();
  private readonly orders = new Map<string, Backoff>();
  // Orders whose current wait was already reported to the administrator (audit, once per wait).
  private readonly noted = new Set<string>();

  constructor(options: DeferralOptions) {
    this.options = { baseMs: 5_000, pluginMaxMs: 60_000, orderMaxMs: 2 * 60_000, ...options };
  }

  /** Why the order's payout must wait now, or null when it may be tried. */
  check(orderId: string, plugin: string, availability: PluginAvailability | null): Deferred | null {
    const now = this.options.now();
    const own = this.orders.get(orderId);
    const shared = this.plugins.get(plugin);
    if (availability && !availability.available) {
      // A known pause: no attempt, no call. Retried at the next sweep after the plugin's own
      // backoff (the availability check is cheap, the sweep's interval bounds how often).
      return { reason: availability.reason, retryAt: new Date(Math.max(now, shared?.until ?? 0, own?.until ?? 0)).toISOString() };
    }
    if (own && now < own.until) return { reason: own.reason, retryAt: new Date(own.until).toISOString() };
    if (shared && now < shared.until) return { reason: shared.reason, retryAt: new Date(shared.until).toISOString() };
    return null;
  }

  /** The sandbox refused the order's call before the plugin ran it: back off plugin and order. */
  refused(orderId: string, plugin: string, reason: string): Deferred {
    const now = this.options.now();
    const { baseMs, pluginMaxMs, orderMaxMs } = this.options;
    const shared = this.grow(this.plugins.get(plugin), now, baseMs, pluginMaxMs, reason);
    this.plugins.set(plugin, shared);
    const own = this.grow(this.orders.get(orderId), now, baseMs * 2, orderMaxMs, reason);
    this.orders.delete(orderId); // re-inserted last, so the size cap drops the longest-known first
    this.orders.set(orderId, own);
    while (this.orders.size > MAX_ORDERS_REMEMBERED) {
      const oldest = this.orders.keys().next().value as string;
      this.orders.delete(oldest);
      this.noted.delete(oldest);
    }
    return { reason, retryAt: new Date(own.until).toISOString() };
  }

  /** transfer() ran for this order: the plugin takes calls, and the order's wait is over. */
  dispatched(orderId: string, plugin: string): void {
    this.plugins.delete(plugin);
    this.orders.delete(orderId);
    this.noted.delete(orderId);
  }

  /** Another call of the plugin (e.g. a status poll) was refused before it ran. */
  pluginRefused(plugin: string, reason: string): void {
    const now = this.options.now();
    this.plugins.set(plugin, this.grow(this.plugins.get(plugin), now, this.options.baseMs, this.options.pluginMaxMs, reason));
  }

  /** Whether calls of the plugin are held back now (after a refusal, until its backoff ends). */
  pluginWaiting(plugin: string): boolean {
    const shared = this.plugins.get(plugin);
    return shared !== undefined && this.options.now() < shared.until;
  }

  /** True the first time in a wait: the caller reports it once, not at every sweep. */
  firstNotice(orderId: string): boolean {
    if (this.noted.has(orderId)) return false;
    if (this.noted.size >= MAX_ORDERS_REMEMBERED) this.noted.clear();
    this.noted.add(orderId);
    return true;
  }

  private grow(previous: Backoff | undefined, now: number, baseMs: number, maxMs: number, reason: string): Backoff {
    const refusals = (previous?.refusals ?? 0) + 1;
    const wait = Math.min(maxMs, baseMs * 2 ** Math.min(refusals - 1, 20));
    return { until: now + wait, refusals, reason };
  }
}

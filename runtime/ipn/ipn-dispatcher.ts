// Delivers the merchant IPNs that order transitions leave in the store's outbox: claims due rows,
// POSTs each one (x-www-form-urlencoded, fields in their stored order) through the server egress
// guard, and records the outcome on the row.
//
// Delivery semantics:
//  - Once by default. The merchant API promises one POST and no redelivery, so rows carry
//    maxAttempts = 1 unless the host opts in to retries; then a failed send is retried with
//    exponential backoff and jitter until maxAttempts.
//  - Crash-safe by construction. A claim leases the row; a worker that dies leaves it 'sending',
//    and once the lease expires the next claim takes it again (or marks it failed when the dead
//    worker had its last allowed attempt). Nothing is lost, and completions carry the claimed
//    attempt number, so a slow worker cannot overwrite the outcome of the delivery that replaced it.
//  - In order per order. The store claims a message only when no earlier message of its order is
//    still pending or sending, so an order's IPNs reach the merchant in the order of its transitions,
//    an interrupted send included (it is sent again before anything later). A message that failed
//    for good does not hold the later ones back.
//  - A duplicate is possible only when a worker dies (or its lease runs out) after the POST left
//    and before the outcome was written. Merchants must treat IPNs idempotently, keyed by
//    orderId + newStatus + timestamp (all three are covered by the hash).
//  - A refusal by the egress guard (private or loopback ipnUrl, malformed URL, …) is final: nothing
//    was sent and retrying cannot change the verdict.
import { CapabilityError, PolicyDenied } from '../../host-api/capability.ts';
import type { ServerEgress } from '../../host-api/http.ts';
import type { IpnResult, Store } from '../store/store.ts';
import type { IpnMessage } from '../store/types.ts';
import { crashPoint } from '../testing-seams/crash-hook.ts';

export interface IpnDispatcherDeps {
  store: Pick<Store, 'claimDueIpns' | 'completeIpn'>;
  egress: ServerEgress;
  /** This server instance: named on every claim, so after a restart it takes its own claims back at once. */
  owner?: string;
  /** First retry delay; doubles per attempt (only used when a row allows more than one attempt). */
  retryBaseMs: number;
  /** How long a claim is held. Must exceed sendTimeoutMs, or a slow send is re-claimed by a peer. */
  leaseMs?: number;
  batchSize?: number;
  pollIntervalMs?: number;
  /** Per-send bound: connect, request and response together. */
  sendTimeoutMs?: number;
  maxRetryDelayMs?: number;
  /** The store's clock (nextAttemptAt is compared with it). */
  now?: () => number;
  /** [0, 1); injected so tests can pin the jitter. */
  random?: () => number;
  onEvent?: (event: IpnEvent) => void;
}

export type IpnDeliveryKind = 'sent' | 'retry' | 'failed' | 'superseded';

export interface IpnDeliveryEvent {
  kind: IpnDeliveryKind;
  id: string;
  orderId: string;
  status: string;
  /** origin + path of the ipnUrl; the query is left out (merchants put tokens there). */
  target: string;
  attempt: number;
  maxAttempts: number;
  httpStatus: number | null;
  error: string | null;
  nextAttemptAt: string | null;
  durationMs: number;
}

export interface IpnErrorEvent {
  kind: 'error';
  stage: 'claim' | 'complete';
  id: string | null;
  error: string;
  /** What the store threw, for the log's `{ err }` (message, stack, code). */
  cause: unknown;
}

export type IpnEvent = IpnDeliveryEvent | IpnErrorEvent;

export interface DrainSummary {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  superseded: number;
  /** Set when the claim itself failed (database fault). */
  error: string | null;
}

interface Outcome {
  httpStatus: number | null;
  ok: boolean;
  retryable: boolean;
  error: string | null;
}

const DEFAULTS = { batchSize: 20, pollIntervalMs: 1_000, sendTimeoutMs: 10_000, maxRetryDelayMs: 3_600_000 };
const COMPLETE_RETRY_DELAYS_MS = [50, 250, 1_000];
/** Drains in a row before yielding to the poll timer, so a huge backlog cannot hog one tick forever. */
const MAX_DRAINS_PER_WAKE = 50;

export class IpnDispatcher {
  private readonly deps: IpnDispatcherDeps;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly sendTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: Promise<void> | null = null;
  private again = false;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(deps: IpnDispatcherDeps) {
    this.deps = deps;
    this.batchSize = positive('batchSize', deps.batchSize ?? DEFAULTS.batchSize);
    this.pollIntervalMs = positive('pollIntervalMs', deps.pollIntervalMs ?? DEFAULTS.pollIntervalMs);
    this.sendTimeoutMs = positive('sendTimeoutMs', deps.sendTimeoutMs ?? DEFAULTS.sendTimeoutMs);
    this.leaseMs = positive('leaseMs', deps.leaseMs ?? this.sendTimeoutMs * 2 + 5_000);
    this.maxRetryDelayMs = positive('maxRetryDelayMs', deps.maxRetryDelayMs ?? DEFAULTS.maxRetryDelayMs);
    positive('retryBaseMs', deps.retryBaseMs);
    if (this.leaseMs <= this.sendTimeoutMs) {
      throw new Error(`IpnDispatcher: leaseMs (${this.leaseMs}) must be longer than sendTimeoutMs (${this.sendTimeoutMs}), or a send still in progress is claimed again`);
    }
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /** Starts polling (the first drain runs at once). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.arm(0);
  }

  /** Process due messages now, e.g. right after a transition enqueued one. */
  kick(): void {
    if (!this.started || this.stopped) return;
    if (this.wake) {
      this.again = true;
      return;
    }
    this.arm(0);
  }

  /** Stops polling and waits for sends in flight to finish and be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.wake;
    await Promise.allSettled([...this.inFlight]);
  }

  /** One claim of at most batchSize due messages, all sent concurrently. Never throws. */
  async drainOnce(): Promise<DrainSummary> {
    const summary: DrainSummary = { claimed: 0, sent: 0, retried: 0, failed: 0, superseded: 0, error: null };
    let batch: IpnMessage[];
    try {
      batch = await this.deps.store.claimDueIpns(this.batchSize, this.leaseMs, this.deps.owner);
    } catch (err) {
      summary.error = messageOf(err);
      this.emit({ kind: 'error', stage: 'claim', id: null, error: summary.error, cause: err });
      return summary;
    }
    summary.claimed = batch.length;
    if (batch.length) crashPoint('ipn-after-claim');
    const work = batch.map((m) => this.track(this.deliver(m)));
    for (const kind of await Promise.all(work)) {
      if (kind === 'sent') summary.sent++;
      else if (kind === 'retry') summary.retried++;
      else if (kind === 'failed') summary.failed++;
      else summary.superseded++;
    }
    return summary;
  }

  private arm(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wake = this.drainUntilIdle().finally(() => {
        this.wake = null;
        this.arm(this.again ? 0 : this.pollIntervalMs);
        this.again = false;
      });
    }, delay);
    this.timer.unref();
  }

  private async drainUntilIdle(): Promise<void> {
    for (let i = 0; i < MAX_DRAINS_PER_WAKE && !this.stopped; i++) {
      this.again = false;
      const s = await this.drainOnce();
      // A finished message may unblock the next one of its order (per-order order): claim again at
      // once rather than a poll interval later, until a claim finds nothing.
      if (s.error || (s.claimed === 0 && !this.again)) return;
    }
    this.again = true;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => {});
    return p;
  }

  private async deliver(m: IpnMessage): Promise<IpnDeliveryKind> {
    const started = performance.now();
    const outcome = await this.send(m);
    crashPoint('ipn-after-send');
    const attempt = m.attempts;
    const prefix = `attempt ${attempt} of ${m.maxAttempts}: `;
    let kind: IpnDeliveryKind;
    let nextAttemptAt: string | null = null;
    let lastError: string | null = null;
    if (outcome.ok) {
      kind = 'sent';
    } else if (outcome.retryable && attempt < m.maxAttempts) {
      kind = 'retry';
      nextAttemptAt = new Date(this.now() + this.backoff(attempt)).toISOString();
      lastError = `${prefix}${outcome.error}; next attempt at ${nextAttemptAt}`;
    } else {
      kind = 'failed';
      const why = !outcome.retryable ? '' : m.maxAttempts === 1 ? ' (IPN is sent once; retries are not enabled)' : ' (no attempts left)';
      lastError = `${prefix}${outcome.error}${why}`;
    }
    const applied = await this.complete(m, kind === 'retry'
      ? { state: 'pending', lastError, nextAttemptAt: nextAttemptAt!, attempt }
      : { state: kind === 'sent' ? 'sent' : 'failed', lastError, attempt });
    // A completion that did not apply: our lease ran out and another worker owns the row now.
    if (applied === false) kind = 'superseded';
    this.emit({
      kind, id: m._id, orderId: m.orderId, status: m.status, target: shownTarget(m.url), attempt, maxAttempts: m.maxAttempts,
      httpStatus: outcome.httpStatus, error: outcome.ok ? null : outcome.error, nextAttemptAt, durationMs: Math.round(performance.now() - started),
    });
    return kind;
  }

  private async send(m: IpnMessage): Promise<Outcome> {
    const body = new URLSearchParams(Object.entries(m.fields)).toString();
    try {
      const res = await this.deps.egress.request({
        method: 'POST',
        url: m.url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        deadline: Date.now() + this.sendTimeoutMs,
      });
      if (res.status >= 200 && res.status < 300) return { ok: true, retryable: false, httpStatus: res.status, error: null };
      const redirect = res.status >= 300 && res.status < 400 ? ' (redirects are not followed for IPN)' : '';
      const snippet = printable(res.body.subarray(0, 400).toString('utf8')).slice(0, 200);
      return {
        ok: false, retryable: true, httpStatus: res.status,
        error: `the merchant answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${redirect}${snippet ? `: ${snippet}` : ''}`,
      };
    } catch (err) {
      return { ok: false, httpStatus: null, ...classify(err, this.sendTimeoutMs) };
    }
  }

  /** Exponential with "equal jitter": between half and all of the doubled delay, so peers spread out. */
  private backoff(attempt: number): number {
    const full = Math.min(this.maxRetryDelayMs, this.deps.retryBaseMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(full / 2 + this.random() * (full / 2));
  }

  /** The send already happened: a transient database fault must not turn it into a redelivery. */
  private async complete(m: IpnMessage, result: IpnResult): Promise<boolean | null> {
    for (let i = 0; ; i++) {
      try {
        return await this.deps.store.completeIpn(m._id, result);
      } catch (err) {
        if (i >= COMPLETE_RETRY_DELAYS_MS.length) {
          this.emit({ kind: 'error', stage: 'complete', id: m._id, error: messageOf(err), cause: err });
          return null;
        }
        await new Promise((r) => setTimeout(r, COMPLETE_RETRY_DELAYS_MS[i]));
      }
    }
  }

  private emit(e: IpnEvent): void {
    try {
      this.deps.onEvent?.(e);
    } catch {
      // A broken listener (metrics, logging) must not stop deliveries.
    }
  }
}

function classify(err: unknown, sendTimeoutMs: number): { retryable: boolean; error: string } {
  if (err instanceof PolicyDenied) {
    // Rate caps are about now, not about the address: the next attempt may pass.
    if (err.rule.startsWith('http.rate')) return { retryable: true, error: `not sent, held back by the egress rate limit: ${err.message}` };
    return { retryable: false, error: `not sent, refused by the egress guard [${err.rule}]: ${err.message}` };
  }
  if (err instanceof CapabilityError) {
    if (err.code === 'timeout' || err.code === 'deadline') return { retryable: true, error: `no answer within ${sendTimeoutMs} ms: ${err.message}` };
    return { retryable: true, error: `network error: ${err.message}` };
  }
  return { retryable: false, error: `could not send: ${messageOf(err)}` };
}

function shownTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(unparseable ipnUrl)';
  }
}

function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new Error(`IpnDispatcher: ${name} must be a positive number, got ${v}`);
  return v;
}

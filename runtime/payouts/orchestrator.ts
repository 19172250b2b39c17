// The payout flow that never pays twice (design.md §6). The attempt states and every move between
// them are in attempt-transitions.ts; every settlement goes through settle.ts.
// - one live attempt per order (unique in the store), every write fenced by the attempt's lease;
// - DISPATCHING is written before transfer() runs, and the attempt's requestLeftAt before its
//   first request reaches a socket: a crash during transfer() is read as "not sent" only when
//   no request can have left (no mark), and then the payout simply starts again;
// - a failure is definite (FAILED, order errorPayout) only when no request left the sandbox
//   during transfer(); otherwise it is UNKNOWN: never retried blindly, reconciled, and held for
//   review by a deadline;
// - a call the sandbox refused before the plugin's code started it (NOT_DISPATCHED) is not a
//   failure of the payout: the order stays inProgressPayout, no IPN, and the payout starts again
//   when the plugin takes calls (deferral.ts);
// - an amount the provider reports that differs from the order is never done: it goes to review;
// - order moves come first, attempt settlement second: the sweep can always settle an attempt
//   from its order's status after a crash in between.
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { InvokeResult, InvokeOptions } from '../sandbox/sandbox-host.ts';
import type { Order, PayoutAttempt } from '../store/types.ts';
import { orderForPlugin } from '../../host-api/payout-txs.ts';
import { amountMismatch, audit, iso, moveAttempt } from './payout-steps.ts';
import { followOrder, settlePayout } from './settle.ts';
import { blocksNewAttempt } from '../store/attempt-transitions.ts';
import type { StepDeps } from './payout-steps.ts';
import { crashPoint } from '../testing-seams/crash-hook.ts';
import { NEVER_DISPATCHED, PayoutDeferrals, neverDispatched } from './deferral.ts';
import type { DeferralOptions, Deferred, PluginAvailability } from './deferral.ts';
import type { SandboxFailure } from '../sandbox/protocol.ts';

export interface OrchestratorDeps extends StepDeps {
  invoke(key: string, method: string, args: unknown, options?: InvokeOptions): Promise<InvokeResult>;
  activePlugin(key: string): LoadedPlugin | null;
  transferWallMs: number;
  acceptedReviewAfterMs: number;
  unknownReviewAfterMs: number;
  /** Added to twice the transfer deadline to make an attempt's lease. */
  leaseMarginMs?: number;
  /**
   * Whether the plugin takes calls now (e.g. its circuit breaker is not open), asked before an
   * attempt is written. Must be cheap and free of side effects; without it, a pause is learnt
   * from the sandbox's refusal of transfer().
   */
  pluginAvailability?(key: string): PluginAvailability;
  /** Backoff of payouts the sandbox refused before they ran (deferral.ts defaults). */
  deferral?: Omit<DeferralOptions, 'now'>;
}

export type StartOutcome =
  | { kind: 'not-eligible'; reason: string }
  | { kind: 'in-progress'; reason: string }
  // Not dispatched: the plugin is unavailable now (attemptId set when the sandbox refused a written
  // attempt). The order stays inProgressPayout; the sweep starts it again from retryAt.
  | { kind: 'deferred'; reason: string; retryAt: string; attemptId?: string }
  | { kind: 'succeeded' | 'accepted' | 'failed' | 'unknown' | 'needs_review' | 'lost-lease'; attemptId: string; reason?: string };

interface TransferValue { ok?: unknown; transaction?: unknown; amount?: unknown; currency?: unknown; to?: unknown }

export class PayoutOrchestrator {
  private readonly deps: OrchestratorDeps;
  private readonly running = new Set<Promise<StartOutcome>>();
  private closing = false;
  /** Backoff of payouts that could not be dispatched; the sweep reads it too. */
  readonly deferrals: PayoutDeferrals;

  constructor(deps: OrchestratorDeps) {
    this.deps = deps;
    this.deferrals = new PayoutDeferrals({ ...deps.deferral, now: () => deps.now() });
  }

  get leaseMs(): number {
    // Longer than any transfer() can run, so a live transfer never loses its lease to a sweeper.
    return this.deps.transferWallMs * 2 + (this.deps.leaseMarginMs ?? 30_000);
  }

  /** Whether calls of the plugin may be made now: not paused, not in a backoff after a refusal. */
  pluginTakesCalls(key: string): boolean {
    const availability = this.deps.pluginAvailability?.(key);
    return (availability === undefined || availability.available) && !this.deferrals.pluginWaiting(key);
  }

  /** Starts the order's payout in the background; the outcome is in the store, events and audit. */
  kick(orderId: string): void {
    void this.start(orderId).catch((err) => this.deps.onEvent?.({ kind: 'error', orderId, reason: String((err as Error)?.message ?? err) }));
  }

  /** Stops starting payouts and waits for the ones running (a shutdown must not cut transfer() off). */
  async drain(): Promise<void> {
    this.closing = true;
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  start(orderId: string): Promise<StartOutcome> {
    if (this.closing) return Promise.resolve({ kind: 'not-eligible', reason: 'the server is shutting down; the sweep of the next start picks the order up' });
    const run = this.run(orderId);
    this.running.add(run);
    void run.finally(() => this.running.delete(run)).catch(() => {});
    return run;
  }

  private async run(orderId: string): Promise<StartOutcome> {
    const d = this.deps;
    const order = await d.store.getOrder(orderId);
    if (!order) return { kind: 'not-eligible', reason: `order ${orderId} does not exist` };
    if (order.status !== 'inProgressPayout') return { kind: 'not-eligible', reason: `order ${order.uid} is ${order.status}, not inProgressPayout` };
    if (!order.payoutModule) return { kind: 'not-eligible', reason: `order ${order.uid} has no payout plugin` };
    if (!d.activePlugin(order.payoutModule)) return { kind: 'not-eligible', reason: `payout plugin '${order.payoutModule}' is not loaded` };
    const previous = await d.store.listAttempts(orderId);
    const blocking = previous.find((a) => blocksNewAttempt(a.state));
    if (blocking) return { kind: 'in-progress', reason: `order ${order.uid} already has a payout attempt in state ${blocking.state}` };
    // A known pause costs neither an attempt nor a sandbox call.
    const waiting = this.deferrals.check(orderId, order.payoutModule, d.pluginAvailability?.(order.payoutModule) ?? null);
    if (waiting) return this.deferred(order, waiting);

    const created = await d.store.createAttempt({ orderId, plugin: order.payoutModule, owner: d.owner, leaseMs: this.leaseMs });
    if (!created) return { kind: 'in-progress', reason: `another worker started the payout of order ${order.uid}` };
    crashPoint('after-attempt-created');
    const dispatching = await moveAttempt(d, created, { state: 'DISPATCHING' });
    if (!dispatching) return { kind: 'lost-lease', attemptId: created._id };
    crashPoint('after-dispatching-written');
    d.onEvent?.({ kind: 'started', orderId, attemptId: created._id, plugin: order.payoutModule });

    const result = await d.invoke(order.payoutModule, 'transfer', [orderForPlugin(order)], {
      wallMs: d.transferWallMs, beforeFirstRequest: (callId) => this.recordRequestLeaving(dispatching, callId),
    });
    crashPoint('after-transfer-returned');
    // Conservative: a request the plugin asked for counts even if it had not reached a socket yet.
    const requestsSent = Math.max(result.ctx.counters.outboundRequests, result.ctx.counters.requestsStarted);
    const attempt = (await moveAttempt(d, dispatching, { requestsSent })) ?? null;
    const ran = result.ok || !neverDispatched(result.error, requestsSent);
    if (ran) this.deferrals.dispatched(orderId, order.payoutModule);
    if (!attempt) {
      // Settled meanwhile (the plugin's callback may have finished the order already) or taken over.
      const now = await d.store.getAttempt(created._id);
      return { kind: 'lost-lease', attemptId: created._id, reason: now ? `attempt is ${now.state}` : undefined };
    }
    if (!result.ok && !ran) return this.notDispatched(orderId, attempt, result.error);
    // The provider's webhook may have settled the order while transfer() was still running.
    const current = await d.store.getOrder(orderId);
    if (current && current.status !== 'inProgressPayout') await this.keepEvidence(current, attempt, result);
    if (current && current.status !== 'inProgressPayout' && (await followOrder(d, attempt, current)).attemptMoved) {
      return { kind: current.status === 'done' ? 'succeeded' : current.status === 'hold' ? 'needs_review' : 'failed', attemptId: attempt._id };
    }
    return this.classify(current ?? order, attempt, result, requestsSent);
  }

  /**
   * Awaited before the first request of transfer() is handed to a socket: the durable "a request
   * may have left" that recovery after a kill reads (payout-sweep.ts). Written first, sent second,
   * so no request can have left without it; a crash in between leaves the mark with nothing sent,
   * which is read as "may have been sent" (UNKNOWN): safe. Refused (the request is not sent) when
   * the attempt is no longer this worker's DISPATCHING one: a sweeper that took it over may have
   * judged it never sent and started the payout again.
   */
  private async recordRequestLeaving(attempt: PayoutAttempt, callId: string): Promise<void> {
    const marked = await this.deps.store.markAttemptRequestLeft(attempt._id, attempt.fence, callId);
    if (!marked) throw new Error(`payout attempt ${attempt._id} is no longer dispatched by this worker`);
    crashPoint('after-request-marked');
  }

  /**
   * The sandbox refused transfer() before the plugin's code started it, after DISPATCHING was
   * written. Nothing can have been sent and nobody said no, so the order stays where it is (no
   * errorPayout, no IPN) and the attempt becomes FAILED with a reason saying it never ran:
   *  - FAILED is the one settled state that allows a new attempt (design.md §6), so the rule of one
   *    live attempt per order and the store's unique index stay as they are;
   *  - deleting the attempt would erase the record that DISPATCHING was written and why the
   *    payout waited; a new state would change both stores' schemas for what FAILED already says.
   * The order is not moved: "order first, attempt second" is about settling an order, and this
   * order is not settled. A crash before the FAILED write leaves DISPATCHING, which the sweep
   * turns into UNKNOWN, as for any interrupted transfer(): conservative, never a blind retry.
   */
  private async notDispatched(orderId: string, attempt: PayoutAttempt, error: SandboxFailure): Promise<StartOutcome> {
    const d = this.deps;
    const why = `the sandbox refused transfer() before it ran (${error.kind}: ${error.message})`;
    const current = await d.store.getOrder(orderId);
    // Settled meanwhile by the plugin's callback or an administrator: the attempt follows the order.
    if (current && current.status !== 'inProgressPayout' && current.status !== 'hold' && (await followOrder(d, attempt, current)).attemptMoved) {
      return { kind: current.status === 'done' ? 'succeeded' : 'failed', attemptId: attempt._id, reason: `${why}; the order is ${current.status}` };
    }
    const status = current?.status ?? 'inProgressPayout';
    const next = status === 'inProgressPayout' ? 'the payout starts again when the plugin takes calls' : `the order is ${status} (moved while the call was refused)`;
    const reason = `${NEVER_DISPATCHED}: ${why}; nothing was sent, ${next}`;
    // Not a settlement (the order does not move, no IPN, no payout.failed): the table's
    // DISPATCHING → FAILED "never dispatched".
    const failed = await moveAttempt(d, attempt, { state: 'FAILED', reason, leaseUntil: null });
    if (!failed) return { kind: 'lost-lease', attemptId: attempt._id };
    const waiting = this.deferrals.refused(orderId, attempt.plugin, why);
    return this.deferred(current ?? orderId, waiting, attempt._id);
  }

  /** Says once per wait why the order's payout waits (audit and event), not at every sweep. */
  private deferred(order: Order | string, waiting: Deferred, attemptId?: string): StartOutcome {
    const orderId = typeof order === 'string' ? order : order._id;
    if (this.deferrals.firstNotice(orderId)) {
      const plugin = typeof order === 'string' ? undefined : order.payoutModule ?? undefined;
      audit(this.deps, 'payout.deferred', order, `payout waits, transfer() was not run: ${waiting.reason}; it starts by itself when the plugin takes calls (not before ${waiting.retryAt})`, 'error');
      this.deps.onEvent?.({ kind: 'deferred', orderId, attemptId, plugin, reason: waiting.reason });
    }
    return { kind: 'deferred', reason: waiting.reason, retryAt: waiting.retryAt, ...(attemptId ? { attemptId } : {}) };
  }

  /**
   * The order moved (an administrator's hold, the plugin's own callback) while transfer() ran:
   * its answer no longer decides anything, but it is what the provider said, so it is kept on the
   * attempt, as an inactive tx and in the audit log for whoever reviews the payout.
   */
  private async keepEvidence(order: Order, attempt: PayoutAttempt, result: InvokeResult): Promise<void> {
    const d = this.deps;
    if (!result.ok) {
      audit(d, 'payout.result-after-move', order, `transfer() failed (${result.error.kind}: ${result.error.message}) after the order moved to ${order.status}`, 'error');
      return;
    }
    const value = (result.value ?? {}) as TransferValue;
    const transaction = typeof value.transaction === 'string' || typeof value.transaction === 'number' ? String(value.transaction) : null;
    const reportedAmount = value.amount === undefined ? null : String(value.amount);
    await moveAttempt(d, attempt, { transaction, reportedAmount, reportedCurrency: value.currency === undefined ? null : String(value.currency) });
    if (transaction) {
      await d.store.insertPayoutTx({
        order: order._id, transaction, payoutModule: attempt.plugin, active: false, amount: reportedAmount ?? order.outAmount,
        currency: value.currency === undefined ? order.outSymbol : String(value.currency), to: value.to === undefined || value.to === null ? null : String(value.to).slice(0, 200),
        note: `recorded after the order moved to ${order.status}`, attemptId: attempt._id,
      });
    }
    const mismatch = amountMismatch(order, value.amount);
    audit(d, 'payout.result-after-move', order, `transfer() answered ok:${String(value.ok)}${transaction ? ` (${transaction})` : ''} after the order moved to ${order.status}${mismatch ? `; ${mismatch}` : ''}`, mismatch ? 'error' : 'allowed');
  }

  private async classify(order: Order, attempt: PayoutAttempt, result: InvokeResult, requestsSent: number): Promise<StartOutcome> {
    const d = this.deps;
    if (!result.ok) {
      const reason = `${result.error.kind}: ${result.error.message}`;
      if (requestsSent === 0) return this.fail(order, attempt, `transfer failed before any request left the sandbox (${reason})`);
      // An SDK plugin's ProviderRefused is the provider's own "no": definite even after requests.
      if (result.error.thrown?.definite === true && d.activePlugin(attempt.plugin)?.manifest.format === 'sdk') {
        return this.fail(order, attempt, `the provider refused the payout (${result.error.message})`);
      }
      return this.unknown(order, attempt, `transfer failed after ${requestsSent} request(s) left the sandbox (${reason}); the payout may have been sent`);
    }
    const value = (result.value ?? {}) as TransferValue;
    const okCode = Number(value.ok);
    const transaction = typeof value.transaction === 'string' || typeof value.transaction === 'number' ? String(value.transaction) : null;
    if (okCode !== 1 && okCode !== 2) {
      const reason = `transfer returned no ok:1 or ok:2 (${JSON.stringify(result.value).slice(0, 200)})`;
      return requestsSent === 0 ? this.fail(order, attempt, reason) : this.unknown(order, attempt, reason);
    }
    const mismatch = amountMismatch(order, value.amount);
    const reported = { transaction, reportedAmount: value.amount === undefined ? null : String(value.amount), reportedCurrency: value.currency === undefined ? null : String(value.currency) };
    if (mismatch) {
      // What the provider said is kept on the attempt before anything else moves.
      await moveAttempt(d, attempt, reported);
      await settlePayout(d, { attempt, order, state: 'NEEDS_REVIEW', reason: mismatch, report: reported, orderMove: { by: 'payout-flow' } });
      return { kind: 'needs_review', attemptId: attempt._id, reason: mismatch };
    }
    if (okCode === 1) return this.succeed(order, attempt, reported);
    if (!transaction) return this.unknown(order, attempt, 'transfer answered ok:2 without a transaction id, so the payout cannot be followed');
    return this.accept(order, attempt, reported, value);
  }

  private async succeed(order: Order, attempt: PayoutAttempt, reported: { transaction: string | null; reportedAmount: string | null; reportedCurrency: string | null }): Promise<StartOutcome> {
    const reason = `transfer() answered ok:1${reported.transaction ? ` (transaction ${reported.transaction})` : ''}`;
    const settled = await settlePayout(this.deps, {
      attempt, order, state: 'SUCCEEDED', reason, report: reported,
      orderMove: { by: 'payout-flow', orderNote: reported.transaction ?? order.orderNote },
    });
    if (settled.followed) return { kind: 'needs_review', attemptId: attempt._id, reason: `the order moved to ${settled.order?.status ?? 'nowhere (deleted)'} while transfer() ran` };
    return { kind: 'succeeded', attemptId: attempt._id };
  }

  private async accept(order: Order, attempt: PayoutAttempt, reported: { transaction: string | null; reportedAmount: string | null; reportedCurrency: string | null }, value: TransferValue): Promise<StartOutcome> {
    const d = this.deps;
    // The tx first: the plugin's callback and cron find the payout through it, and the sweep
    // recognises an interrupted ACCEPTED by it.
    await d.store.insertPayoutTx({
      order: order._id, transaction: reported.transaction as string, payoutModule: attempt.plugin, active: true,
      amount: reported.reportedAmount ?? order.outAmount, currency: reported.reportedCurrency ?? order.outSymbol,
      to: value.to === undefined || value.to === null ? null : String(value.to).slice(0, 200), note: null, attemptId: attempt._id,
    });
    crashPoint('after-tx-recorded');
    const moved = await moveAttempt(d, attempt, {
      state: 'ACCEPTED', ...reported, reviewDeadline: iso(d.now() + d.acceptedReviewAfterMs), leaseUntil: null,
    });
    crashPoint('after-attempt-accepted');
    if (!moved) return { kind: 'lost-lease', attemptId: attempt._id };
    audit(d, 'payout.accepted', order, `accepted by the provider as ${reported.transaction}; waiting for its callback or the plugin's cron`);
    d.onEvent?.({ kind: 'accepted', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin });
    return { kind: 'accepted', attemptId: attempt._id };
  }

  private async fail(order: Order, attempt: PayoutAttempt, reason: string): Promise<StartOutcome> {
    const settled = await settlePayout(this.deps, { attempt, order, state: 'FAILED', reason, orderMove: { by: 'payout-flow' } });
    if (settled.followed) return { kind: 'needs_review', attemptId: attempt._id, reason: `the order moved to ${settled.order?.status ?? 'nowhere (deleted)'} while transfer() ran` };
    return { kind: 'failed', attemptId: attempt._id, reason };
  }

  private async unknown(order: Order, attempt: PayoutAttempt, reason: string): Promise<StartOutcome> {
    const d = this.deps;
    await moveAttempt(d, attempt, { state: 'UNKNOWN', reason, reviewDeadline: iso(d.now() + d.unknownReviewAfterMs), leaseUntil: null });
    crashPoint('after-unknown-written');
    audit(d, 'payout.unknown', order, reason, 'error');
    d.onEvent?.({ kind: 'unknown', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin, reason });
    return { kind: 'unknown', attemptId: attempt._id, reason };
  }

  /** history.update hook: the plugin settled its order; settle the live attempt to match. */
  async settleFromPlugin(order: Order, plugin: string): Promise<void> {
    // The plugin's move enqueued the order's IPN in the same store step: send it now, not at the
    // dispatcher's next round.
    this.deps.onIpnEnqueued?.();
    const live = await this.deps.store.getLiveAttempt(order._id);
    if (!live || live.plugin !== plugin) return;
    // A separate owner name: a transfer() of this very process holding the lease must keep it.
    const leased = await this.deps.store.acquireAttemptLease(live._id, `${this.deps.owner}/settle`, 30_000);
    // Held by a transfer() still running: that flow re-reads the order when it returns.
    if (!leased) return;
    await followOrder(this.deps, leased, order);
  }

  /**
   * An administrator resolved a held payout as not paid (or retry): its NEEDS_REVIEW attempt
   * (leased by the caller) becomes FAILED, which is what lets a new attempt start. Before the
   * order moves, unlike any other settlement: the resolution's retry puts the order back in
   * inProgressPayout, and the payout it starts must find this attempt FAILED. The caller moves
   * the order (actor admin: history, IPN, its own audit) and closes the txs for every resolution.
   */
  async settleByAdmin(attempt: PayoutAttempt, order: Order, reason: string): Promise<boolean> {
    if (attempt.state !== 'NEEDS_REVIEW') return false; // only a payout held for review is the administrator's to settle
    return (await settlePayout(this.deps, { attempt, order, state: 'FAILED', reason, orderMove: { by: 'caller' } })).attemptMoved;
  }
}

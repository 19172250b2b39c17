// The payout sweep: runs every few seconds on every server instance and is safe to run anywhere
// at once (each step takes the attempt's lease first, every write is fenced).
//  1. recovery — an attempt whose worker died (lease expired) in PREPARED never dispatched: it
//     fails and the payout starts again; one in DISPATCHING becomes ACCEPTED if its tx was
//     recorded; else, when no request of its transfer() left (no requestLeftAt mark), it fails as
//     never dispatched and the payout starts again; otherwise it may have paid: UNKNOWN — never a
//     blind retry;
//  2. reconciliation — ACCEPTED / UNKNOWN attempts follow their order when the plugin (callback,
//     cron) or an administrator settled it;
//  3. deadlines — ACCEPTED / UNKNOWN attempts not settled by their review deadline go to
//     NEEDS_REVIEW and their order to hold, with the reason;
//  4. orders waiting in inProgressPayout with no live payout attempt are started: on auto-payout
//     routes, and on any route when the last attempt was never dispatched (the administrator or the
//     route already asked for it). A payout the sandbox could not dispatch waits out its backoff
//     (deferral.ts) and is said once, not at every sweep.
import type { Store } from '../store/store.ts';
import type { Order, PayoutAttempt } from '../store/types.ts';
import { audit, iso, moveAttempt } from './payout-steps.ts';
import { followOrder, sendToReview } from './settle.ts';
import { AWAITING_OUTCOME_STATES, IN_DISPATCH_STATES } from '../store/attempt-transitions.ts';
import type { StepDeps } from './payout-steps.ts';
import { crashPoint } from '../testing-seams/crash-hook.ts';
import type { PayoutOrchestrator } from './orchestrator.ts';
import { pollStatus } from './sdk-reconcile.ts';
import { NEVER_DISPATCHED } from './deferral.ts';
import type { ReconcileDeps } from './sdk-reconcile.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';

export interface SweepDeps extends ReconcileDeps {
  orchestrator: PayoutOrchestrator;
  activePlugin(key: string): LoadedPlugin | null;
  /** How often an SDK plugin's `status` is asked about one open payout. */
  statusPollMs: number;
  unknownReviewAfterMs: number;
  acceptedReviewAfterMs: number;
  /** Whether orders of this route pay out automatically when they enter inProgressPayout. */
  autoPayout(routeId: string): Promise<boolean>;
}

export interface SweepReport {
  recovered: number;
  reconciled: number;
  toReview: number;
  started: number;
  /** Orders whose payout could not be dispatched now (plugin unavailable); they stay inProgressPayout. */
  deferred: number;
  polled: number;
}

// When each open attempt was last asked about; per process is enough (a poll is harmless twice).
const lastPolled = new Map<string, number>();
const lastWarned = new Map<string, number>();

export async function sweepPayouts(deps: SweepDeps): Promise<SweepReport> {
  const report: SweepReport = { recovered: 0, reconciled: 0, toReview: 0, started: 0, deferred: 0, polled: 0 };
  const store: Store = deps.store;
  const now = deps.now();

  for (const stale of await store.listAttemptsInStates([...IN_DISPATCH_STATES], 200)) {
    if (!stale.leaseUntil || Date.parse(stale.leaseUntil) > now) continue;
    const attempt = await store.acquireAttemptLease(stale._id, deps.owner, deps.orchestrator.leaseMs);
    if (!attempt) continue;
    crashPoint('sweep-after-lease-taken');
    if (await recover(deps, attempt)) report.recovered++;
  }

  for (const open of await store.listAttemptsInStates([...AWAITING_OUTCOME_STATES], 500)) {
    if (open.leaseUntil && Date.parse(open.leaseUntil) > now) continue;
    const order = await store.getOrder(open.orderId);
    const overdue = open.reviewDeadline !== null && Date.parse(open.reviewDeadline) <= now;
    const orderSettled = order && order.status !== 'inProgressPayout';
    // A paused plugin, or one the sandbox refused recently, is not asked before it takes calls.
    const canPoll = !orderSettled && order !== null && deps.activePlugin(open.plugin)?.description.methods.status === true
      && now - (lastPolled.get(open._id) ?? 0) >= deps.statusPollMs && deps.orchestrator.pluginTakesCalls(open.plugin);
    if (!orderSettled && !overdue && !canPoll) continue;
    const attempt = await store.acquireAttemptLease(open._id, deps.owner, 60_000);
    if (!attempt) continue;
    if (!AWAITING_OUTCOME_STATES.includes(attempt.state)) {
      // Settled between the listing and the lease: nothing left to reconcile.
      await moveAttempt(deps, attempt, { leaseUntil: null });
      continue;
    }
    if (!order) {
      if ((await followOrder(deps, attempt, null)).attemptMoved) report.toReview++;
    } else if (orderSettled) {
      if ((await followOrder(deps, attempt, order)).attemptMoved) report.reconciled++;
      else await moveAttempt(deps, attempt, { leaseUntil: null });
    } else if (canPoll) {
      const polledBefore = lastPolled.get(open._id);
      lastPolled.set(open._id, now);
      const fresh = (await store.getOrder(open.orderId)) ?? order;
      const polled = await pollStatus(deps, attempt, fresh);
      if (polled.kind === 'not-dispatched') {
        // Refused before the plugin ran it: not a poll. The poll stays due (asked again once the
        // plugin's backoff ends) and the refusal counts towards nothing but that backoff; the
        // review deadline is a matter of time and applies as for any open payout.
        if (polledBefore === undefined) lastPolled.delete(open._id);
        else lastPolled.set(open._id, polledBefore);
        deps.orchestrator.deferrals.pluginRefused(open.plugin, polled.reason);
      } else report.polled++;
      if (polled.kind === 'moved') report.reconciled++;
      else if (overdue) {
        await sendToReview(deps, attempt, fresh, `the provider did not confirm the payout by ${attempt.reviewDeadline}`);
        report.toReview++;
      } else await moveAttempt(deps, attempt, { leaseUntil: null });
    } else {
      const reason = attempt.state === 'ACCEPTED'
        ? `the provider accepted the payout (${attempt.transaction}) but it was not finalised by ${attempt.reviewDeadline}`
        : `the payout outcome is unknown (${attempt.reason ?? 'no reason recorded'}) and was not reconciled by ${attempt.reviewDeadline}`;
      await sendToReview(deps, attempt, order, reason);
      report.toReview++;
    }
  }

  for (const order of await store.listOrders({ status: 'inProgressPayout', limit: 200 })) {
    if (!order.payoutModule) continue;
    if (await store.getLiveAttempt(order._id)) continue;
    if (!(await deps.autoPayout(order.routeId)) && !(await lastNeverDispatched(store, order))) continue;
    const outcome = await deps.orchestrator.start(order._id);
    // The orchestrator said why once (payout.deferred); the backoff decides when it is tried again.
    if (outcome.kind === 'deferred') report.deferred++;
    else if (outcome.kind !== 'not-eligible' && outcome.kind !== 'in-progress') report.started++;
    else if (now - (lastWarned.get(order._id) ?? 0) > 10 * 60_000) {
      // An order that cannot start (plugin refused or paused, a payout waiting for review) must
      // not wait silently: say why, every ten minutes.
      lastWarned.set(order._id, now);
      deps.onEvent?.({ kind: 'skipped', orderId: order._id, plugin: order.payoutModule, reason: outcome.reason });
      audit(deps, 'payout.waiting', order, `cannot start: ${outcome.reason}`, 'error');
    }
  }
  for (const id of lastPolled.keys()) if (now - (lastPolled.get(id) ?? 0) > 24 * 3600_000) lastPolled.delete(id);
  return report;
}

/** The order's last attempt ended because the sandbox refused it before transfer() ran. */
async function lastNeverDispatched(store: Store, order: Order): Promise<boolean> {
  const attempts = await store.listAttempts(order._id);
  const last = attempts[attempts.length - 1];
  return last !== undefined && last.state === 'FAILED' && (last.reason ?? '').startsWith(NEVER_DISPATCHED);
}

async function recover(deps: SweepDeps, attempt: PayoutAttempt): Promise<boolean> {
  const order = await deps.store.getOrder(attempt.orderId);
  if (!IN_DISPATCH_STATES.includes(attempt.state)) {
    // Moved on between the listing and the lease (its transfer() finished): nothing to recover.
    await moveAttempt(deps, attempt, { leaseUntil: null });
    return false;
  }
  if (order && order.status !== 'inProgressPayout' && (await followOrder(deps, attempt, order)).attemptMoved) return true;
  if (attempt.state === 'PREPARED') {
    // transfer() never started: nothing can have been sent, so the payout may simply start again.
    await moveAttempt(deps, attempt, { state: 'FAILED', reason: 'the server stopped before transfer() started; retried', leaseUntil: null });
    audit(deps, 'payout.recovered', attempt.orderId, 'interrupted before dispatch; starting again');
    deps.orchestrator.kick(attempt.orderId);
    return true;
  }
  const txs = (await deps.store.findPayoutTxs({ plugin: attempt.plugin, conditions: [{ field: 'order', op: 'eq', value: attempt.orderId }, { field: 'active', op: 'eq', value: true }] }))
    .filter((t) => t.attemptId === attempt._id); // only this attempt's tx says this attempt was accepted
  if (txs.length) {
    const tx = txs[txs.length - 1];
    await moveAttempt(deps, attempt, {
      state: 'ACCEPTED', transaction: tx.transaction, reportedAmount: tx.amount, reportedCurrency: tx.currency,
      reviewDeadline: iso(deps.now() + deps.acceptedReviewAfterMs), leaseUntil: null,
    });
    audit(deps, 'payout.recovered', attempt.orderId, `the server stopped after the provider accepted ${tx.transaction}; waiting for its callback or cron`);
  } else if (attempt.requestLeftAt === null) {
    // No request of transfer() reached a socket: the mark is written before any is handed to one
    // (orchestrator.ts), and this lease's new fence refuses a mark from the dead worker from now on.
    // Nothing can have been sent, nobody said no: the order stays inProgressPayout and the payout
    // starts again, as for a call the sandbox refused (the table's DISPATCHING → FAILED "never
    // dispatched"; the reason's prefix lets the sweep start it on any route).
    const reason = `${NEVER_DISPATCHED}: the server stopped while transfer() was running, before any request left; retried`;
    if (!(await moveAttempt(deps, attempt, { state: 'FAILED', reason, leaseUntil: null }))) return false;
    audit(deps, 'payout.recovered', attempt.orderId, 'interrupted during transfer() before any request left; starting again');
    deps.orchestrator.kick(attempt.orderId);
  } else {
    // A request may have left (requestLeftAt; undefined on records older than the mark).
    const reason = 'the server stopped while transfer() was running, after a request of it left; the payout may have been sent';
    await moveAttempt(deps, attempt, { state: 'UNKNOWN', reason, reviewDeadline: iso(deps.now() + deps.unknownReviewAfterMs), leaseUntil: null });
    audit(deps, 'payout.unknown', attempt.orderId, reason, 'error');
  }
  deps.onEvent?.({ kind: 'recovered', orderId: attempt.orderId, attemptId: attempt._id, plugin: attempt.plugin });
  return true;
}

// How SDK-format plugins finish payouts: they do not call updateHistory. They answer `status`
// (polled by the sweep for ACCEPTED and UNKNOWN attempts) and return `updates` from their webhook.
// The host applies both the same way, with the amount check the provider docs recommend: a paid
// amount that differs from the order is held for review, never done.
import type { InvokeOptions, InvokeResult } from '../sandbox/sandbox-host.ts';
import type { Order, PayoutAttempt } from '../store/types.ts';
import { amountMismatch, audit, followOrder, moveAttempt, moveOrder, sendToReview } from './payout-steps.ts';
import type { StepDeps } from './payout-steps.ts';
import { neverDispatched } from './deferral.ts';

export interface ReconcileDeps extends StepDeps {
  invoke(key: string, method: string, args: unknown, options?: InvokeOptions): Promise<InvokeResult>;
  statusWallMs: number;
}

export interface ProviderReport {
  status: 'paid' | 'failed' | 'pending';
  amount?: string;
  reason?: string;
}

/** Applies what the provider says about the attempt's payout. Returns whether anything moved. */
export async function applyReport(deps: StepDeps, attempt: PayoutAttempt, order: Order, report: ProviderReport, source: string): Promise<boolean> {
  if (report.status === 'pending') return false;
  if (order.status !== 'inProgressPayout') return followOrder(deps, attempt, order);
  if (report.status === 'paid') {
    const mismatch = amountMismatch(order, report.amount);
    if (mismatch) {
      await sendToReview(deps, attempt, order, `${source}: ${mismatch}`);
      return true;
    }
    const { moved, order: now } = await moveOrder(deps, order, 'done', `Paid out by ${attempt.plugin} (${source}${attempt.transaction ? `, ${attempt.transaction}` : ''})`, { payoutStatus: 'done' });
    if (!moved) return now ? followOrder(deps, attempt, now) : false;
    await deactivateTxs(deps, attempt);
    await moveAttempt(deps, attempt, ['DISPATCHING', 'ACCEPTED', 'UNKNOWN'], { state: 'SUCCEEDED', reportedAmount: report.amount ?? attempt.reportedAmount, leaseUntil: null });
    audit(deps, 'payout.succeeded', order, `${source} reports paid`);
    deps.onEvent?.({ kind: 'succeeded', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin });
    return true;
  }
  const reason = `${source} reports failed${report.reason ? `: ${report.reason}` : ''}`;
  const { moved, order: now } = await moveOrder(deps, order, 'errorPayout', `Payout failed: ${reason}`, { payoutStatus: 'error' });
  if (!moved) return now ? followOrder(deps, attempt, now) : false;
  await deactivateTxs(deps, attempt);
  await moveAttempt(deps, attempt, ['DISPATCHING', 'ACCEPTED', 'UNKNOWN'], { state: 'FAILED', reason, leaseUntil: null });
  audit(deps, 'payout.failed', order, reason);
  deps.onEvent?.({ kind: 'failed', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin, reason });
  return true;
}

async function deactivateTxs(deps: StepDeps, attempt: PayoutAttempt): Promise<void> {
  // updatePayoutTx changes one row (updateOne semantics): repeat until none is left active.
  for (let i = 0; i < 100; i++) {
    const r = await deps.store.updatePayoutTx({ plugin: attempt.plugin, conditions: [{ field: 'order', op: 'eq', value: attempt.orderId }, { field: 'active', op: 'eq', value: true }] }, { active: false });
    if (r.matched === 0) return;
  }
}

export type PollOutcome =
  | { kind: 'moved' | 'unchanged' }
  // The sandbox refused the call before the plugin's `status` ran (NOT_DISPATCHED): not a poll.
  | { kind: 'not-dispatched'; reason: string };

/** Asks an SDK plugin's `status` handler about an ACCEPTED or UNKNOWN attempt (leased by the caller). */
export async function pollStatus(deps: ReconcileDeps, attempt: PayoutAttempt, order: Order): Promise<PollOutcome> {
  const result = await deps.invoke(attempt.plugin, 'status', [{
    reference: attempt.transaction, orderId: order._id, orderUid: order.uid, amount: order.outAmount, currency: order.outSymbol,
  }], { wallMs: deps.statusWallMs });
  if (!result.ok) {
    const requests = Math.max(result.ctx.counters.outboundRequests, result.ctx.counters.requestsStarted);
    // Not audited per order: the plugin's pause is the sandbox's record, and the caller backs off.
    if (neverDispatched(result.error, requests)) return { kind: 'not-dispatched', reason: `${result.error.kind}: ${result.error.message}` };
    audit(deps, 'payout.status', order, `status check failed: ${result.error.message}`, 'error');
    return { kind: 'unchanged' };
  }
  return { kind: (await applyReport(deps, attempt, order, result.value as ProviderReport, 'status check')) ? 'moved' : 'unchanged' };
}

/** Applies the `updates` an SDK plugin's webhook returned, for its own payouts only. */
export async function applyWebhookUpdates(deps: StepDeps, plugin: string, updates: { reference: string; status: string; amount?: string }[]): Promise<number> {
  let applied = 0;
  for (const u of updates) {
    if (u.status !== 'paid' && u.status !== 'failed') continue;
    const [tx] = await deps.store.findPayoutTxs({ plugin, conditions: [{ field: 'transaction', op: 'eq', value: u.reference }, { field: 'active', op: 'eq', value: true }], limit: 1 });
    if (!tx) {
      audit(deps, 'payout.webhook', `(unknown reference)`, `plugin ${plugin} reported ${u.status} for unknown reference ${u.reference.slice(0, 80)}`, 'denied');
      continue;
    }
    const order = await deps.store.getOrder(tx.order);
    const live = order ? await deps.store.getLiveAttempt(order._id) : null;
    // An update about an earlier attempt's payout must never settle the current one.
    if (!order || !live || live.plugin !== plugin || (tx.attemptId !== null && tx.attemptId !== live._id)) {
      audit(deps, 'payout.webhook', tx.order, `plugin ${plugin} reported ${u.status} for ${u.reference.slice(0, 80)}, which is not the payout in progress; not applied`, 'denied');
      continue;
    }
    const attempt = await deps.store.acquireAttemptLease(live._id, `${deps.owner}/webhook`, 30_000);
    if (!attempt) continue;
    if (await applyReport(deps, attempt, order, { status: u.status, amount: u.amount }, 'provider webhook')) applied++;
    else await moveAttempt(deps, attempt, ['ACCEPTED', 'UNKNOWN', 'DISPATCHING'], { leaseUntil: null });
  }
  return applied;
}

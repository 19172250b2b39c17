// How SDK-format plugins finish payouts: they do not call updateHistory. They answer `status`
// (polled by the sweep for ACCEPTED and UNKNOWN attempts) and return `updates` from their webhook.
// The host applies both the same way, with the amount check the provider docs recommend: a paid
// amount that differs from the order is held for review, never done.
import type { InvokeOptions, InvokeResult } from '../sandbox/sandbox-host.ts';
import type { Order, PayoutAttempt } from '../store/types.ts';
import { amountMismatch, audit, moveAttempt } from './payout-steps.ts';
import { followOrder, settlePayout } from './settle.ts';
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
  if (order.status !== 'inProgressPayout') return (await followOrder(deps, attempt, order)).attemptMoved;
  const mismatch = report.status === 'paid' ? amountMismatch(order, report.amount) : null;
  // The host owns an SDK plugin's txs: a settled payout's tx is closed here, one held for review
  // stays for the administrator's resolution.
  const settled = mismatch
    ? await settlePayout(deps, { attempt, order, state: 'NEEDS_REVIEW', reason: `${source}: ${mismatch}`, orderMove: { by: 'payout-flow' } })
    : report.status === 'paid'
      ? await settlePayout(deps, {
        attempt, order, state: 'SUCCEEDED', reason: `${source} reports paid`, report: { reportedAmount: report.amount ?? attempt.reportedAmount }, closeTxs: true,
        orderMove: { by: 'payout-flow', comment: `Paid out by ${attempt.plugin} (${source}${attempt.transaction ? `, ${attempt.transaction}` : ''})` },
      })
      : await settlePayout(deps, {
        attempt, order, state: 'FAILED', reason: `${source} reports failed${report.reason ? `: ${report.reason}` : ''}`, closeTxs: true, orderMove: { by: 'payout-flow' },
      });
  return settled.attemptMoved || !settled.followed;
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
    else await moveAttempt(deps, attempt, { leaseUntil: null });
  }
  return applied;
}

// The one settle step (design.md §6): how every path ends a payout — the orchestrator after
// transfer(), the SDK status poll and webhook, the plugin's updateHistory, the sweep's recovery,
// reconciliation and review deadlines, and an administrator's resolution. In this order:
//  1. the order moves (status compare-and-set from inProgressPayout, history entry and IPN in one
//     store step, the IPN dispatcher woken) — unless the caller moves it: the plugin's
//     updateHistory already did, an administrator's resolution does right after. If the order
//     moved elsewhere meanwhile, what it says wins and the attempt follows it instead;
//  2. optionally the order's active payout txs are closed, so a late callback or cron of this
//     payout finds nothing to settle;
//  3. the attempt moves from the state its lease holder saw, fenced, to SUCCEEDED, FAILED or
//     NEEDS_REVIEW (the attempt table must allow it; the store refuses anything else);
//  4. one audit record `payout.succeeded | payout.failed | payout.needs_review` and one event.
// Order first, attempt second: after a crash in between, the sweep settles the attempt from its
// order. The administrator's resolution is the one exception (attempt first, see admin-orders).
import type { Order, PayoutAttempt } from '../store/types.ts';
import type { AttemptPatch } from '../store/store.ts';
import { ATTEMPT_STATE_FOR_ORDER, ORDER_FOR_ATTEMPT_STATE, canMoveAttempt } from '../store/attempt-transitions.ts';
import type { SettledAttemptState } from '../store/attempt-transitions.ts';
import { audit, moveAttempt, moveOrder } from './payout-steps.ts';
import type { PayoutEvent, StepDeps } from './payout-steps.ts';
import { crashPoint } from '../testing-seams/crash-hook.ts';

/** Who moves the order, and how. */
export type OrderMove =
  /**
   * The payout flow decides: the order moves here, first, as actor system. `comment` defaults to
   * "Paid out by <plugin>" / "Payout failed: <reason>" / "Payout needs review: <reason>"; `orderNote`
   * (e.g. the provider's transaction) is left as it is unless given.
   */
  | { by: 'payout-flow'; comment?: string; orderNote?: string | null }
  /**
   * The order is (or is about to be) moved by someone else: the plugin's updateHistory, an
   * administrator's hold, or an administrator's resolution right after this step. Only the
   * attempt, txs, audit and event are this step's.
   */
  | { by: 'caller' };

export interface Settlement {
  /** Leased by the caller: every write is fenced by it, and it moves from the state seen here. */
  attempt: PayoutAttempt;
  /** The order as the caller last read it; null when it no longer exists. */
  order: Order | null;
  state: SettledAttemptState;
  /** Why: the attempt's reason, the audit summary, the hold reason. */
  reason: string;
  orderMove: OrderMove;
  /** What the provider reported, kept on the attempt. */
  report?: Pick<AttemptPatch, 'transaction' | 'reportedAmount' | 'reportedCurrency'>;
  /**
   * Close the order's active payout txs (SDK plugins: the host owns them). Legacy plugins close
   * their own from their callback or cron, and a payout held for review keeps its tx for the
   * administrator's resolution, which closes it.
   */
  closeTxs?: boolean;
}

export interface SettleResult {
  /** The state the payout ended in: the one asked for, or the one its order says; null when the order says nothing an attempt can follow. */
  state: SettledAttemptState | null;
  /** The order had moved elsewhere meanwhile (the plugin, an administrator): the attempt followed it. */
  followed: boolean;
  /** The attempt was written; false when it had moved on or its lease was lost (the sweep then settles it from the order). */
  attemptMoved: boolean;
  /** The order afterwards, as far as this step knows it. */
  order: Order | null;
}

const EVENT: Record<SettledAttemptState, PayoutEvent['kind']> = { SUCCEEDED: 'succeeded', FAILED: 'failed', NEEDS_REVIEW: 'needs_review' };
const CAPABILITY: Record<SettledAttemptState, string> = { SUCCEEDED: 'payout.succeeded', FAILED: 'payout.failed', NEEDS_REVIEW: 'payout.needs_review' };
const PAYOUT_STATUS: Record<SettledAttemptState, string> = { SUCCEEDED: 'done', FAILED: 'error', NEEDS_REVIEW: 'review' };

export async function settlePayout(deps: StepDeps, s: Settlement): Promise<SettleResult> {
  let order = s.order;
  let orderMovedHere = false;
  if (s.orderMove.by === 'payout-flow' && order) {
    const to = ORDER_FOR_ATTEMPT_STATE[s.state];
    const { moved, order: now } = await moveOrder(deps, order, to, s.orderMove.comment ?? defaultComment(s), {
      payoutStatus: PAYOUT_STATUS[s.state],
      ...(s.orderMove.orderNote !== undefined ? { orderNote: s.orderMove.orderNote } : {}),
      ...(s.state === 'NEEDS_REVIEW' ? { holdReason: s.reason } : {}),
    });
    crashPoint(s.state === 'NEEDS_REVIEW' ? 'after-review-hold' : 'after-order-settled');
    // Settled or held meanwhile by the plugin's callback or an administrator: what the order says wins.
    if (!moved && now?.status !== to) return { ...(await followOrder(deps, s.attempt, now)), followed: true };
    orderMovedHere = moved;
    order = now ?? order;
  }
  if (s.closeTxs) await closeActiveTxs(deps, s.attempt);
  const written = canMoveAttempt(s.attempt.state, s.state)
    ? await moveAttempt(deps, s.attempt, { state: s.state, reason: s.reason, leaseUntil: null, ...s.report })
    : null;
  if (written) crashPoint('after-attempt-settled');
  // The order's move is the payout's outcome even when another worker settles the attempt.
  if (written || orderMovedHere) {
    const orderId = order?._id ?? s.attempt.orderId;
    audit(deps, CAPABILITY[s.state], order ?? orderId, s.reason);
    deps.onEvent?.({ kind: EVENT[s.state], orderId, attemptId: s.attempt._id, plugin: s.attempt.plugin, reason: s.reason });
  }
  return { state: s.state, followed: false, attemptMoved: written !== null, order };
}

/** The order already says how the payout ended (the plugin's updateHistory, an administrator): the attempt follows it. */
export async function followOrder(deps: StepDeps, attempt: PayoutAttempt, order: Order | null): Promise<SettleResult> {
  if (!order) return settlePayout(deps, { attempt, order: null, state: 'NEEDS_REVIEW', reason: 'the order no longer exists', orderMove: { by: 'caller' } });
  const state = ATTEMPT_STATE_FOR_ORDER[order.status];
  if (!state) return { state: null, followed: false, attemptMoved: false, order };
  const reason = state === 'NEEDS_REVIEW' ? order.holdReason ?? 'the order was put on hold' : `the order is ${order.status}`;
  return settlePayout(deps, { attempt, order, state, reason, orderMove: { by: 'caller' } });
}

/** Holds the order for a person to decide, with the reason, and marks the attempt NEEDS_REVIEW. */
export function sendToReview(deps: StepDeps, attempt: PayoutAttempt, order: Order, reason: string): Promise<SettleResult> {
  return settlePayout(deps, { attempt, order, state: 'NEEDS_REVIEW', reason, orderMove: { by: 'payout-flow' } });
}

/** Marks the order's active payout txs of the attempt's plugin inactive. */
export async function closeActiveTxs(deps: StepDeps, attempt: PayoutAttempt): Promise<void> {
  // updatePayoutTx changes one row (updateOne semantics): repeat until none is left active.
  for (let i = 0; i < 100; i++) {
    const r = await deps.store.updatePayoutTx({ plugin: attempt.plugin, conditions: [{ field: 'order', op: 'eq', value: attempt.orderId }, { field: 'active', op: 'eq', value: true }] }, { active: false });
    if (r.matched === 0) return;
  }
}

function defaultComment(s: Settlement): string {
  if (s.state === 'SUCCEEDED') return `Paid out by ${s.attempt.plugin}${s.report?.transaction ? ` (transaction ${s.report.transaction})` : ''}`;
  return s.state === 'FAILED' ? `Payout failed: ${s.reason}` : `Payout needs review: ${s.reason}`;
}

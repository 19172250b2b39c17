// The small, shared moves of the payout flow: settling an attempt under its fence, moving the
// order with its history and IPN, and sending a payout to review. Both the orchestrator (which
// runs transfer()) and the sweep (which recovers and reconciles) use these, so the rules of
// design.md §6 live in one place.
import BigNumber from 'bignumber.js';
import type { AttemptPatch, Store } from '../store/store.ts';
import type { AttemptState, NewIpn, Order, OrderStatus, PayoutAttempt } from '../store/types.ts';
import type { AuditLog } from '../../host-api/audit.ts';

import { crashPoint } from './crash-hook.ts';

export interface PayoutEvent {
  kind: 'started' | 'succeeded' | 'accepted' | 'failed' | 'unknown' | 'needs_review' | 'recovered' | 'skipped' | 'deferred' | 'error';
  orderId: string;
  attemptId?: string;
  plugin?: string;
  reason?: string;
}

export interface StepDeps {
  store: Store;
  audit: AuditLog;
  buildIpn(order: Order, status: OrderStatus): NewIpn | null;
  onIpnEnqueued?(): void;
  owner: string;
  now(): number;
  onEvent?(e: PayoutEvent): void;
}

export const SETTLED_BY_ORDER: Partial<Record<OrderStatus, AttemptState>> = {
  done: 'SUCCEEDED',
  errorPayout: 'FAILED',
  hold: 'NEEDS_REVIEW',
};

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Reported vs ordered amount: equal as numbers, or unknown (not reported). */
export function amountMismatch(order: Order, reported: unknown): string | null {
  if (reported === undefined || reported === null || reported === '') return null;
  const r = new BigNumber(String(reported));
  if (!r.isFinite()) return `the plugin reported an amount that is not a number (${String(reported).slice(0, 40)})`;
  if (!r.eq(new BigNumber(order.outAmount))) return `the provider reported ${r.toFixed()} but the order pays out ${order.outAmount}`;
  return null;
}

export function audit(deps: StepDeps, capability: string, order: Order | string, summary: string, decision: 'allowed' | 'denied' | 'error' = 'allowed'): void {
  const orderId = typeof order === 'string' ? order : order._id;
  const plugin = typeof order === 'string' ? null : order.payoutModule;
  deps.audit.record({ plugin, actor: 'system', callId: null, capability, decision, rule: null, summary: `order ${orderId}: ${summary}`, durationMs: 0 });
}

/** Moves an attempt under its fence; null when another worker holds it or it moved on. */
export function moveAttempt(deps: StepDeps, attempt: PayoutAttempt, from: AttemptState[], patch: AttemptPatch): Promise<PayoutAttempt | null> {
  return deps.store.updateAttempt(attempt._id, attempt.fence, from, patch);
}

/**
 * Order move made by the payout flow (actor 'system'): status compare-and-set, history and IPN
 * in one store step. Returns the order as it is afterwards, moved or not.
 */
export async function moveOrder(deps: StepDeps, order: Order, to: OrderStatus, comment: string, patch: { payoutStatus?: string | null; orderNote?: string | null; holdReason?: string | null } = {}): Promise<{ moved: boolean; order: Order | null }> {
  const result = await deps.store.transitionOrder({
    orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: to, patch,
    history: { actor: 'system', comment, payoutStatus: patch.payoutStatus ?? null },
    ipn: deps.buildIpn({ ...order, status: to }, to),
  });
  if (result.ok) {
    if (result.ipn) deps.onIpnEnqueued?.();
    return { moved: true, order: result.order };
  }
  return { moved: false, order: result.current };
}

/** Holds the order for a person to decide, then marks the attempt NEEDS_REVIEW. */
export async function sendToReview(deps: StepDeps, attempt: PayoutAttempt, order: Order, reason: string): Promise<void> {
  const { moved, order: now } = await moveOrder(deps, order, 'hold', `Payout needs review: ${reason}`, { payoutStatus: 'review', holdReason: reason });
  crashPoint('after-review-hold');
  if (!moved && now && now.status !== 'hold') {
    // The order moved on meanwhile (settled by the plugin or an admin): follow it instead.
    await followOrder(deps, attempt, now);
    return;
  }
  await moveAttempt(deps, attempt, ['PREPARED', 'DISPATCHING', 'ACCEPTED', 'UNKNOWN'], { state: 'NEEDS_REVIEW', reason, leaseUntil: null });
  audit(deps, 'payout.needs_review', order, reason);
  deps.onEvent?.({ kind: 'needs_review', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin, reason });
}

/** The order already says how the payout ended (plugin callback, admin): settle the attempt to match. */
export async function followOrder(deps: StepDeps, attempt: PayoutAttempt, order: Order): Promise<boolean> {
  const state = SETTLED_BY_ORDER[order.status];
  if (!state) return false;
  const reason = state === 'NEEDS_REVIEW' ? order.holdReason ?? 'the order was put on hold' : `the order is ${order.status}`;
  const moved = await moveAttempt(deps, attempt, ['PREPARED', 'DISPATCHING', 'ACCEPTED', 'UNKNOWN'], { state, reason, leaseUntil: null });
  if (moved) {
    crashPoint('after-attempt-settled');
    deps.onEvent?.({ kind: state === 'SUCCEEDED' ? 'succeeded' : state === 'FAILED' ? 'failed' : 'needs_review', orderId: order._id, attemptId: attempt._id, plugin: attempt.plugin, reason });
  }
  return moved !== null;
}

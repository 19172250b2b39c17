// The small, shared moves of the payout flow: moving an attempt under its fence, moving the
// order with its history and IPN, the audit record. Settling a payout combines them in one step
// (settle.ts); the states an attempt may move between are in attempt-transitions.ts.
import BigNumber from 'bignumber.js';
import type { AttemptPatch, Store } from '../store/store.ts';
import type { NewIpn, Order, OrderStatus, PayoutAttempt } from '../store/types.ts';
import type { AuditLog } from '../../host-api/audit.ts';

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

/**
 * Moves an attempt under its fence, from the state its lease holder saw (the attempt table must
 * allow the move; the store refuses any other). Null when another worker holds it or it moved on.
 */
export function moveAttempt(deps: StepDeps, attempt: PayoutAttempt, patch: AttemptPatch): Promise<PayoutAttempt | null> {
  return deps.store.updateAttempt(attempt._id, attempt.fence, [attempt.state], patch);
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

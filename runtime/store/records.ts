// How a record is built from its input, shared by the adapters so that both stores produce the same
// shapes, defaults and decisions (which transition is refused and why, what `live` is).
import { StoreConflictError } from './errors.ts';
import { LIVE_ATTEMPT_STATES } from './types.ts';
import type {
  AttemptState, IpnMessage, NewIpn, NewOrder, Order, OrderHistoryEntry, PayoutAttempt,
} from './types.ts';
import type { AttemptPatch, NewAttempt, OrderTransition, TransitionResult } from './store.ts';

export const isLiveState = (state: AttemptState): boolean => LIVE_ATTEMPT_STATES.includes(state);

/** What a delivery costs the inbox quota when recorded: its body, headers and query as stored (UTF-8 bytes). */
export function webhookBytes(d: { body: string; headers: Record<string, string>; query: Record<string, string> }): number {
  return Buffer.byteLength(d.body) + Buffer.byteLength(JSON.stringify(d.headers)) + Buffer.byteLength(JSON.stringify(d.query));
}

/** What finishing a delivery adds to it: the answer and the error kept with it. */
export function webhookResultBytes(r: { responseBody: string | null; error: string | null }): number {
  return Buffer.byteLength(r.responseBody ?? '') + Buffer.byteLength(r.error ?? '');
}

export const isoAt = (ms: number): string => new Date(ms).toISOString();

/** Code-unit order, the order SQLite's BINARY collation and MongoDB's simple collation use for ids and times. */
export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** lastError of an IPN whose worker vanished during its last allowed attempt. */
/** The claimer recorded for IPN claims made without an owner (tests, tools): never reclaimed. */
export const ANONYMOUS_IPN_OWNER = '(anonymous)';
export const LAST_ATTEMPT_EXPIRED = 'the delivery was interrupted (its worker stopped before reporting back) too many times';
/**
 * A claim whose worker vanished (crash, kill) is claimed again even on its last allowed attempt:
 * a crash is not the merchant failing, and the IPN must not be lost. Bounded, so a message that
 * keeps killing its worker ends as failed.
 */
export const MAX_INTERRUPTED_DELIVERIES = 5;

export function buildOrder(id: string, uid: number, input: NewOrder, now: string): Order {
  return { _id: id, uid, ...input, version: 1, createdAt: now, updatedAt: now };
}

type Refusal = Extract<TransitionResult, { ok: false }>['reason'];

/** Module before status: an order that is not the caller's must not reveal whether its status matched. */
export function refuseTransition(order: Order | null, t: OrderTransition): Refusal | null {
  if (!order) return 'not_found';
  if (t.expectPayoutModule !== undefined && order.payoutModule !== t.expectPayoutModule) return 'module_mismatch';
  if (!t.expectStatus.includes(order.status)) return 'status_mismatch';
  return null;
}

export interface AppliedTransition {
  order: Order;
  history: OrderHistoryEntry;
  ipn: IpnMessage | null;
}

export function applyTransition(
  before: Order, t: OrderTransition, now: string, ids: { history: string; ipn: string },
): AppliedTransition {
  const order: Order = { ...before, ...t.patch, status: t.toStatus, version: before.version + 1, updatedAt: now };
  const history: OrderHistoryEntry = {
    _id: ids.history, orderId: before._id, at: now, fromStatus: before.status, toStatus: t.toStatus,
    actor: t.history.actor,
    payoutStatus: t.history.payoutStatus !== undefined ? t.history.payoutStatus : order.payoutStatus,
    comment: t.history.comment,
  };
  return { order, history, ipn: t.ipn ? buildIpn(ids.ipn, t.ipn, now) : null };
}

export function buildIpn(id: string, input: NewIpn, now: string): IpnMessage {
  return {
    _id: id, orderId: input.orderId, status: input.status, url: input.url, fields: input.fields,
    state: 'pending', attempts: 0, maxAttempts: input.maxAttempts, nextAttemptAt: now, leaseUntil: null,
    lastError: null, createdAt: now, updatedAt: now,
  };
}

export function buildAttempt(id: string, a: NewAttempt, nowMs: number): PayoutAttempt {
  const now = isoAt(nowMs);
  return {
    _id: id, orderId: a.orderId, plugin: a.plugin, state: 'PREPARED', live: true, fence: 1,
    leaseOwner: a.owner, leaseUntil: isoAt(nowMs + a.leaseMs), requestsSent: 0, requestLeftAt: null, callId: null, transaction: null,
    reportedAmount: null, reportedCurrency: null, reason: null, reviewDeadline: null, createdAt: now, updatedAt: now,
  };
}

/** The columns an attempt patch writes, `live` included whenever the state changes. */
export function attemptChanges(patch: AttemptPatch, now: string): Partial<PayoutAttempt> {
  const changes: Partial<PayoutAttempt> = { ...patch, updatedAt: now };
  if (patch.state !== undefined) changes.live = isLiveState(patch.state);
  return changes;
}

/** The same refusal from both adapters when a plugin record's compare-and-set loses. */
export function revisionConflict(key: string, expected: number, stored: number): StoreConflictError {
  return new StoreConflictError('putPluginRecord', `plugin record ${key} is at revision ${stored}, not ${expected}: ` +
    'it changed since it was read (another install, approval or rollback); read it again and retry');
}

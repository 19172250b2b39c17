// The one place payout-sandbox persists anything. The server, the orchestrator and the host API
// depend on this interface only; `sqlite-store.ts` and `mongo-store.ts` implement it and both run
// the same contract suite (test/runtime/store/contract.ts).
import type {
  Order, NewOrder, OrderStatus, OrderHistoryEntry, PayoutAttempt, AttemptState, PayoutTx,
  PluginConfigEntry, NetworkGrant, AuditRecord, NewAuditRecord, AuditQuery, IpnMessage, NewIpn,
  WebhookDelivery, NewWebhookDelivery, InboxState, Route, NewRoute, PluginLogLine,
} from './types.ts';

/** Fields of a payout tx a plugin may filter on. `payoutModule` is never plugin-controlled. */
export const TX_FILTER_FIELDS = [
  '_id', 'order', 'transaction', 'active', 'amount', 'currency', 'to', 'note', 'createdAt', 'updatedAt',
] as const;
export type TxField = (typeof TX_FILTER_FIELDS)[number];
export type TxScalar = string | number | boolean | null;
export type TxOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'nin';
export interface TxCondition { field: TxField; op: TxOp; value: TxScalar | TxScalar[] }
/** Conditions are AND-ed, and always AND-ed with `payoutModule = plugin` by the adapter. */
export interface TxQuery {
  plugin: string;
  conditions: TxCondition[];
  sort?: { field: TxField; direction: 1 | -1 }[];
  limit?: number;
  skip?: number;
}
/** What a plugin may change on its own tx rows. */
export interface TxPatch { active?: boolean; note?: string | null }

export interface OrderTransition {
  orderId: string;
  /** Compare-and-set: the write happens only if the stored status is one of these. */
  expectStatus: OrderStatus[];
  /** When set, the write happens only if the order's payoutModule equals it. */
  expectPayoutModule?: string;
  toStatus: OrderStatus;
  patch?: { payoutStatus?: string | null; orderNote?: string | null; holdReason?: string | null; payoutModule?: string | null };
  history: { actor: string; comment: string | null; payoutStatus?: string | null };
  /** Enqueued in the same atomic step (the order's IPN, if it has an ipnUrl). */
  ipn?: NewIpn | null;
}
export type TransitionResult =
  | { ok: true; order: Order; history: OrderHistoryEntry; ipn: IpnMessage | null }
  | { ok: false; reason: 'not_found' | 'status_mismatch' | 'module_mismatch'; current: Order | null };

export interface NewAttempt { orderId: string; plugin: string; owner: string; leaseMs: number }
export interface AttemptPatch {
  state?: AttemptState;
  requestsSent?: number;
  transaction?: string | null;
  reportedAmount?: string | null;
  reportedCurrency?: string | null;
  reason?: string | null;
  reviewDeadline?: string | null;
  leaseUntil?: string | null;
}

export interface IpnResult {
  state: 'sent' | 'failed' | 'pending';
  lastError: string | null;
  nextAttemptAt?: string;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongodb';
  /** Creates tables / indexes and runs migrations. Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  // orders
  createOrder(order: NewOrder): Promise<Order>;
  getOrder(id: string): Promise<Order | null>;
  getOrderByUid(uid: number): Promise<Order | null>;
  getOrders(ids: string[]): Promise<Order[]>;
  listOrders(q: { status?: OrderStatus; payoutModule?: string; limit?: number; beforeUid?: number }): Promise<Order[]>;
  /** Status compare-and-set + history entry + IPN enqueue, all or nothing. */
  transitionOrder(t: OrderTransition): Promise<TransitionResult>;
  getOrderHistory(orderId: string): Promise<OrderHistoryEntry[]>;

  // payout attempts (design.md §6)
  /** Creates a PREPARED attempt holding a lease, or returns null when the order already has a live one. */
  createAttempt(a: NewAttempt): Promise<PayoutAttempt | null>;
  getAttempt(id: string): Promise<PayoutAttempt | null>;
  getLiveAttempt(orderId: string): Promise<PayoutAttempt | null>;
  listAttempts(orderId: string): Promise<PayoutAttempt[]>;
  listAttemptsInStates(states: AttemptState[], limit?: number): Promise<PayoutAttempt[]>;
  /**
   * Writes only if `fence` equals the stored fence and the stored state is in `fromStates`.
   * Returns the updated attempt, or null when the fence is stale or the state moved on.
   */
  updateAttempt(id: string, fence: number, fromStates: AttemptState[], patch: AttemptPatch): Promise<PayoutAttempt | null>;
  /** Takes the lease when it is free, expired, or already ours; bumps the fence. Null otherwise. */
  acquireAttemptLease(id: string, owner: string, leaseMs: number): Promise<PayoutAttempt | null>;

  // payout txs (the platform's OrderPayoutTxs)
  insertPayoutTx(tx: Omit<PayoutTx, '_id' | 'createdAt' | 'updatedAt'>): Promise<PayoutTx>;
  findPayoutTxs(q: TxQuery): Promise<PayoutTx[]>;
  countPayoutTxs(q: TxQuery): Promise<number>;
  /** Updates the first matching row (updateOne semantics). */
  updatePayoutTx(q: TxQuery, patch: TxPatch): Promise<{ matched: number; modified: number }>;

  // plugin config (secret values arrive here already encrypted)
  getConfig(plugin: string, key: string): Promise<PluginConfigEntry | null>;
  listConfig(plugin: string): Promise<PluginConfigEntry[]>;
  setConfig(entry: Omit<PluginConfigEntry, 'updatedAt'>): Promise<PluginConfigEntry>;

  // network grants
  listGrants(plugin?: string): Promise<NetworkGrant[]>;
  upsertGrant(g: Omit<NetworkGrant, 'updatedAt'>): Promise<NetworkGrant>;
  deleteGrant(plugin: string, origin: string): Promise<void>;

  // audit
  appendAudit(records: NewAuditRecord[]): Promise<void>;
  queryAudit(q: AuditQuery): Promise<AuditRecord[]>;

  // IPN outbox (rows are created by transitionOrder or enqueueIpn)
  enqueueIpn(ipn: NewIpn): Promise<IpnMessage>;
  /** Leases due messages: pending with nextAttemptAt <= now, or sending with an expired lease. */
  claimDueIpns(limit: number, leaseMs: number): Promise<IpnMessage[]>;
  completeIpn(id: string, result: IpnResult): Promise<void>;
  listIpns(orderId: string): Promise<IpnMessage[]>;

  // webhook inbox
  recordWebhook(d: NewWebhookDelivery): Promise<WebhookDelivery>;
  finishWebhook(id: string, r: { state: InboxState; responseStatus: number | null; responseBody: string | null; error: string | null }): Promise<void>;
  listWebhooks(q: { plugin?: string; limit?: number }): Promise<WebhookDelivery[]>;

  // routes (exchange directions)
  createRoute(r: NewRoute): Promise<Route>;
  getRoute(id: string): Promise<Route | null>;
  listRoutes(): Promise<Route[]>;
  updateRoute(id: string, patch: Partial<NewRoute>): Promise<Route | null>;

  // named leases (cron jobs, sweeps) so several servers on one database never run a job twice
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;

  // plugin log
  appendPluginLog(lines: Omit<PluginLogLine, '_id'>[]): Promise<void>;
  queryPluginLog(q: { plugin: string; limit?: number; since?: string }): Promise<PluginLogLine[]>;
}

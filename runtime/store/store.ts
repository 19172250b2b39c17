// The one place payout-sandbox persists anything. The server, the orchestrator and the host API
// depend on this interface only; `sqlite-store.ts` and `mongo-store.ts` implement it and both run
// the same contract suite (test/runtime/store/contract.ts). `open-store.ts` opens one from a URL.
// A bad argument throws StoreInputError and a write that would break a database invariant throws
// StoreConflictError (errors.ts), both before anything is written; any other error is a database fault.
import type {
  Order, NewOrder, OrderStatus, OrderHistoryEntry, PayoutAttempt, AttemptState, PayoutTx,
  PluginConfigEntry, NetworkGrant, AuditRecord, NewAuditRecord, AuditQuery, IpnMessage, NewIpn,
  WebhookDelivery, NewWebhookDelivery, InboxState, Route, NewRoute, PluginLogLine, PluginRecord,
  PluginEngineChoice,
} from './types.ts';

/** Fields of a payout tx a plugin may filter on. `payoutModule` is never plugin-controlled. */
export const TX_FILTER_FIELDS = [
  '_id', 'order', 'transaction', 'active', 'amount', 'currency', 'to', 'note', 'createdAt', 'updatedAt',
] as const;
export type TxField = (typeof TX_FILTER_FIELDS)[number];
/**
 * Every filterable field holds a string (`to` and `note` may be null) except `active` (boolean), so a
 * value must have the field's type: a number is refused rather than compared differently by SQLite and
 * MongoDB. Strings compare by code unit (`amount` too: it is a decimal string, not a number);
 * `createdAt`/`updatedAt` values are read as ISO-8601 times.
 */
export type TxScalar = string | boolean | null;
/**
 * MongoDB semantics in both stores: `ne`/`nin` also match null; `in`/`nin` take an array and may list
 * null; `lt/lte/gt/gte` never match null and are refused for `active`; `in: []` matches nothing.
 */
export type TxOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'nin';
export interface TxCondition { field: TxField; op: TxOp; value: TxScalar | TxScalar[] }
/** Conditions are AND-ed, and always AND-ed with `payoutModule = plugin` by the adapter. */
export interface TxQuery {
  plugin: string;
  conditions: TxCondition[];
  /** `_id` ascending is appended as the last key, so ties and "no sort" have one defined order. */
  sort?: { field: TxField; direction: 1 | -1 }[];
  /** 0 or absent: no limit (MongoDB's meaning). */
  limit?: number;
  skip?: number;
}
/** What a plugin may change on its own tx rows. */
export interface TxPatch { active?: boolean; note?: string | null }

/**
 * What the retention worker may delete (README "Retention"): the webhook inbox (by receivedAt), the
 * audit log and plugin log (by at), and IPN messages that reached a final state (by updatedAt). Never
 * orders, their history, payout attempts, payout txs, or an IPN that is still pending or sending.
 */
export const RETAINED_KINDS = ['webhooks', 'audit', 'pluginLog', 'ipnHistory'] as const;
export type RetainedKind = (typeof RETAINED_KINDS)[number];
/** Kinds with a per-plugin row quota the worker enforces by deleting a plugin's oldest rows. */
export type PluginQuotaKind = 'audit' | 'pluginLog';

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

/** A merchant's Idempotency-Key and a digest of the request it came with (never the request itself). */
export interface IdempotencyKey { key: string; fingerprint: string }
export type OnceCreated = { outcome: 'created' | 'replayed'; order: Order } | { outcome: 'conflict' };

/** How many leases reclaimLeasesOf ended, by kind. */
export interface ReclaimedLeases { ipns: number; attempts: number; named: number }

export interface IpnResult {
  /** 'pending' schedules a retry; it becomes 'failed' when the message has used maxAttempts. */
  state: 'sent' | 'failed' | 'pending';
  lastError: string | null;
  /** Required when state is 'pending'. */
  nextAttemptAt?: string;
  /**
   * The `attempts` value of the claimed message. Pass it: the completion then applies only if no other
   * worker has re-claimed the message since (its lease expired), so a slow worker cannot overwrite the
   * outcome of the delivery that replaced it.
   */
  attempt?: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'mongodb';
  /** Creates tables / indexes and runs migrations. Idempotent. */
  init(): Promise<void>;
  close(): Promise<void>;

  // orders
  createOrder(order: NewOrder): Promise<Order>;
  /**
   * createOrder under a merchant's idempotency key, in one step: the first call creates the order and
   * remembers key → (fingerprint, order); a later call with the key gets that order back ('replayed')
   * when its fingerprint matches, 'conflict' (nothing written) when it does not. Concurrent calls with
   * one key create one order.
   */
  createOrderOnce(order: NewOrder, idempotency: IdempotencyKey): Promise<OnceCreated>;
  /** The order a key created, with the fingerprint it was created with; null for an unknown key. */
  findOrderByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null>;
  getOrder(id: string): Promise<Order | null>;
  getOrderByUid(uid: number): Promise<Order | null>;
  getOrders(ids: string[]): Promise<Order[]>;
  /** Newest (highest uid) first; limit defaults to 50. */
  listOrders(q: { status?: OrderStatus; payoutModule?: string; limit?: number; beforeUid?: number }): Promise<Order[]>;
  /**
   * Status compare-and-set + history entry + IPN enqueue, all or nothing. Checked in this order:
   * not_found, module_mismatch, status_mismatch. The history entry's payoutStatus defaults to the
   * order's payoutStatus after the patch; an `ipn` must name this order and `toStatus`.
   */
  transitionOrder(t: OrderTransition): Promise<TransitionResult>;
  /** Oldest first. */
  getOrderHistory(orderId: string): Promise<OrderHistoryEntry[]>;

  // payout attempts (design.md §6)
  /**
   * Creates a PREPARED attempt holding a lease (fence 1), or returns null when the order already has a
   * live one. Throws StoreInputError when the order does not exist.
   */
  createAttempt(a: NewAttempt): Promise<PayoutAttempt | null>;
  getAttempt(id: string): Promise<PayoutAttempt | null>;
  getLiveAttempt(orderId: string): Promise<PayoutAttempt | null>;
  /** Oldest first. */
  listAttempts(orderId: string): Promise<PayoutAttempt[]>;
  /** Least recently updated first (sweeps work on the stalest); limit defaults to 100. */
  listAttemptsInStates(states: AttemptState[], limit?: number): Promise<PayoutAttempt[]>;
  /**
   * Writes only if `fence` equals the stored fence and the stored state is in `fromStates`.
   * Returns the updated attempt, or null when the fence is stale or the state moved on. `live` follows
   * the new state; moving into a live state while the order has another live attempt throws
   * StoreConflictError. A patch with a state must be a move the attempt table allows from every
   * state in `fromStates` (runtime/store/attempt-transitions.ts, design.md §6); otherwise it throws
   * StoreTransitionError and writes nothing.
   */
  updateAttempt(id: string, fence: number, fromStates: AttemptState[], patch: AttemptPatch): Promise<PayoutAttempt | null>;
  /**
   * The durable "a request may have left" of a transfer() (design.md §6): sets requestLeftAt (kept
   * if already set) and callId, only while the attempt is DISPATCHING under exactly this fence.
   * False when it is not (another worker took the lease, or it moved on): the caller must then not
   * send. The fence is not bumped, so the holder's own later writes still apply.
   */
  markAttemptRequestLeft(id: string, fence: number, callId: string): Promise<boolean>;
  /** Takes the lease when it is free, expired, or already ours; bumps the fence. Null otherwise. */
  acquireAttemptLease(id: string, owner: string, leaseMs: number): Promise<PayoutAttempt | null>;

  // payout txs (the platform's OrderPayoutTxs)
  insertPayoutTx(tx: Omit<PayoutTx, '_id' | 'createdAt' | 'updatedAt'>): Promise<PayoutTx>;
  findPayoutTxs(q: TxQuery): Promise<PayoutTx[]>;
  /** Counts what findPayoutTxs would return (skip and limit apply). */
  countPayoutTxs(q: TxQuery): Promise<number>;
  /**
   * Updates the first matching row in sort order (updateOne semantics); `skip` and a limit above 1
   * are refused. `modified` is 0 when the row already had the patched values or the patch is empty
   * (nothing is written then, updatedAt included).
   */
  updatePayoutTx(q: TxQuery, patch: TxPatch): Promise<{ matched: number; modified: number }>;

  // plugin config (secret values arrive here already encrypted)
  getConfig(plugin: string, key: string): Promise<PluginConfigEntry | null>;
  /** Sorted by key. */
  listConfig(plugin: string): Promise<PluginConfigEntry[]>;
  setConfig(entry: Omit<PluginConfigEntry, 'updatedAt'>): Promise<PluginConfigEntry>;

  // network grants
  /** Sorted by plugin, then origin. */
  listGrants(plugin?: string): Promise<NetworkGrant[]>;
  upsertGrant(g: Omit<NetworkGrant, 'updatedAt'>): Promise<NetworkGrant>;
  deleteGrant(plugin: string, origin: string): Promise<void>;

  // audit
  /** SQLite: one transaction for the batch. MongoDB: one ordered insertMany (a failure keeps the records before it). */
  appendAudit(records: NewAuditRecord[]): Promise<void>;
  /** Newest first; limit defaults to 100. */
  queryAudit(q: AuditQuery): Promise<AuditRecord[]>;

  // IPN outbox (rows are created by transitionOrder or enqueueIpn)
  enqueueIpn(ipn: NewIpn): Promise<IpnMessage>;
  /**
   * Leases due messages (oldest nextAttemptAt first): pending with nextAttemptAt <= now, or sending with
   * an expired lease. Each claim counts as an attempt (`attempts` + 1). A message whose lease expired on
   * its last allowed attempt is marked failed instead of being claimed again.
   * Per order, messages go out in creation order: a message is not claimed while an earlier one of
   * the same order is still pending or sending (an interrupted send is claimed again first).
   * `owner` names the claimer, so a restarted instance can take its own claims back (reclaimLeasesOf).
   */
  claimDueIpns(limit: number, leaseMs: number, owner?: string): Promise<IpnMessage[]>;
  /** Records a claimed message's outcome. False (nothing written) when it is not 'sending' or was re-claimed. */
  completeIpn(id: string, result: IpnResult): Promise<boolean>;
  /** Oldest first. */
  listIpns(orderId: string): Promise<IpnMessage[]>;

  // webhook inbox
  recordWebhook(d: NewWebhookDelivery): Promise<WebhookDelivery>;
  finishWebhook(id: string, r: { state: InboxState; responseStatus: number | null; responseBody: string | null; error: string | null }): Promise<void>;
  /** Newest first; limit defaults to 50. */
  listWebhooks(q: { plugin?: string; limit?: number }): Promise<WebhookDelivery[]>;

  // routes (exchange directions)
  createRoute(r: NewRoute): Promise<Route>;
  getRoute(id: string): Promise<Route | null>;
  /** Oldest first. */
  listRoutes(): Promise<Route[]>;
  updateRoute(id: string, patch: Partial<NewRoute>): Promise<Route | null>;

  // named leases (cron jobs, sweeps) so several servers on one database never run a job twice
  /** True when the lease was free, expired, or already ours (then renewed for ttlMs from now). */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Called by an instance when it starts: every lease still held by `owner` (or a sub-owner
   * `<owner>/…`) belongs to a previous life of this instance that is gone, so it is expired now:
   * named leases are deleted, IPN claims and payout-attempt leases end at once and the usual
   * recovery (re-claim, sweep) takes them. Never call it with another live instance's id.
   */
  reclaimLeasesOf(owner: string): Promise<ReclaimedLeases>;

  // plugin records (runtime/install): what an administrator approved for each plugin folder
  getPluginRecord(key: string): Promise<PluginRecord | null>;
  /** Sorted by key. */
  listPluginRecords(): Promise<PluginRecord[]>;
  /**
   * Compare-and-set on `revision`: writes only if the stored record has that revision (0: no record yet),
   * and returns what was stored, with revision + 1 and updatedAt now. Otherwise throws StoreConflictError
   * (someone else approved, installed or rolled back in between: read again and decide again).
   */
  putPluginRecord(record: Omit<PluginRecord, 'updatedAt'>): Promise<PluginRecord>;

  // the engine an administrator chose per plugin (overrides the server options)
  getPluginEngineChoice(plugin: string): Promise<PluginEngineChoice | null>;
  /** Sorted by plugin. */
  listPluginEngineChoices(): Promise<PluginEngineChoice[]>;
  /** Replaces the plugin's choice; chosenAt is now. */
  setPluginEngineChoice(choice: Omit<PluginEngineChoice, 'chosenAt'>): Promise<PluginEngineChoice>;
  /** Forgets the choice (the options decide again); nothing happens when there is none. */
  clearPluginEngineChoice(plugin: string): Promise<void>;

  // plugin log
  appendPluginLog(lines: Omit<PluginLogLine, '_id'>[]): Promise<void>;
  /** Newest first; limit defaults to 200. */
  queryPluginLog(q: { plugin: string; limit?: number; since?: string }): Promise<PluginLogLine[]>;

  // retention and quotas (runtime/retention)
  /**
   * Deletes up to `limit` of the oldest rows of `kind` dated before `before` and returns how many.
   * ipnHistory deletes only messages whose state is 'sent' or 'failed'.
   */
  pruneOlderThan(kind: RetainedKind, before: string, limit: number): Promise<number>;
  /** Deletes up to `limit` of a plugin's rows of `kind` beyond its newest `keep`; returns how many. */
  pruneBeyondQuota(kind: PluginQuotaKind, plugin: string, keep: number, limit: number): Promise<number>;
  /** Plugins holding more than `rows` rows of `kind`, sorted. */
  pluginsOverQuota(kind: PluginQuotaKind, rows: number): Promise<string[]>;
  /**
   * A plugin's webhook inbox: its rows, and the bytes they take: body, headers and query when recorded
   * (records.ts webhookBytes), plus the answer and error once finished (webhookResultBytes).
   */
  webhookUsage(plugin: string): Promise<{ rows: number; bytes: number }>;
}

// The MongoDB store, for hosts that already run MongoDB. It must work on a standalone mongod, which has
// no multi-document transactions, so every promise the Store makes rests on single-document atomic
// operations and unique indexes:
//
// - transitionOrder: the order document itself carries the whole state change. One updateOne,
//   filtered on the order's _id, status and version (read just before, and checked against the
//   expected status / module in JS, exactly as the SQLite adapter does), sets the new status and fields,
//   bumps the version, and appends the new history entry to `pendingHistory` and the IPN to
//   `pendingIpns` on that same document. Either all of it happens or none of it. A follow-up step
//   (mongo-outbox.ts) then copies both to order_history / ipn_outbox by their pre-chosen _ids and pulls
//   them from the order; it is idempotent, so whoever runs it next after a crash (the next read of that
//   order's history or IPNs, or any claimDueIpns) finishes it. getOrderHistory and listIpns merge the
//   order's pending entries with the collection, and claimDueIpns flushes pending outboxes before it
//   claims, so every read sees a transition as soon as its updateOne returned.
// - At most one live attempt per order: a unique index on {orderId} with partialFilterExpression
//   {live: true}; the losing insert gets E11000 and createAttempt returns null.
// - Fences, leases, IPN claims and named leases: one conditional findOneAndUpdate / updateOne each.
//   A named lease held by someone else makes the upsert collide on _id, which reads as "not acquired".
// - Batches (appendAudit, appendPluginLog) are one ordered insertMany: not atomic as a set here.
//
// Writes use w: 'majority', j: true. Times are ISO strings and ids 24-hex strings, as in SQLite, so
// that comparisons and sort orders agree between the two stores.
import type { Document } from 'mongodb';
import { newId } from './ids.ts';
import { StoreConflictError, StoreInputError } from './errors.ts';
import { checkAttemptMove } from './attempt-move-check.ts';
import { C, ORDER_PROJECTION, connectMongo, ipnFromDoc, ipnToDoc, isDuplicateKey, literal, txFilter, txSort } from './mongo-schema.ts';
import { MongoSupportCollections } from './mongo-support-collections.ts';
import type { MongoStoreOptions } from './mongo-support-collections.ts';
import { flushOrderOutbox, flushPendingOutboxes, mergedHistory, mergedIpns } from './mongo-outbox.ts';
import { checkTxPatch, checkTxQuery } from './tx-query.ts';
import {
  ANONYMOUS_IPN_OWNER, LAST_ATTEMPT_EXPIRED, MAX_INTERRUPTED_DELIVERIES, applyTransition, attemptChanges, buildAttempt, buildIpn, buildOrder, isoAt, refuseTransition,
} from './records.ts';
import {
  Checker, LEASE_MS_MAX, checkIdempotencyKey, checkAttemptPatch, checkAttemptStates, checkIpnResult, checkNewAttempt, checkNewIpn, checkNewOrder,
  checkNewTx, checkOrderStatus, checkTransition,
} from './validate.ts';
import type {
  AttemptState, IpnMessage, NewIpn, NewOrder, Order, OrderHistoryEntry, OrderStatus, PayoutAttempt, PayoutTx,
} from './types.ts';
import type { AttemptPatch, IdempotencyKey, IpnResult, NewAttempt, OnceCreated, ReclaimedLeases, OrderTransition, Store, TransitionResult, TxPatch, TxQuery } from './store.ts';

export type { MongoStoreOptions } from './mongo-support-collections.ts';
const TRANSITION_RETRIES = 20;
const OUTBOX_FLUSH_BATCH = 200;

export class MongoStore extends MongoSupportCollections implements Store {
  readonly kind = 'mongodb' as const;

  static async connect(url: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
    const { client, db } = await connectMongo(url, options.serverSelectionTimeoutMs ?? 5000);
    return new MongoStore(client, db, options);
  }

  // ---- orders -------------------------------------------------------------------------------------

  async createOrder(order: NewOrder): Promise<Order> {
    const input = checkNewOrder(order);
    const uid = await this.#nextUid();
    const created = buildOrder(newId(this.now()), uid, input, this.iso());
    await this.c(C.orders).insertOne({ ...created, pendingHistory: [], pendingIpns: [] });
    return created;
  }

  // No transactions: the key is inserted first with the order id it will create (unique _id), then
  // the order under that id. A crash between the two leaves a key whose order is missing; the next
  // call with the key creates it under the same id, so one key never yields two orders.
  async createOrderOnce(order: NewOrder, idempotency: IdempotencyKey): Promise<OnceCreated> {
    const input = checkNewOrder(order);
    const { key, fingerprint } = checkIdempotencyKey('createOrderOnce', idempotency);
    const keys = this.db.collection<{ _id: string; fingerprint: string; orderId: string; createdAt: string }>(C.idempotency);
    let claim = { _id: key, fingerprint, orderId: newId(this.now()), createdAt: this.iso() };
    try {
      await keys.insertOne(claim);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      claim = (await keys.findOne({ _id: key }))!;
    }
    if (claim.fingerprint !== fingerprint) return { outcome: 'conflict' };
    const existing = await this.getOrder(claim.orderId);
    if (existing) return { outcome: 'replayed', order: existing };
    const created = buildOrder(claim.orderId, await this.#nextUid(), input, this.iso());
    try {
      await this.c(C.orders).insertOne({ ...created, pendingHistory: [], pendingIpns: [] });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const raced = await this.getOrder(claim.orderId);
      if (raced) return { outcome: 'replayed', order: raced };
      throw err;
    }
    return { outcome: 'created', order: created };
  }

  async findOrderByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null> {
    const k = checkIdempotencyKey('findOrderByIdempotencyKey', { key, fingerprint: '-' }).key;
    const known = await this.db.collection<{ _id: string; fingerprint: string; orderId: string }>(C.idempotency).findOne({ _id: k });
    const found = known && await this.getOrder(known.orderId);
    return found ? { order: found, fingerprint: known.fingerprint } : null;
  }

  async getOrder(id: string): Promise<Order | null> {
    return this.findOne(C.orders, { _id: new Checker('getOrder').text('id', id) }, ORDER_PROJECTION);
  }

  async getOrderByUid(uid: number): Promise<Order | null> {
    return this.findOne(C.orders, { uid: new Checker('getOrderByUid').int('uid', uid, 1) }, ORDER_PROJECTION);
  }

  async getOrders(ids: string[]): Promise<Order[]> {
    const c = new Checker('getOrders');
    const wanted = [...new Set(c.listOf('ids', ids, (v, n) => c.text(n, v)))];
    const docs = await this.c(C.orders).find({ _id: { $in: wanted } }, { projection: ORDER_PROJECTION }).toArray();
    const found = new Map(docs.map((d) => [d._id, d as unknown as Order]));
    return wanted.flatMap((id) => found.get(id) ?? []);
  }

  async listOrders(query: { status?: OrderStatus; payoutModule?: string; limit?: number; beforeUid?: number }): Promise<Order[]> {
    const c = new Checker('listOrders');
    const o = c.object('query', query);
    const filter: Document = {};
    if (o.status !== undefined) filter.status = checkOrderStatus('listOrders', o.status);
    if (o.payoutModule !== undefined) filter.payoutModule = c.text('payoutModule', o.payoutModule);
    if (o.beforeUid !== undefined) filter.uid = { $lt: c.int('beforeUid', o.beforeUid, 1) };
    const limit = c.limit(o.limit, 50, 1000);
    return await this.c(C.orders).find(filter, { projection: ORDER_PROJECTION }).sort({ uid: -1 }).limit(limit).toArray() as unknown as Order[];
  }

  async transitionOrder(t: OrderTransition): Promise<TransitionResult> {
    const tr = checkTransition(t);
    const orders = this.c(C.orders);
    for (let i = 0; i < TRANSITION_RETRIES; i++) {
      const before = await this.findOne<Order>(C.orders, { _id: tr.orderId }, ORDER_PROJECTION);
      const refusal = refuseTransition(before, tr);
      if (refusal || !before) return { ok: false, reason: refusal ?? 'not_found', current: before };
      const now = this.now();
      const applied = applyTransition(before, tr, isoAt(now), { history: newId(now), ipn: newId(now) });
      const o = applied.order;
      const push: Document = { pendingHistory: { ...applied.history, orderVersion: o.version } };
      if (applied.ipn) push.pendingIpns = ipnToDoc(applied.ipn);
      const written = await orders.updateOne({ _id: o._id, version: before.version, status: before.status }, {
        $set: {
          status: o.status, payoutStatus: o.payoutStatus, orderNote: o.orderNote, holdReason: o.holdReason,
          payoutModule: o.payoutModule, version: o.version, updatedAt: o.updatedAt, outboxPending: true,
        },
        $push: push,
      });
      if (written.modifiedCount === 1) {
        // The transition is committed; a failed copy is finished by the next reader, so it must not turn this into an error.
        await flushOrderOutbox(this.db, o._id).catch(() => {});
        return { ok: true, ...applied };
      }
      // Another writer changed the order between our read and our write: decide again on what it wrote.
    }
    throw new Error(`transitionOrder: order ${tr.orderId} changed ${TRANSITION_RETRIES} times while we tried to update it; try again`);
  }

  async getOrderHistory(orderId: string): Promise<OrderHistoryEntry[]> {
    return mergedHistory(this.db, new Checker('getOrderHistory').text('orderId', orderId));
  }

  // ---- payout attempts ----------------------------------------------------------------------------

  async createAttempt(a: NewAttempt): Promise<PayoutAttempt | null> {
    const input = checkNewAttempt(a);
    if (!(await this.c(C.orders).countDocuments({ _id: input.orderId }, { limit: 1 }))) {
      throw new StoreInputError('createAttempt', `order ${input.orderId} does not exist`);
    }
    const attempt = buildAttempt(newId(this.now()), input, this.now());
    try {
      await this.c(C.attempts).insertOne({ ...attempt });
      return attempt;
    } catch (err) {
      if (isDuplicateKey(err)) return null;
      throw err;
    }
  }

  async getAttempt(id: string): Promise<PayoutAttempt | null> {
    return this.findOne(C.attempts, { _id: new Checker('getAttempt').text('id', id) });
  }

  async getLiveAttempt(orderId: string): Promise<PayoutAttempt | null> {
    return this.findOne(C.attempts, { orderId: new Checker('getLiveAttempt').text('orderId', orderId), live: true });
  }

  async listAttempts(orderId: string): Promise<PayoutAttempt[]> {
    const id = new Checker('listAttempts').text('orderId', orderId);
    return await this.c(C.attempts).find({ orderId: id }).sort({ createdAt: 1, _id: 1 }).toArray() as unknown as PayoutAttempt[];
  }

  async listAttemptsInStates(states: AttemptState[], limit?: number): Promise<PayoutAttempt[]> {
    const wanted = checkAttemptStates('listAttemptsInStates', 'states', states);
    const max = new Checker('listAttemptsInStates').limit(limit, 100, 10_000);
    return await this.c(C.attempts).find({ state: { $in: wanted } }).sort({ updatedAt: 1, _id: 1 }).limit(max).toArray() as unknown as PayoutAttempt[];
  }

  async updateAttempt(id: string, fence: number, fromStates: AttemptState[], patch: AttemptPatch): Promise<PayoutAttempt | null> {
    const c = new Checker('updateAttempt');
    const attemptId = c.text('id', id);
    const expectedFence = c.int('fence', fence, 0);
    const states = checkAttemptStates('updateAttempt', 'fromStates', fromStates);
    const checked = checkAttemptPatch(patch);
    checkAttemptMove(attemptId, states, checked.state);
    const changes = attemptChanges(checked, this.iso());
    try {
      return await this.c(C.attempts).findOneAndUpdate(
        { _id: attemptId, fence: expectedFence, state: { $in: states } }, { $set: changes }, { returnDocument: 'after' },
      ) as unknown as PayoutAttempt | null;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      throw new StoreConflictError('updateAttempt', `attempt ${attemptId} cannot move to ${String(changes.state)}: its order already has a live attempt`);
    }
  }

  async markAttemptRequestLeft(id: string, fence: number, callId: string): Promise<boolean> {
    const c = new Checker('markAttemptRequestLeft');
    const filter = { _id: c.text('id', id), fence: c.int('fence', fence, 0), state: 'DISPATCHING' as const };
    const call = c.text('callId', callId);
    const now = this.iso();
    // One document, one atomic update: the marker is kept once set (first request, first call id).
    const result = await this.c(C.attempts).updateOne(filter, [{ $set: {
      requestLeftAt: { $ifNull: ['$requestLeftAt', now] }, callId: { $ifNull: ['$callId', call] }, updatedAt: now,
    } }]);
    return result.matchedCount === 1;
  }

  async acquireAttemptLease(id: string, owner: string, leaseMs: number): Promise<PayoutAttempt | null> {
    const c = new Checker('acquireAttemptLease');
    const attemptId = c.text('id', id);
    const who = c.text('owner', owner);
    const now = this.now();
    const until = isoAt(now + c.int('leaseMs', leaseMs, 1, LEASE_MS_MAX));
    return await this.c(C.attempts).findOneAndUpdate(
      { _id: attemptId, $or: [{ leaseOwner: null }, { leaseUntil: null }, { leaseUntil: { $lte: isoAt(now) } }, { leaseOwner: who }] },
      { $set: { leaseOwner: who, leaseUntil: until, updatedAt: isoAt(now) }, $inc: { fence: 1 } },
      { returnDocument: 'after' },
    ) as unknown as PayoutAttempt | null;
  }

  // ---- payout txs ---------------------------------------------------------------------------------

  async insertPayoutTx(tx: Omit<PayoutTx, '_id' | 'createdAt' | 'updatedAt'>): Promise<PayoutTx> {
    const now = this.iso();
    const row: PayoutTx = { _id: newId(this.now()), ...checkNewTx(tx), createdAt: now, updatedAt: now };
    await this.c(C.txs).insertOne({ ...row });
    return row;
  }

  async findPayoutTxs(query: TxQuery): Promise<PayoutTx[]> {
    const checked = checkTxQuery('findPayoutTxs', query);
    return await this.c(C.txs).find(txFilter(checked)).sort(txSort(checked)).skip(checked.skip).limit(checked.limit)
      .toArray() as unknown as PayoutTx[];
  }

  async countPayoutTxs(query: TxQuery): Promise<number> {
    const checked = checkTxQuery('countPayoutTxs', query);
    // countDocuments turns skip/limit into $skip/$limit stages, and $limit: 0 is an error rather than "no limit".
    return this.c(C.txs).countDocuments(txFilter(checked), {
      ...(checked.skip > 0 ? { skip: checked.skip } : {}), ...(checked.limit > 0 ? { limit: checked.limit } : {}),
    });
  }

  async updatePayoutTx(query: TxQuery, patch: TxPatch): Promise<{ matched: number; modified: number }> {
    const checked = checkTxQuery('updatePayoutTx', query, 'update');
    const changes = checkTxPatch(patch) as Record<string, unknown>;
    const keys = Object.keys(changes);
    if (keys.length === 0) {
      // Mongoose's updateOne with an empty $set: report the match, write nothing.
      const found = await this.c(C.txs).find(txFilter(checked), { projection: { _id: 1 } }).sort(txSort(checked)).limit(1).toArray();
      return { matched: found.length, modified: 0 };
    }
    const differs = keys.map((k) => ({ $ne: [`$${k}`, literal(changes[k])] }));
    // A pipeline so that updatedAt moves only when a value really changes, in the same atomic step.
    const before = await this.c(C.txs).findOneAndUpdate(txFilter(checked), [{
      $set: { ...Object.fromEntries(keys.map((k) => [k, literal(changes[k])])), updatedAt: { $cond: [{ $or: differs }, literal(this.iso()), '$updatedAt'] } },
    }], { sort: txSort(checked), returnDocument: 'before' });
    if (!before) return { matched: 0, modified: 0 };
    return { matched: 1, modified: keys.some((k) => before[k] !== changes[k]) ? 1 : 0 };
  }

  // ---- IPN outbox ---------------------------------------------------------------------------------

  async enqueueIpn(ipn: NewIpn): Promise<IpnMessage> {
    const input = checkNewIpn('enqueueIpn', ipn);
    if (!(await this.c(C.orders).countDocuments({ _id: input.orderId }, { limit: 1 }))) {
      throw new StoreInputError('enqueueIpn', `order ${input.orderId} does not exist`);
    }
    const message = buildIpn(newId(this.now()), input, this.iso());
    await this.c(C.ipns).insertOne(ipnToDoc(message));
    return message;
  }

  async claimDueIpns(limit: number, leaseMs: number, owner: string = ANONYMOUS_IPN_OWNER): Promise<IpnMessage[]> {
    const c = new Checker('claimDueIpns');
    const max = c.int('limit', limit, 1, 1000);
    const lease = c.int('leaseMs', leaseMs, 1, LEASE_MS_MAX);
    const holder = c.text('owner', owner);
    await flushPendingOutboxes(this.db, OUTBOX_FLUSH_BATCH);
    const nowMs = this.now();
    const now = isoAt(nowMs);
    const ipns = this.c(C.ipns);
    await ipns.updateMany({ state: 'sending', leaseUntil: { $lte: now }, $expr: { $gte: ['$attempts', { $add: ['$maxAttempts', MAX_INTERRUPTED_DELIVERIES] }] } }, {
      $set: { state: 'failed', leaseUntil: null, updatedAt: now, lastError: LAST_ATTEMPT_EXPIRED },
    });
    const due: Document = {
      $or: [
        { state: 'pending', nextAttemptAt: { $lte: now }, $expr: { $lt: ['$attempts', '$maxAttempts'] } },
        { state: 'sending', leaseUntil: { $lte: now }, $expr: { $lt: ['$attempts', { $add: ['$maxAttempts', MAX_INTERRUPTED_DELIVERIES] }] } },
      ],
    };
    const claimed: IpnMessage[] = [];
    // Messages passed over because an earlier one of their order is unfinished (per-order order).
    // A message never becomes unfinished again once finished, so a check that found none stays true.
    const waiting: string[] = [];
    for (let looked = 0; claimed.length < max && looked < max * 4; looked++) {
      const candidate = await ipns.findOne(waiting.length ? { $and: [due, { _id: { $nin: waiting } }] } : due,
        { sort: { nextAttemptAt: 1, _id: 1 }, projection: { _id: 1, orderId: 1, createdAt: 1 } });
      if (!candidate) break;
      const earlier = await ipns.findOne({
        orderId: candidate.orderId, state: { $in: ['pending', 'sending'] },
        $or: [{ createdAt: { $lt: candidate.createdAt } }, { createdAt: candidate.createdAt, _id: { $lt: candidate._id } }],
      }, { projection: { _id: 1 } });
      if (earlier) {
        waiting.push(candidate._id as string);
        continue;
      }
      const doc = await ipns.findOneAndUpdate({ $and: [due, { _id: candidate._id }] },
        { $set: { state: 'sending', leaseUntil: isoAt(nowMs + lease), leaseOwner: holder, updatedAt: now }, $inc: { attempts: 1 } },
        { returnDocument: 'after' });
      if (doc) claimed.push(ipnFromDoc<IpnMessage>(doc));
    }
    return claimed;
  }

  async reclaimLeasesOf(owner: string): Promise<ReclaimedLeases> {
    const holder = new Checker('reclaimLeasesOf').text('owner', owner);
    const now = this.iso();
    // The owner itself and the sub-owners it names (`<owner>/settle`, `<owner>/admin`, …).
    const mine = (field: string): Document => ({ $or: [{ [field]: holder }, { [field]: { $regex: `^${escapeRegex(holder)}/` } }] });
    const ipns = await this.c(C.ipns).updateMany({ state: 'sending', leaseUntil: { $gt: now }, ...mine('leaseOwner') }, { $set: { leaseUntil: now } });
    const attempts = await this.c(C.attempts).updateMany({ live: true, leaseUntil: { $gt: now }, ...mine('leaseOwner') }, { $set: { leaseUntil: now } });
    const named = await this.c(C.leases).deleteMany(mine('owner'));
    return { ipns: ipns.modifiedCount, attempts: attempts.modifiedCount, named: named.deletedCount };
  }

  async completeIpn(id: string, result: IpnResult): Promise<boolean> {
    const messageId = new Checker('completeIpn').text('id', id);
    const r = checkIpnResult(result);
    const state = r.state === 'pending' ? { $cond: [{ $gte: ['$attempts', '$maxAttempts'] }, 'failed', 'pending'] } : literal(r.state);
    const filter: Document = { _id: messageId, state: 'sending' };
    if (r.attempt !== undefined) filter.attempts = r.attempt;
    const written = await this.c(C.ipns).updateOne(filter, [{
      $set: {
        state, leaseUntil: null, lastError: literal(r.lastError), updatedAt: literal(this.iso()),
        ...(r.nextAttemptAt !== undefined ? { nextAttemptAt: literal(r.nextAttemptAt) } : {}),
      },
    }]);
    return written.matchedCount === 1;
  }

  async listIpns(orderId: string): Promise<IpnMessage[]> {
    return mergedIpns(this.db, new Checker('listIpns').text('orderId', orderId));
  }

  async #nextUid(): Promise<number> {
    for (let tries = 0; ; tries++) {
      try {
        const counter = await this.db.collection<{ _id: string; seq: number }>(C.counters).findOneAndUpdate(
          { _id: 'orders.uid' }, { $inc: { seq: 1 } }, { upsert: true, returnDocument: 'after' });
        return counter!.seq;
      } catch (err) {
        if (!isDuplicateKey(err) || tries > 0) throw err;
      }
    }
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

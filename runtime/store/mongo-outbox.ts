// The second half of a MongoDB transition (see the top of mongo-store.ts): history entries and IPNs
// that a transition appended to its order document are copied to their own collections, then removed
// from the order. Every step can be repeated after a crash, by any process, any number of times:
// copies are upserts keyed by the `_id` chosen at transition time, so a copy made twice is one
// document, and an IPN a worker already claimed is never reset by a late copy.
import type { Db, Document } from 'mongodb';
import { C, HISTORY_PROJECTION, ipnFromDoc, isDuplicateKey } from './mongo-schema.ts';
import { compareText } from './records.ts';
import type { IpnMessage, OrderHistoryEntry } from './types.ts';

interface Outbox { _id: string; pendingHistory?: Document[]; pendingIpns?: Document[] }

async function copyOnce(db: Db, collection: string, doc: Document): Promise<void> {
  const { _id, ...fields } = doc;
  try {
    await db.collection(collection).updateOne({ _id }, { $setOnInsert: fields }, { upsert: true });
  } catch (err) {
    // Two processes flushing the same order race their upserts; the loser's copy already exists.
    if (!isDuplicateKey(err)) throw err;
  }
}

export async function flushOrderOutbox(db: Db, orderId: string): Promise<void> {
  const orders = db.collection<Outbox>(C.orders);
  const order = await orders.findOne({ _id: orderId }, { projection: { pendingHistory: 1, pendingIpns: 1 } });
  if (!order) return;
  const history = order.pendingHistory ?? [];
  const ipns = order.pendingIpns ?? [];
  for (const entry of history) await copyOnce(db, C.history, entry);
  for (const ipn of ipns) await copyOnce(db, C.ipns, ipn);
  if (history.length > 0 || ipns.length > 0) {
    await orders.updateOne({ _id: orderId }, {
      $pull: { pendingHistory: { _id: { $in: history.map((h) => h._id) } }, pendingIpns: { _id: { $in: ipns.map((i) => i._id) } } },
    });
  }
  // Only clears the flag when nothing new was appended meanwhile; otherwise the next flush picks it up.
  const empty = (field: string): Document => ({ $or: [{ [field]: { $size: 0 } }, { [field]: { $exists: false } }] });
  await orders.updateOne({ _id: orderId, $and: [empty('pendingHistory'), empty('pendingIpns')] }, { $unset: { outboxPending: '' } });
}

export async function flushPendingOutboxes(db: Db, maxOrders: number): Promise<void> {
  const pending = await db.collection<Outbox>(C.orders)
    .find({ outboxPending: true }, { projection: { _id: 1 } }).limit(maxOrders).toArray();
  for (const { _id } of pending) await flushOrderOutbox(db, _id);
}

// Reads read the order first and the collection second: a flush running in between moves an entry
// from the first place to the second, so it is seen at least once, and duplicates are dropped by _id.

export async function mergedHistory(db: Db, orderId: string): Promise<OrderHistoryEntry[]> {
  const order = await db.collection<Outbox>(C.orders).findOne({ _id: orderId }, { projection: { pendingHistory: 1 } });
  const stored = await db.collection(C.history).find({ orderId }).sort({ orderVersion: 1 }).toArray();
  const byId = new Map<string, Document>(stored.map((h) => [h._id as unknown as string, h]));
  for (const h of order?.pendingHistory ?? []) if (!byId.has(h._id)) byId.set(h._id, h);
  return [...byId.values()]
    .sort((a, b) => a.orderVersion - b.orderVersion)
    .map((h) => Object.fromEntries(Object.entries(h).filter(([k]) => !(k in HISTORY_PROJECTION))) as OrderHistoryEntry);
}

export async function mergedIpns(db: Db, orderId: string): Promise<IpnMessage[]> {
  const order = await db.collection<Outbox>(C.orders).findOne({ _id: orderId }, { projection: { pendingIpns: 1 } });
  const stored = await db.collection(C.ipns).find({ orderId }).toArray();
  // The collection's copy wins: workers update it, the order's copy is only the initial state.
  const byId = new Map<string, Document>(stored.map((m) => [m._id as unknown as string, m]));
  for (const m of order?.pendingIpns ?? []) if (!byId.has(m._id)) byId.set(m._id, m);
  return [...byId.values()]
    .map((m) => ipnFromDoc<IpnMessage>(m))
    .sort((a, b) => compareText(a.createdAt, b.createdAt) || compareText(a._id, b._id));
}

// MongoDB: the shared Store contract, plus what only the no-transactions design has (the outbox on the
// order document). Runs only when MONGODB_URL points at a server, e.g.
//   MONGODB_URL=mongodb://127.0.0.1:27017 npx vitest run test/runtime/store
// Each test uses its own database, payout_sandbox_test_<random>, dropped afterwards.
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, test } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import { describeStoreContract } from './contract.ts';
import { ipnFor, sampleOrder } from './contract-fixtures.ts';

const url = process.env.MONGODB_URL;

/** The same server and options, another database: the path segment is replaced, the query kept. */
export function withDatabase(base: string, dbName: string): string {
  const [beforeQuery, query] = base.split('?', 2);
  const schemeEnd = beforeQuery.indexOf('://') + 3;
  const slash = beforeQuery.indexOf('/', schemeEnd);
  const server = slash < 0 ? beforeQuery : beforeQuery.slice(0, slash);
  return `${server}/${dbName}${query === undefined ? '' : `?${query}`}`;
}

let admin: MongoClient | null = null;
const adminClient = async (): Promise<MongoClient> => (admin ??= await new MongoClient(url!, { serverSelectionTimeoutMS: 5000 }).connect());
afterAll(async () => { await admin?.close(); });

async function freshDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `payout_sandbox_test_${randomBytes(6).toString('hex')}`;
  return { url: withDatabase(url!, name), name, drop: async () => { await (await adminClient()).db(name).dropDatabase(); } };
}

if (!url) {
  // Skipped tests only show up as a count; say why, where people look.
  console.warn('mongodb contract — skipped: MONGODB_URL not set. To run it: MONGODB_URL=mongodb://127.0.0.1:27017 npx vitest run test/runtime/store');
}

describeStoreContract(url ? 'mongodb contract' : 'mongodb contract — skipped: MONGODB_URL not set', url ? { freshDatabase } : null);

describe.skipIf(!url)(url ? 'mongodb specifics' : 'mongodb specifics — skipped: MONGODB_URL not set', () => {
  test('init creates the partial unique index that allows one live attempt per order', async () => {
    const db = await freshDatabase();
    const store = await openStore(db.url);
    try {
      const indexes = await (await adminClient()).db(db.name).collection('payout_attempts').indexes();
      expect(indexes.find((i) => i.name === 'one_live_attempt_per_order')).toMatchObject({
        key: { orderId: 1 }, unique: true, partialFilterExpression: { live: true },
      });
    } finally {
      await store.close();
      await db.drop();
    }
  });

  test('a transition whose copy step never ran is still seen by history, IPN listing and claims', async () => {
    const db = await freshDatabase();
    const store = await openStore(db.url);
    try {
      const order = await store.createOrder(sampleOrder());
      const result = await store.transitionOrder({
        orderId: order._id, expectStatus: ['new'], toStatus: 'waitPayment', history: { actor: 'system', comment: null },
        ipn: ipnFor(order, 'waitPayment'),
      });
      if (!result.ok) throw new Error('transition refused');
      // Put the database back in the state a crash right after the order update leaves: entries only on the order.
      const raw = (await adminClient()).db(db.name);
      const history = await raw.collection('order_history').findOneAndDelete({ _id: result.history._id as never });
      const ipn = await raw.collection('ipn_outbox').findOneAndDelete({ _id: result.ipn!._id as never });
      await raw.collection('orders').updateOne({ _id: order._id as never },
        { $push: { pendingHistory: history, pendingIpns: ipn }, $set: { outboxPending: true } } as never);

      expect(await store.getOrderHistory(order._id)).toEqual([result.history]);
      expect(await store.listIpns(order._id)).toEqual([result.ipn]);
      const claimed = await store.claimDueIpns(10, 1000);
      expect(claimed).toMatchObject([{ _id: result.ipn!._id, state: 'sending', attempts: 1 }]);
      expect(await raw.collection('order_history').countDocuments({ orderId: order._id })).toBe(1);
      const after = await raw.collection('orders').findOne({ _id: order._id as never });
      expect(after).toMatchObject({ pendingHistory: [], pendingIpns: [] });
      expect(after).not.toHaveProperty('outboxPending');
      expect(await store.getOrder(order._id)).toEqual(result.order);
    } finally {
      await store.close();
      await db.drop();
    }
  });

  test('retention keeps a sent IPN whose copy is still on its order, so a later flush cannot bring it back as new', async () => {
    const db = await freshDatabase();
    const store = await openStore(db.url);
    try {
      const order = await store.createOrder(sampleOrder());
      const result = await store.transitionOrder({
        orderId: order._id, expectStatus: ['new'], toStatus: 'waitPayment', history: { actor: 'system', comment: null }, ipn: ipnFor(order, 'waitPayment', 1),
      });
      if (!result.ok) throw new Error('transition refused');
      const [claimed] = await store.claimDueIpns(10, 1000);
      expect(await store.completeIpn(claimed._id, { state: 'sent', lastError: null, attempt: 1 })).toBe(true);
      // A flush cut short: the order still carries the message it had already copied.
      const raw = (await adminClient()).db(db.name);
      await raw.collection('orders').updateOne({ _id: order._id as never }, { $push: { pendingIpns: { ...result.ipn!, fields: Object.entries(result.ipn!.fields) } }, $set: { outboxPending: true } } as never);
      const future = new Date(Date.now() + 1000 * 24 * 3600_000).toISOString();
      expect(await store.pruneOlderThan('ipnHistory', future, 100)).toBe(0);
      expect(await store.listIpns(order._id)).toMatchObject([{ _id: result.ipn!._id, state: 'sent' }]);
      // Positive control: once the flush completed, the sent message goes.
      expect(await store.claimDueIpns(10, 1000)).toEqual([]);
      expect(await store.pruneOlderThan('ipnHistory', future, 100)).toBe(1);
    } finally {
      await store.close();
      await db.drop();
    }
  });
});

describe('mongodb test helpers', () => {
  test('withDatabase swaps only the database name', () => {
    expect(withDatabase('mongodb://127.0.0.1:27017', 'x')).toBe('mongodb://127.0.0.1:27017/x');
    expect(withDatabase('mongodb://u:p@h1:1,h2:2/old?replicaSet=rs&authSource=admin', 'x')).toBe('mongodb://u:p@h1:1,h2:2/x?replicaSet=rs&authSource=admin');
    expect(withDatabase('mongodb+srv://c.example.net/?retryWrites=true', 'x')).toBe('mongodb+srv://c.example.net/x?retryWrites=true');
  });
});

// Collections, indexes and document shapes of the MongoDB store, and the connection step with its
// error messages. Documents hold the record fields as they are, with string `_id`s, except:
// - orders carry `pendingHistory` / `pendingIpns` / `outboxPending` (see mongo-store.ts);
// - order_history carries `orderVersion`, the order version the entry produced, for exact ordering;
// - free-form string maps (IPN fields, webhook headers and query) are stored as [key, value] pairs,
//   because their keys come from outside and may contain '.' or start with '$'.
import { MongoClient, MongoServerError } from 'mongodb';
import type { Db, Document, IndexDescription } from 'mongodb';
import { StoreOpenError } from './errors.ts';
import type { CheckedTxQuery } from './tx-query.ts';

export const C = {
  orders: 'orders', history: 'order_history', attempts: 'payout_attempts', txs: 'payout_txs',
  config: 'plugin_config', grants: 'network_grants', audit: 'audit_log', ipns: 'ipn_outbox',
  webhooks: 'webhook_inbox', routes: 'routes', leases: 'leases', log: 'plugin_log', counters: 'counters',
  pluginRecords: 'plugin_records', idempotency: 'order_idempotency', engines: 'plugin_engines',
} as const;

export const INDEXES: Record<string, IndexDescription[]> = {
  [C.orders]: [
    { key: { uid: 1 }, name: 'uid_unique', unique: true },
    { key: { status: 1, uid: -1 }, name: 'by_status' },
    { key: { payoutModule: 1, uid: -1 }, name: 'by_module' },
    { key: { outboxPending: 1 }, name: 'outbox_pending', sparse: true },
  ],
  [C.history]: [{ key: { orderId: 1, orderVersion: 1 }, name: 'by_order_version', unique: true }],
  [C.attempts]: [
    { key: { orderId: 1 }, name: 'one_live_attempt_per_order', unique: true, partialFilterExpression: { live: true } },
    { key: { orderId: 1, createdAt: 1 }, name: 'by_order' },
    { key: { state: 1, updatedAt: 1 }, name: 'by_state' },
  ],
  [C.txs]: [
    { key: { payoutModule: 1, _id: 1 }, name: 'by_module' },
    { key: { payoutModule: 1, order: 1 }, name: 'by_order' },
    { key: { payoutModule: 1, transaction: 1 }, name: 'by_transaction' },
    { key: { payoutModule: 1, active: 1, createdAt: 1 }, name: 'by_active' },
  ],
  [C.config]: [{ key: { plugin: 1, key: 1 }, name: 'plugin_key_unique', unique: true }],
  [C.grants]: [{ key: { plugin: 1, origin: 1 }, name: 'plugin_origin_unique', unique: true }],
  [C.audit]: [
    { key: { at: -1, _id: -1 }, name: 'by_time' },
    { key: { plugin: 1, at: -1 }, name: 'by_plugin' },
    { key: { capability: 1, at: -1 }, name: 'by_capability' },
    { key: { callId: 1 }, name: 'by_call' },
  ],
  [C.ipns]: [
    { key: { state: 1, nextAttemptAt: 1 }, name: 'due' },
    { key: { state: 1, leaseUntil: 1 }, name: 'leased' },
    { key: { orderId: 1, createdAt: 1 }, name: 'by_order' },
    { key: { state: 1, updatedAt: 1 }, name: 'finished_by_age' },
  ],
  [C.webhooks]: [
    { key: { receivedAt: -1, _id: -1 }, name: 'by_time' },
    { key: { plugin: 1, receivedAt: -1 }, name: 'by_plugin' },
    { key: { plugin: 1, bytes: 1 }, name: 'usage' },
  ],
  [C.routes]: [{ key: { createdAt: 1, _id: 1 }, name: 'by_created' }],
  [C.log]: [{ key: { plugin: 1, at: -1, _id: -1 }, name: 'by_plugin' }],
};

export async function createIndexes(db: Db): Promise<void> {
  for (const [collection, indexes] of Object.entries(INDEXES)) await db.collection(collection).createIndexes(indexes);
}

/** Hides the outbox fields that only the adapter reads. */
export const ORDER_PROJECTION = { pendingHistory: 0, pendingIpns: 0, outboxPending: 0 } as const;
export const HISTORY_PROJECTION = { orderVersion: 0 } as const;
export const NO_ID = { _id: 0 } as const;

export const toPairs = (map: Record<string, string>): [string, string][] => Object.entries(map);
export const fromPairs = (pairs: [string, string][]): Record<string, string> => Object.fromEntries(pairs);

export function ipnToDoc<T extends { fields: Record<string, string> }>(ipn: T): Omit<T, 'fields'> & { fields: [string, string][] } {
  return { ...ipn, fields: toPairs(ipn.fields) };
}
export function ipnFromDoc<T>(doc: Document): T {
  // leaseOwner is bookkeeping of the claim (reclaimLeasesOf), not part of the message record.
  const { leaseOwner: _claimer, ...message } = doc;
  return { ...message, fields: fromPairs(doc.fields) } as T;
}

/** The plugin scope is the first clause of an $and that the plugin's conditions cannot reach into. */
export function txFilter(query: CheckedTxQuery): Document {
  return { $and: [{ payoutModule: query.plugin }, ...query.conditions.map((c) => ({ [c.field]: { [`$${c.op}`]: c.value } }))] };
}
export function txSort(query: CheckedTxQuery): Record<string, 1 | -1> {
  return Object.fromEntries(query.sort.map((s) => [s.field, s.direction]));
}

export const isDuplicateKey = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000;

/** Update pipelines read strings that start with '$' as field paths: every value written through one goes through here. */
export const literal = (value: unknown): Document => ({ $literal: value });

// ---- connecting -------------------------------------------------------------------------------------

const DEFAULT_DB = 'payout_sandbox';

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}

/** What the URL points at, as people say it: host:port list, or the SRV name, and the database. */
export function describeMongoUrl(url: string): { hosts: string; dbName: string } {
  const srv = url.startsWith('mongodb+srv://');
  const rest = url.slice(srv ? 'mongodb+srv://'.length : 'mongodb://'.length);
  const slash = rest.search(/[/?]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const hostList = authority.slice(authority.lastIndexOf('@') + 1);
  const path = slash < 0 || rest[slash] === '?' ? '' : rest.slice(slash + 1).split('?')[0];
  const hosts = srv
    ? `the SRV record _mongodb._tcp.${hostList}`
    : hostList.split(',').map((h) => (/:\d+$/.test(h) ? h : `${h}:27017`)).join(', ');
  return { hosts, dbName: decodeURIComponent(path) || DEFAULT_DB };
}

export async function connectMongo(url: string, serverSelectionTimeoutMs: number): Promise<{ client: MongoClient; db: Db }> {
  const where = describeMongoUrl(url);
  let client: MongoClient;
  try {
    // Majority + journal: a write is acknowledged once it would survive a crash, like synchronous=FULL on SQLite.
    client = new MongoClient(url, {
      serverSelectionTimeoutMS: serverSelectionTimeoutMs,
      writeConcern: { w: 'majority', journal: true },
      appName: 'payout-sandbox',
    });
  } catch (err) {
    throw new StoreOpenError(`malformed MongoDB URL ${redactUrl(url)}: ${(err as Error).message}. ` +
      'Expected mongodb://host:27017/payout_sandbox or mongodb+srv://cluster.example.net/payout_sandbox', { cause: err });
  }
  try {
    await client.connect();
    const db = client.db(where.dbName);
    await db.command({ ping: 1 });
    return { client, db };
  } catch (err) {
    await client.close().catch(() => {});
    if (err instanceof MongoServerError) {
      throw new StoreOpenError(`MongoDB at ${where.hosts} refused to open database ${where.dbName}: ${err.message}. ` +
        'Check the user name, password and authSource in the URL given by --db / PAYOUT_SANDBOX_DB', { cause: err });
    }
    throw new StoreOpenError(`could not reach MongoDB at ${where.hosts} (database ${where.dbName}) within ` +
      `${serverSelectionTimeoutMs} ms: ${(err as Error).message}. Check that mongod is running and reachable from ` +
      'this machine and that the URL in --db / PAYOUT_SANDBOX_DB is right, or use the embedded default --db sqlite:./data/payout-sandbox.db',
    { cause: err });
  }
}

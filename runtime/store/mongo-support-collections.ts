// The MongoDB collections around the payout path: plugin config, network grants, audit log, plugin
// log, webhook inbox, routes and named leases, plus the connection plumbing. MongoStore
// (mongo-store.ts, where the no-transactions design is explained) adds orders, attempts, txs and IPNs.
import type { Collection, Db, Document, MongoClient } from 'mongodb';
import { newId } from './ids.ts';
import { StoreInputError } from './errors.ts';
import { C, NO_ID, createIndexes, fromPairs, isDuplicateKey, toPairs } from './mongo-schema.ts';
import { isoAt, revisionConflict, webhookBytes, webhookResultBytes } from './records.ts';
import type { PluginQuotaKind, RetainedKind } from './store.ts';
import {
  Checker, LEASE_MS_MAX, checkAuditQuery, checkAuditRecords, checkConfigEntry, checkGrant, checkLogLines, checkRoute,
  checkEngineChoice, checkPluginRecord, checkRoutePatch, checkWebhook,
} from './validate.ts';
import type {
  AuditQuery, AuditRecord, InboxState, NetworkGrant, NewAuditRecord, NewRoute, NewWebhookDelivery, PluginConfigEntry,
  PluginEngineChoice, PluginLogLine, PluginRecord, Route, WebhookDelivery,
} from './types.ts';

/** Where each retained kind lives, which field dates it, and which documents may go at all. */
const RETAINED: Record<RetainedKind, { collection: string; time: string; filter: Document }> = {
  webhooks: { collection: C.webhooks, time: 'receivedAt', filter: {} },
  audit: { collection: C.audit, time: 'at', filter: {} },
  pluginLog: { collection: C.log, time: 'at', filter: {} },
  ipnHistory: { collection: C.ipns, time: 'updatedAt', filter: { state: { $in: ['sent', 'failed'] } } },
};

export interface MongoStoreOptions {
  now?: () => number;
  /** How long to look for a reachable server before giving up (connect and every operation). */
  serverSelectionTimeoutMs?: number;
}

/** Documents have string _ids; the driver's generics would otherwise assume ObjectId. */
export type Doc = Document & { _id: string };

export class MongoSupportCollections {
  protected readonly client: MongoClient;
  protected readonly db: Db;
  protected readonly now: () => number;

  constructor(client: MongoClient, db: Db, options: MongoStoreOptions = {}) {
    this.client = client;
    this.db = db;
    this.now = options.now ?? Date.now;
  }

  get databaseName(): string { return this.db.databaseName; }

  async init(): Promise<void> { await createIndexes(this.db); }
  async close(): Promise<void> { await this.client.close(); }

  // ---- plugin config, network grants --------------------------------------------------------------

  async getConfig(plugin: string, key: string): Promise<PluginConfigEntry | null> {
    const c = new Checker('getConfig');
    return this.findOne(C.config, { plugin: c.text('plugin', plugin), key: c.text('key', key) }, NO_ID);
  }

  async listConfig(plugin: string): Promise<PluginConfigEntry[]> {
    const p = new Checker('listConfig').text('plugin', plugin);
    return await this.c(C.config).find({ plugin: p }, { projection: NO_ID }).sort({ key: 1 }).toArray() as unknown as PluginConfigEntry[];
  }

  async setConfig(entry: Omit<PluginConfigEntry, 'updatedAt'>): Promise<PluginConfigEntry> {
    const saved: PluginConfigEntry = { ...checkConfigEntry(entry), updatedAt: this.iso() };
    await this.upsert(C.config, { plugin: saved.plugin, key: saved.key }, saved);
    return saved;
  }

  async listGrants(plugin?: string): Promise<NetworkGrant[]> {
    const filter = plugin === undefined ? {} : { plugin: new Checker('listGrants').text('plugin', plugin) };
    return await this.c(C.grants).find(filter, { projection: NO_ID }).sort({ plugin: 1, origin: 1 }).toArray() as unknown as NetworkGrant[];
  }

  async upsertGrant(g: Omit<NetworkGrant, 'updatedAt'>): Promise<NetworkGrant> {
    const saved: NetworkGrant = { ...checkGrant(g), updatedAt: this.iso() };
    await this.upsert(C.grants, { plugin: saved.plugin, origin: saved.origin }, saved);
    return saved;
  }

  async deleteGrant(plugin: string, origin: string): Promise<void> {
    const c = new Checker('deleteGrant');
    await this.c(C.grants).deleteOne({ plugin: c.text('plugin', plugin), origin: c.text('origin', origin) });
  }

  // ---- audit, plugin log --------------------------------------------------------------------------

  async appendAudit(records: NewAuditRecord[]): Promise<void> {
    const checked = checkAuditRecords(records);
    if (checked.length) await this.c(C.audit).insertMany(checked.map((r) => ({ _id: newId(this.now()), ...r })), { ordered: true });
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const checked = checkAuditQuery(query);
    const filter: Document = {};
    for (const k of ['plugin', 'capability', 'decision', 'callId'] as const) if (checked[k] !== undefined) filter[k] = checked[k];
    if (checked.since !== undefined || checked.until !== undefined) {
      filter.at = { ...(checked.since !== undefined ? { $gte: checked.since } : {}), ...(checked.until !== undefined ? { $lte: checked.until } : {}) };
    }
    return await this.c(C.audit).find(filter).sort({ at: -1, _id: -1 }).limit(checked.limit).toArray() as unknown as AuditRecord[];
  }

  async appendPluginLog(lines: Omit<PluginLogLine, '_id'>[]): Promise<void> {
    const checked = checkLogLines(lines);
    if (checked.length) await this.c(C.log).insertMany(checked.map((l) => ({ _id: newId(this.now()), ...l })), { ordered: true });
  }

  async queryPluginLog(query: { plugin: string; limit?: number; since?: string }): Promise<PluginLogLine[]> {
    const c = new Checker('queryPluginLog');
    const o = c.object('query', query);
    const filter: Document = { plugin: c.text('plugin', o.plugin) };
    if (o.since !== undefined) filter.at = { $gte: c.time('since', o.since) };
    return await this.c(C.log).find(filter).sort({ at: -1, _id: -1 }).limit(c.limit(o.limit, 200, 10_000)).toArray() as unknown as PluginLogLine[];
  }

  // ---- webhook inbox ------------------------------------------------------------------------------

  async recordWebhook(d: NewWebhookDelivery): Promise<WebhookDelivery> {
    const delivery: WebhookDelivery = {
      _id: newId(this.now()), ...checkWebhook(d), state: 'received', responseStatus: null, responseBody: null, error: null,
    };
    await this.c(C.webhooks).insertOne({ ...delivery, headers: toPairs(delivery.headers), query: toPairs(delivery.query), bytes: webhookBytes(delivery) });
    return delivery;
  }

  async finishWebhook(id: string, r: { state: InboxState; responseStatus: number | null; responseBody: string | null; error: string | null }): Promise<void> {
    const c = new Checker('finishWebhook');
    const o = c.object('result', r);
    const responseBody = c.textOrNull('responseBody', o.responseBody);
    const error = c.textOrNull('error', o.error);
    // A delivery is finished once; its answer and error then count towards the inbox quota too.
    const written = await this.c(C.webhooks).updateOne({ _id: c.text('id', id) }, { $set: {
      state: c.oneOf('state', o.state, ['received', 'processed', 'failed'] as const),
      responseStatus: o.responseStatus === null ? null : c.int('responseStatus', o.responseStatus, 100, 599),
      responseBody, error,
    }, $inc: { bytes: webhookResultBytes({ responseBody, error }) } });
    if (written.matchedCount !== 1) throw new StoreInputError('finishWebhook', `no webhook delivery ${id}`);
  }

  async listWebhooks(query: { plugin?: string; limit?: number }): Promise<WebhookDelivery[]> {
    const c = new Checker('listWebhooks');
    const o = c.object('query', query);
    const filter = o.plugin === undefined ? {} : { plugin: c.text('plugin', o.plugin) };
    const docs = await this.c(C.webhooks).find(filter, { projection: { bytes: 0 } }).sort({ receivedAt: -1, _id: -1 }).limit(c.limit(o.limit, 50, 1000)).toArray();
    return docs.map((d) => ({ ...d, headers: fromPairs(d.headers), query: fromPairs(d.query) }) as unknown as WebhookDelivery);
  }

  // ---- retention and quotas ----------------------------------------------------------------------
  // Deletes go by _id lists of bounded size: one call never holds a long-running multi-document write.

  async pruneOlderThan(kind: RetainedKind, before: string, limit: number): Promise<number> {
    const c = new Checker('pruneOlderThan');
    const { collection, time, filter } = RETAINED[c.oneOf('kind', kind, Object.keys(RETAINED) as RetainedKind[])];
    const cutoff = c.time('before', before);
    const max = c.int('limit', limit, 1, 100_000);
    const ids = (await this.c(collection).find({ ...filter, [time]: { $lt: cutoff } }, { projection: { _id: 1 } })
      .sort({ [time]: 1, _id: 1 }).limit(max).toArray()).map((d) => d._id);
    if (kind === 'ipnHistory' && ids.length) {
      // An IPN whose copy on its order was not yet removed (a flush cut short, see mongo-outbox.ts)
      // would be copied back as new — and sent again — if its collection document went first.
      const held = await this.c(C.orders).find({ 'pendingIpns._id': { $in: ids } }, { projection: { 'pendingIpns._id': 1 } }).toArray();
      const keep = new Set(held.flatMap((o) => (o.pendingIpns as { _id: string }[]).map((m) => m._id)));
      return this.deleteIds(collection, ids.filter((id) => !keep.has(id)));
    }
    return this.deleteIds(collection, ids);
  }

  async pruneBeyondQuota(kind: PluginQuotaKind, plugin: string, keep: number, limit: number): Promise<number> {
    const c = new Checker('pruneBeyondQuota');
    const collection = RETAINED[c.oneOf('kind', kind, ['audit', 'pluginLog'] as const)].collection;
    const ids = await this.c(collection).find({ plugin: c.text('plugin', plugin) }, { projection: { _id: 1 } })
      .sort({ at: -1, _id: -1 }).skip(c.int('keep', keep, 0)).limit(c.int('limit', limit, 1, 100_000)).toArray();
    return this.deleteIds(collection, ids.map((d) => d._id));
  }

  async pluginsOverQuota(kind: PluginQuotaKind, rows: number): Promise<string[]> {
    const c = new Checker('pluginsOverQuota');
    const collection = RETAINED[c.oneOf('kind', kind, ['audit', 'pluginLog'] as const)].collection;
    const over = await this.c(collection).aggregate<{ _id: string }>([
      { $match: { plugin: { $type: 'string' } } },
      { $group: { _id: '$plugin', n: { $sum: 1 } } },
      { $match: { n: { $gt: c.int('rows', rows, 0) } } },
      { $sort: { _id: 1 } },
    ]).toArray();
    return over.map((d) => d._id);
  }

  async webhookUsage(plugin: string): Promise<{ rows: number; bytes: number }> {
    const [usage] = await this.c(C.webhooks).aggregate<{ rows: number; bytes: number }>([
      { $match: { plugin: new Checker('webhookUsage').text('plugin', plugin) } },
      // Documents stored before the count existed are counted by their BSON size instead.
      { $group: { _id: null, rows: { $sum: 1 }, bytes: { $sum: { $ifNull: ['$bytes', { $bsonSize: '$$ROOT' }] } } } },
    ]).toArray();
    return { rows: usage?.rows ?? 0, bytes: usage?.bytes ?? 0 };
  }

  private async deleteIds(collection: string, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return (await this.c(collection).deleteMany({ _id: { $in: ids } })).deletedCount;
  }

  // ---- routes -------------------------------------------------------------------------------------

  async createRoute(r: NewRoute): Promise<Route> {
    const now = this.iso();
    const route: Route = { _id: newId(this.now()), ...checkRoute(r), createdAt: now, updatedAt: now };
    await this.c(C.routes).insertOne({ ...route });
    return route;
  }

  async getRoute(id: string): Promise<Route | null> {
    return this.findOne(C.routes, { _id: new Checker('getRoute').text('id', id) });
  }

  async listRoutes(): Promise<Route[]> {
    return await this.c(C.routes).find({}).sort({ createdAt: 1, _id: 1 }).toArray() as unknown as Route[];
  }

  async updateRoute(id: string, patch: Partial<NewRoute>): Promise<Route | null> {
    const routeId = new Checker('updateRoute').text('id', id);
    const changes = { ...checkRoutePatch(patch), updatedAt: this.iso() };
    return await this.c(C.routes).findOneAndUpdate({ _id: routeId }, { $set: changes }, { returnDocument: 'after' }) as unknown as Route | null;
  }

  // ---- plugin records -----------------------------------------------------------------------------
  // One document per plugin, _id = key. The compare-and-set is one conditional write: an insert that
  // collides on _id (revision 0), or an updateOne filtered on the revision that was read.

  async getPluginRecord(key: string): Promise<PluginRecord | null> {
    return this.findOne(C.pluginRecords, { _id: new Checker('getPluginRecord').text('key', key) }, NO_ID);
  }

  async listPluginRecords(): Promise<PluginRecord[]> {
    return await this.c(C.pluginRecords).find({}, { projection: NO_ID }).sort({ _id: 1 }).toArray() as unknown as PluginRecord[];
  }

  async putPluginRecord(record: Omit<PluginRecord, 'updatedAt'>): Promise<PluginRecord> {
    const input = checkPluginRecord(record);
    const saved: PluginRecord = { ...input, revision: input.revision + 1, updatedAt: this.iso() };
    const records = this.c(C.pluginRecords);
    if (input.revision === 0) {
      try {
        await records.insertOne({ _id: saved.key, ...saved });
        return saved;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
      }
    } else {
      const written = await records.replaceOne({ _id: saved.key, revision: input.revision }, { ...saved });
      if (written.matchedCount === 1) return saved;
    }
    const stored = await records.findOne({ _id: saved.key }, { projection: { revision: 1 } });
    throw revisionConflict(saved.key, input.revision, typeof stored?.revision === 'number' ? stored.revision : 0);
  }

  // ---- the engine chosen per plugin (one document per plugin, _id = plugin) --------------------------

  async getPluginEngineChoice(plugin: string): Promise<PluginEngineChoice | null> {
    return this.findOne(C.engines, { _id: new Checker('getPluginEngineChoice').text('plugin', plugin) }, NO_ID);
  }

  async listPluginEngineChoices(): Promise<PluginEngineChoice[]> {
    return await this.c(C.engines).find({}, { projection: NO_ID }).sort({ _id: 1 }).toArray() as unknown as PluginEngineChoice[];
  }

  async setPluginEngineChoice(choice: Omit<PluginEngineChoice, 'chosenAt'>): Promise<PluginEngineChoice> {
    const saved: PluginEngineChoice = { ...checkEngineChoice(choice), chosenAt: this.iso() };
    await this.upsert(C.engines, { _id: saved.plugin }, { ...saved });
    return saved;
  }

  async clearPluginEngineChoice(plugin: string): Promise<void> {
    await this.c(C.engines).deleteOne({ _id: new Checker('clearPluginEngineChoice').text('plugin', plugin) });
  }

  // ---- named leases -------------------------------------------------------------------------------

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const c = new Checker('acquireLease');
    const leaseName = c.text('name', name);
    const who = c.text('owner', owner);
    const now = this.now();
    const until = isoAt(now + c.int('ttlMs', ttlMs, 1, LEASE_MS_MAX));
    try {
      await this.c(C.leases).updateOne({ _id: leaseName, $or: [{ owner: who }, { until: { $lte: isoAt(now) } }] },
        { $set: { owner: who, until } }, { upsert: true });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    const c = new Checker('releaseLease');
    await this.c(C.leases).deleteOne({ _id: c.text('name', name), owner: c.text('owner', owner) });
  }

  protected iso(): string { return isoAt(this.now()); }
  protected c(name: string): Collection<Doc> { return this.db.collection<Doc>(name); }

  protected async findOne<R>(collection: string, filter: Document, projection?: Document): Promise<R | null> {
    return await this.c(collection).findOne(filter, projection ? { projection } : {}) as unknown as R | null;
  }

  protected async upsert(collection: string, key: Document, doc: Document): Promise<void> {
    try {
      await this.c(collection).updateOne(key, { $set: doc }, { upsert: true });
    } catch (err) {
      // Two first writes of one key race their inserts; the loser updates the row the winner made.
      if (!isDuplicateKey(err)) throw err;
      await this.c(collection).updateOne(key, { $set: doc });
    }
  }
}

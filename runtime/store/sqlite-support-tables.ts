// The tables around the payout path: plugin config, network grants, audit log, plugin log, webhook
// inbox, routes and named leases. SqliteStore (sqlite-store.ts) adds orders, attempts, txs and IPNs.
import { newId } from './ids.ts';
import { StoreInputError } from './errors.ts';
import { isoAt, revisionConflict, webhookBytes, webhookResultBytes } from './records.ts';
import { SqliteConnection } from './sqlite-connection.ts';
import { T, fromRow, insertSql, q, toColumn, toParams } from './sqlite-schema.ts';
import type { SqlParam } from './sqlite-tx-sql.ts';
import type { PluginQuotaKind, RetainedKind } from './store.ts';
import {
  Checker, LEASE_MS_MAX, checkAuditQuery, checkAuditRecords, checkConfigEntry, checkGrant, checkLogLines, checkRoute,
  checkEngineChoice, checkPluginRecord, checkRoutePatch, checkWebhook,
} from './validate.ts';
import type {
  AuditQuery, AuditRecord, InboxState, NetworkGrant, NewAuditRecord, NewRoute, NewWebhookDelivery, PluginConfigEntry,
  PluginEngineChoice, PluginLogLine, PluginRecord, Route, WebhookDelivery,
} from './types.ts';

/** Where each retained kind lives, which column dates it, and which rows may go at all. */
const RETAINED: Record<RetainedKind, { table: string; time: string; where: string }> = {
  webhooks: { table: 'webhook_inbox', time: 'receivedAt', where: '' },
  audit: { table: 'audit_log', time: 'at', where: '' },
  pluginLog: { table: 'plugin_log', time: 'at', where: '' },
  ipnHistory: { table: 'ipn_outbox', time: 'updatedAt', where: `"state" IN ('sent', 'failed') AND` },
};

export class SqliteSupportTables extends SqliteConnection {
  // ---- plugin config, network grants --------------------------------------------------------------

  async getConfig(plugin: string, key: string): Promise<PluginConfigEntry | null> {
    const c = new Checker('getConfig');
    return this.one(T.config, 'SELECT * FROM plugin_config WHERE "plugin" = ? AND "key" = ?', c.text('plugin', plugin), c.text('key', key));
  }

  async listConfig(plugin: string): Promise<PluginConfigEntry[]> {
    return this.all(T.config, 'SELECT * FROM plugin_config WHERE "plugin" = ? ORDER BY "key"', new Checker('listConfig').text('plugin', plugin));
  }

  async setConfig(entry: Omit<PluginConfigEntry, 'updatedAt'>): Promise<PluginConfigEntry> {
    const saved: PluginConfigEntry = { ...checkConfigEntry(entry), updatedAt: this.iso() };
    this.run(`${insertSql(T.config)} ON CONFLICT ("plugin", "key") DO UPDATE SET "value" = excluded."value",
      "secret" = excluded."secret", "updatedAt" = excluded."updatedAt"`, toParams(T.config, saved));
    return saved;
  }

  async listGrants(plugin?: string): Promise<NetworkGrant[]> {
    if (plugin === undefined) return this.all(T.grants, 'SELECT * FROM network_grants ORDER BY "plugin", "origin"');
    return this.all(T.grants, 'SELECT * FROM network_grants WHERE "plugin" = ? ORDER BY "origin"', new Checker('listGrants').text('plugin', plugin));
  }

  async upsertGrant(g: Omit<NetworkGrant, 'updatedAt'>): Promise<NetworkGrant> {
    const saved: NetworkGrant = { ...checkGrant(g), updatedAt: this.iso() };
    const updates = T.grants.columns.filter((k) => k !== 'plugin' && k !== 'origin').map((k) => `${q(k)} = excluded.${q(k)}`);
    this.run(`${insertSql(T.grants)} ON CONFLICT ("plugin", "origin") DO UPDATE SET ${updates.join(', ')}`, toParams(T.grants, saved));
    return saved;
  }

  async deleteGrant(plugin: string, origin: string): Promise<void> {
    const c = new Checker('deleteGrant');
    this.run('DELETE FROM network_grants WHERE "plugin" = ? AND "origin" = ?', c.text('plugin', plugin), c.text('origin', origin));
  }

  // ---- audit, plugin log --------------------------------------------------------------------------

  async appendAudit(records: NewAuditRecord[]): Promise<void> {
    this.insertBatch(T.audit, checkAuditRecords(records));
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const checked = checkAuditQuery(query);
    const where: string[] = [];
    const params: SqlParam[] = [];
    for (const k of ['plugin', 'capability', 'decision', 'callId'] as const) {
      if (checked[k] !== undefined) { where.push(`${q(k)} = ?`); params.push(checked[k]); }
    }
    if (checked.since !== undefined) { where.push('"at" >= ?'); params.push(checked.since); }
    if (checked.until !== undefined) { where.push('"at" <= ?'); params.push(checked.until); }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.all(T.audit, `SELECT * FROM audit_log ${filter} ORDER BY "at" DESC, "_id" DESC LIMIT ?`, ...params, checked.limit);
  }

  async appendPluginLog(lines: Omit<PluginLogLine, '_id'>[]): Promise<void> {
    this.insertBatch(T.log, checkLogLines(lines));
  }

  async queryPluginLog(query: { plugin: string; limit?: number; since?: string }): Promise<PluginLogLine[]> {
    const c = new Checker('queryPluginLog');
    const o = c.object('query', query);
    const since = o.since === undefined ? '' : c.time('since', o.since);
    return this.all(T.log, `SELECT * FROM plugin_log WHERE "plugin" = ? AND "at" >= ? ORDER BY "at" DESC, "_id" DESC LIMIT ?`,
      c.text('plugin', o.plugin), since, c.limit(o.limit, 200, 10_000));
  }

  // ---- webhook inbox ------------------------------------------------------------------------------

  async recordWebhook(d: NewWebhookDelivery): Promise<WebhookDelivery> {
    const delivery: WebhookDelivery = {
      _id: newId(this.now()), ...checkWebhook(d), state: 'received', responseStatus: null, responseBody: null, error: null,
    };
    this.run(insertSql(T.webhooks), toParams(T.webhooks, { ...delivery, bytes: webhookBytes(delivery) }));
    return delivery;
  }

  async finishWebhook(id: string, r: { state: InboxState; responseStatus: number | null; responseBody: string | null; error: string | null }): Promise<void> {
    const c = new Checker('finishWebhook');
    const o = c.object('result', r);
    const responseBody = c.textOrNull('responseBody', o.responseBody);
    const error = c.textOrNull('error', o.error);
    // A delivery is finished once; its answer and error then count towards the inbox quota too.
    const changed = this.run(`UPDATE webhook_inbox SET "state" = ?, "responseStatus" = ?, "responseBody" = ?, "error" = ?,
      "bytes" = "bytes" + ? WHERE "_id" = ?`,
      c.oneOf('state', o.state, ['received', 'processed', 'failed'] as const),
      o.responseStatus === null ? null : c.int('responseStatus', o.responseStatus, 100, 599),
      responseBody, error, webhookResultBytes({ responseBody, error }), c.text('id', id));
    if (changed !== 1) throw new StoreInputError('finishWebhook', `no webhook delivery ${id}`);
  }

  async listWebhooks(query: { plugin?: string; limit?: number }): Promise<WebhookDelivery[]> {
    const c = new Checker('listWebhooks');
    const o = c.object('query', query);
    const limit = c.limit(o.limit, 50, 1000);
    if (o.plugin === undefined) return this.all(T.webhooks, 'SELECT * FROM webhook_inbox ORDER BY "receivedAt" DESC, "_id" DESC LIMIT ?', limit);
    return this.all(T.webhooks, 'SELECT * FROM webhook_inbox WHERE "plugin" = ? ORDER BY "receivedAt" DESC, "_id" DESC LIMIT ?',
      c.text('plugin', o.plugin), limit);
  }

  // ---- retention and quotas ----------------------------------------------------------------------

  async pruneOlderThan(kind: RetainedKind, before: string, limit: number): Promise<number> {
    const c = new Checker('pruneOlderThan');
    const { table, time, where } = RETAINED[c.oneOf('kind', kind, Object.keys(RETAINED) as RetainedKind[])];
    return this.run(`DELETE FROM ${table} WHERE "_id" IN (SELECT "_id" FROM ${table} WHERE ${where} ${q(time)} < ? ORDER BY ${q(time)}, "_id" LIMIT ?)`,
      c.time('before', before), c.int('limit', limit, 1, 100_000));
  }

  async pruneBeyondQuota(kind: PluginQuotaKind, plugin: string, keep: number, limit: number): Promise<number> {
    const c = new Checker('pruneBeyondQuota');
    const table = RETAINED[c.oneOf('kind', kind, ['audit', 'pluginLog'] as const)].table;
    return this.run(`DELETE FROM ${table} WHERE "_id" IN (SELECT "_id" FROM ${table} WHERE "plugin" = ? ORDER BY "at" DESC, "_id" DESC LIMIT ? OFFSET ?)`,
      c.text('plugin', plugin), c.int('limit', limit, 1, 100_000), c.int('keep', keep, 0));
  }

  async pluginsOverQuota(kind: PluginQuotaKind, rows: number): Promise<string[]> {
    const c = new Checker('pluginsOverQuota');
    const table = RETAINED[c.oneOf('kind', kind, ['audit', 'pluginLog'] as const)].table;
    return this.stmt(`SELECT "plugin" FROM ${table} WHERE "plugin" IS NOT NULL GROUP BY "plugin" HAVING COUNT(*) > ? ORDER BY "plugin"`)
      .all(c.int('rows', rows, 0)).map((r) => r.plugin as string);
  }

  async webhookUsage(plugin: string): Promise<{ rows: number; bytes: number }> {
    const row = this.get('SELECT COUNT(*) AS n, COALESCE(SUM("bytes"), 0) AS b FROM webhook_inbox WHERE "plugin" = ?', new Checker('webhookUsage').text('plugin', plugin));
    return { rows: Number(row?.n ?? 0), bytes: Number(row?.b ?? 0) };
  }

  // ---- routes -------------------------------------------------------------------------------------

  async createRoute(r: NewRoute): Promise<Route> {
    const now = this.iso();
    const route: Route = { _id: newId(this.now()), ...checkRoute(r), createdAt: now, updatedAt: now };
    this.run(insertSql(T.routes), toParams(T.routes, route));
    return route;
  }

  async getRoute(id: string): Promise<Route | null> {
    return this.one(T.routes, 'SELECT * FROM routes WHERE "_id" = ?', new Checker('getRoute').text('id', id));
  }

  async listRoutes(): Promise<Route[]> {
    return this.all(T.routes, 'SELECT * FROM routes ORDER BY "createdAt", "_id"');
  }

  async updateRoute(id: string, patch: Partial<NewRoute>): Promise<Route | null> {
    const routeId = new Checker('updateRoute').text('id', id);
    const changes: Record<string, unknown> = { ...checkRoutePatch(patch), updatedAt: this.iso() };
    const columns = Object.keys(changes).sort();
    const rows = this.stmt(`UPDATE routes SET ${columns.map((k) => `${q(k)} = ?`).join(', ')} WHERE "_id" = ? RETURNING *`)
      .all(...columns.map((k) => toColumn(T.routes, k, changes[k])), routeId);
    return rows.length ? fromRow<Route>(T.routes, rows[0]) : null;
  }

  // ---- plugin records -----------------------------------------------------------------------------

  async getPluginRecord(key: string): Promise<PluginRecord | null> {
    return this.one(T.pluginRecords, 'SELECT * FROM plugin_records WHERE "key" = ?', new Checker('getPluginRecord').text('key', key));
  }

  async listPluginRecords(): Promise<PluginRecord[]> {
    return this.all(T.pluginRecords, 'SELECT * FROM plugin_records ORDER BY "key"');
  }

  async putPluginRecord(record: Omit<PluginRecord, 'updatedAt'>): Promise<PluginRecord> {
    const input = checkPluginRecord(record);
    const saved: PluginRecord = { ...input, revision: input.revision + 1, updatedAt: this.iso() };
    return this.write(() => {
      const stored = this.get('SELECT "revision" FROM plugin_records WHERE "key" = ?', input.key)?.revision as number | undefined;
      if ((stored ?? 0) !== input.revision) throw revisionConflict(input.key, input.revision, stored ?? 0);
      if (stored === undefined) this.run(insertSql(T.pluginRecords), toParams(T.pluginRecords, saved));
      else {
        this.run(`UPDATE plugin_records SET "revision" = :revision, "current" = :current, "previous" = :previous,
          "pending" = :pending, "updatedAt" = :updatedAt WHERE "key" = :key`, toParams(T.pluginRecords, saved));
      }
      return saved;
    });
  }

  // ---- the engine chosen per plugin ----------------------------------------------------------------

  async getPluginEngineChoice(plugin: string): Promise<PluginEngineChoice | null> {
    return this.one(T.engines, 'SELECT * FROM plugin_engines WHERE "plugin" = ?', new Checker('getPluginEngineChoice').text('plugin', plugin));
  }

  async listPluginEngineChoices(): Promise<PluginEngineChoice[]> {
    return this.all(T.engines, 'SELECT * FROM plugin_engines ORDER BY "plugin"');
  }

  async setPluginEngineChoice(choice: Omit<PluginEngineChoice, 'chosenAt'>): Promise<PluginEngineChoice> {
    const saved: PluginEngineChoice = { ...checkEngineChoice(choice), chosenAt: this.iso() };
    this.run(`${insertSql(T.engines)} ON CONFLICT ("plugin") DO UPDATE SET "engine" = excluded."engine",
      "chosenBy" = excluded."chosenBy", "chosenAt" = excluded."chosenAt"`, toParams(T.engines, saved));
    return saved;
  }

  async clearPluginEngineChoice(plugin: string): Promise<void> {
    this.run('DELETE FROM plugin_engines WHERE "plugin" = ?', new Checker('clearPluginEngineChoice').text('plugin', plugin));
  }

  // ---- named leases -------------------------------------------------------------------------------

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const c = new Checker('acquireLease');
    const now = this.now();
    return this.run(`INSERT INTO leases ("name", "owner", "until") VALUES (:name, :owner, :until)
      ON CONFLICT ("name") DO UPDATE SET "owner" = excluded."owner", "until" = excluded."until"
      WHERE leases."owner" = excluded."owner" OR leases."until" <= :now`,
    { name: c.text('name', name), owner: c.text('owner', owner), until: isoAt(now + c.int('ttlMs', ttlMs, 1, LEASE_MS_MAX)), now: isoAt(now) }) === 1;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    const c = new Checker('releaseLease');
    this.run('DELETE FROM leases WHERE "name" = ? AND "owner" = ?', c.text('name', name), c.text('owner', owner));
  }
}

// The SQLite schema as an ordered list of migrations, and the row <-> record mapping of each table.
// Columns carry the record's field names so mapping stays mechanical; identifiers are always
// double-quoted because several fields (`order`, `transaction`, `to`, `key`) are SQL keywords.
import type { DatabaseSync } from 'node:sqlite';
import { ATTEMPT_STATES, LIVE_ATTEMPT_STATES, ORDER_STATUSES } from './types.ts';

const list = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

export interface Migration { version: number; name: string; sql: string }

/** Append only: a released migration is never edited, a change is a new entry. */
export const MIGRATIONS: readonly Migration[] = [{
  version: 1,
  name: 'initial schema',
  sql: `
CREATE TABLE orders (
  "_id" TEXT PRIMARY KEY, "uid" INTEGER NOT NULL UNIQUE, "secret" TEXT NOT NULL,
  "status" TEXT NOT NULL CHECK ("status" IN (${list(ORDER_STATUSES)})),
  "routeId" TEXT NOT NULL, "inAmount" TEXT NOT NULL, "outAmount" TEXT NOT NULL, "fromXml" TEXT NOT NULL,
  "toXml" TEXT NOT NULL, "outSymbol" TEXT NOT NULL, "fromValues" TEXT NOT NULL, "toValues" TEXT NOT NULL,
  "routeValues" TEXT NOT NULL, "lang" TEXT NOT NULL, "agreement" INTEGER NOT NULL, "hideOutData" INTEGER NOT NULL,
  "clientCallbackUrl" TEXT, "ipnUrl" TEXT, "ipnSecret" TEXT, "partner" TEXT, "payoutModule" TEXT,
  "payoutStatus" TEXT, "orderNote" TEXT, "holdReason" TEXT, "version" INTEGER NOT NULL,
  "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
) STRICT;
CREATE INDEX orders_by_status ON orders ("status", "uid");
CREATE INDEX orders_by_module ON orders ("payoutModule", "uid");

CREATE TABLE order_history (
  "_id" TEXT PRIMARY KEY, "orderId" TEXT NOT NULL REFERENCES orders ("_id"),
  "orderVersion" INTEGER NOT NULL, "at" TEXT NOT NULL, "fromStatus" TEXT, "toStatus" TEXT NOT NULL,
  "actor" TEXT NOT NULL, "payoutStatus" TEXT, "comment" TEXT,
  UNIQUE ("orderId", "orderVersion")
) STRICT;

CREATE TABLE payout_attempts (
  "_id" TEXT PRIMARY KEY, "orderId" TEXT NOT NULL REFERENCES orders ("_id"), "plugin" TEXT NOT NULL,
  "state" TEXT NOT NULL CHECK ("state" IN (${list(ATTEMPT_STATES)})),
  "live" INTEGER NOT NULL CHECK ("live" = ("state" IN (${list(LIVE_ATTEMPT_STATES)}))),
  "fence" INTEGER NOT NULL, "leaseOwner" TEXT, "leaseUntil" TEXT, "requestsSent" INTEGER NOT NULL,
  "transaction" TEXT, "reportedAmount" TEXT, "reportedCurrency" TEXT, "reason" TEXT, "reviewDeadline" TEXT,
  "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX payout_attempts_one_live_per_order ON payout_attempts ("orderId") WHERE "live" = 1;
CREATE INDEX payout_attempts_by_order ON payout_attempts ("orderId", "createdAt");
CREATE INDEX payout_attempts_by_state ON payout_attempts ("state", "updatedAt");

CREATE TABLE payout_txs (
  "_id" TEXT PRIMARY KEY, "order" TEXT NOT NULL, "transaction" TEXT NOT NULL, "payoutModule" TEXT NOT NULL,
  "active" INTEGER NOT NULL, "amount" TEXT NOT NULL, "currency" TEXT NOT NULL, "to" TEXT, "note" TEXT,
  "attemptId" TEXT, "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
) STRICT;
CREATE INDEX payout_txs_by_module ON payout_txs ("payoutModule", "_id");
CREATE INDEX payout_txs_by_order ON payout_txs ("payoutModule", "order");
CREATE INDEX payout_txs_by_transaction ON payout_txs ("payoutModule", "transaction");
CREATE INDEX payout_txs_by_active ON payout_txs ("payoutModule", "active", "createdAt");

CREATE TABLE plugin_config (
  "plugin" TEXT NOT NULL, "key" TEXT NOT NULL, "value" TEXT NOT NULL, "secret" INTEGER NOT NULL,
  "updatedAt" TEXT NOT NULL, PRIMARY KEY ("plugin", "key")
) STRICT;

CREATE TABLE network_grants (
  "plugin" TEXT NOT NULL, "origin" TEXT NOT NULL, "pathPrefix" TEXT, "methods" TEXT, "requested" INTEGER NOT NULL,
  "approved" INTEGER NOT NULL, "approvedBy" TEXT, "approvedAt" TEXT, "updatedAt" TEXT NOT NULL,
  PRIMARY KEY ("plugin", "origin")
) STRICT;

CREATE TABLE audit_log (
  "_id" TEXT PRIMARY KEY, "at" TEXT NOT NULL, "plugin" TEXT, "actor" TEXT NOT NULL, "callId" TEXT,
  "capability" TEXT NOT NULL, "decision" TEXT NOT NULL CHECK ("decision" IN ('allowed', 'denied', 'error')),
  "rule" TEXT, "summary" TEXT NOT NULL, "durationMs" REAL NOT NULL
) STRICT;
CREATE INDEX audit_log_by_time ON audit_log ("at", "_id");
CREATE INDEX audit_log_by_plugin ON audit_log ("plugin", "at");
CREATE INDEX audit_log_by_capability ON audit_log ("capability", "at");
CREATE INDEX audit_log_by_call ON audit_log ("callId");

CREATE TABLE ipn_outbox (
  "_id" TEXT PRIMARY KEY, "orderId" TEXT NOT NULL REFERENCES orders ("_id"),
  "status" TEXT NOT NULL, "url" TEXT NOT NULL, "fields" TEXT NOT NULL,
  "state" TEXT NOT NULL CHECK ("state" IN ('pending', 'sending', 'sent', 'failed')),
  "attempts" INTEGER NOT NULL, "maxAttempts" INTEGER NOT NULL, "nextAttemptAt" TEXT NOT NULL, "leaseUntil" TEXT,
  "lastError" TEXT, "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
) STRICT;
CREATE INDEX ipn_outbox_due ON ipn_outbox ("state", "nextAttemptAt");
CREATE INDEX ipn_outbox_leased ON ipn_outbox ("state", "leaseUntil");
CREATE INDEX ipn_outbox_by_order ON ipn_outbox ("orderId", "createdAt");

CREATE TABLE webhook_inbox (
  "_id" TEXT PRIMARY KEY, "plugin" TEXT NOT NULL, "callback" TEXT NOT NULL, "receivedAt" TEXT NOT NULL,
  "method" TEXT NOT NULL, "ip" TEXT NOT NULL, "headers" TEXT NOT NULL, "query" TEXT NOT NULL, "body" TEXT NOT NULL,
  "bodyEncoding" TEXT NOT NULL, "state" TEXT NOT NULL CHECK ("state" IN ('received', 'processed', 'failed')),
  "responseStatus" INTEGER, "responseBody" TEXT, "error" TEXT
) STRICT;
CREATE INDEX webhook_inbox_by_time ON webhook_inbox ("receivedAt", "_id");
CREATE INDEX webhook_inbox_by_plugin ON webhook_inbox ("plugin", "receivedAt");

CREATE TABLE routes (
  "_id" TEXT PRIMARY KEY, "fromXml" TEXT NOT NULL, "toXml" TEXT NOT NULL, "outSymbol" TEXT NOT NULL,
  "rate" TEXT NOT NULL, "minAmount" TEXT NOT NULL, "maxAmount" TEXT NOT NULL, "payoutPlugin" TEXT,
  "autoPayout" INTEGER NOT NULL, "active" INTEGER NOT NULL, "createdAt" TEXT NOT NULL, "updatedAt" TEXT NOT NULL
) STRICT;

CREATE TABLE leases (
  "name" TEXT PRIMARY KEY, "owner" TEXT NOT NULL, "until" TEXT NOT NULL
) STRICT;

CREATE TABLE plugin_log (
  "_id" TEXT PRIMARY KEY, "plugin" TEXT NOT NULL, "at" TEXT NOT NULL,
  "level" TEXT NOT NULL CHECK ("level" IN ('debug', 'info', 'warn', 'error')), "callId" TEXT, "text" TEXT NOT NULL
) STRICT;
CREATE INDEX plugin_log_by_plugin ON plugin_log ("plugin", "at", "_id");
`,
}, {
  version: 2,
  name: 'plugin records (approved versions, content hashes, pending updates)',
  sql: `
CREATE TABLE plugin_records (
  "key" TEXT PRIMARY KEY, "revision" INTEGER NOT NULL CHECK ("revision" >= 1), "current" TEXT NOT NULL,
  "previous" TEXT NOT NULL, "pending" TEXT, "updatedAt" TEXT NOT NULL
) STRICT;
`,
}, {
  version: 3,
  name: 'retention and quotas (inbox bytes per row, finished IPNs by age)',
  sql: `
ALTER TABLE webhook_inbox ADD COLUMN "bytes" INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_inbox SET "bytes" = length(CAST("body" AS BLOB)) + length(CAST("headers" AS BLOB)) + length(CAST("query" AS BLOB));
CREATE INDEX webhook_inbox_usage ON webhook_inbox ("plugin", "bytes");
CREATE INDEX ipn_outbox_finished ON ipn_outbox ("state", "updatedAt");
`,
}, {
  version: 4,
  name: 'IPN claims name their holder (a restarted instance takes its own back at once)',
  sql: `
ALTER TABLE ipn_outbox ADD COLUMN "leaseOwner" TEXT;
CREATE INDEX ipn_outbox_unfinished_by_order ON ipn_outbox ("orderId", "createdAt", "_id") WHERE "state" IN ('pending', 'sending');
`,
}, {
  version: 5,
  name: 'merchant idempotency keys on order create',
  sql: `
CREATE TABLE order_idempotency (
  "key" TEXT PRIMARY KEY, "fingerprint" TEXT NOT NULL, "orderId" TEXT NOT NULL REFERENCES orders ("_id"), "createdAt" TEXT NOT NULL
) STRICT;
`,
}, {
  version: 6,
  name: 'payout attempts record durably whether a request of transfer() may have left',
  // Attempts written before this version did not record it: every one past PREPARED is marked
  // "may have left" (its updatedAt), so none of them is ever read as never sent and retried.
  sql: `
ALTER TABLE payout_attempts ADD COLUMN "requestLeftAt" TEXT;
ALTER TABLE payout_attempts ADD COLUMN "callId" TEXT;
UPDATE payout_attempts SET "requestLeftAt" = "updatedAt" WHERE "state" <> 'PREPARED';
`,
}, {
  version: 7,
  name: 'the engine an administrator chose per plugin',
  sql: `
CREATE TABLE plugin_engines (
  "plugin" TEXT PRIMARY KEY, "engine" TEXT NOT NULL, "chosenBy" TEXT NOT NULL, "chosenAt" TEXT NOT NULL
) STRICT;
`,
}, {
  version: 8,
  name: 'payout tx lookups by order or transaction stay indexed when they also filter on active',
  // With ("payoutModule", "order") and ("payoutModule", "active", "createdAt") both matching two
  // equality terms, SQLite took the active index for `order = ? AND active = ?` (updateHistory's
  // live-payout check, every plugin's findOne({ order, active: true })) and read every active tx
  // of the plugin: O(N) per settled tx, O(N²) per sweep. A third column makes the selective index
  // the better match.
  sql: `
DROP INDEX payout_txs_by_order;
CREATE INDEX payout_txs_by_order ON payout_txs ("payoutModule", "order", "active");
DROP INDEX payout_txs_by_transaction;
CREATE INDEX payout_txs_by_transaction ON payout_txs ("payoutModule", "transaction", "active");
`,
}];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/**
 * Brings the schema up to date inside one write transaction, so two servers starting on the same
 * file run each migration once. Returns the versions it applied.
 */
export function migrate(db: DatabaseSync, file: string, nowIso: string): number[] {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      "version" INTEGER PRIMARY KEY, "name" TEXT NOT NULL, "appliedAt" TEXT NOT NULL) STRICT`);
    const row = db.prepare('SELECT MAX("version") AS v FROM schema_migrations').get();
    const current = typeof row?.v === 'number' ? row.v : 0;
    if (current > LATEST_SCHEMA_VERSION) {
      throw new Error(`SQLite database ${file} has schema version ${current}, newer than this build of ` +
        `payout-sandbox knows (${LATEST_SCHEMA_VERSION}); run the newer payout-sandbox, or restore a backup made before the upgrade`);
    }
    const applied: number[] = [];
    const record = db.prepare('INSERT INTO schema_migrations ("version", "name", "appliedAt") VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      record.run(m.version, m.name, nowIso);
      applied.push(m.version);
    }
    db.exec('COMMIT');
    return applied;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

export interface TableSpec {
  table: string;
  columns: readonly string[];
  bool?: readonly string[];
  json?: readonly string[];
  /** Stored for ordering or joins but not part of the record. */
  hidden?: readonly string[];
}

const spec = (table: string, columns: string, extra: Omit<TableSpec, 'table' | 'columns'> = {}): TableSpec =>
  ({ table, columns: columns.trim().split(/\s+/), ...extra });

export const T = {
  orders: spec('orders', `_id uid secret status routeId inAmount outAmount fromXml toXml outSymbol fromValues toValues
    routeValues lang agreement hideOutData clientCallbackUrl ipnUrl ipnSecret partner payoutModule payoutStatus orderNote
    holdReason version createdAt updatedAt`, { bool: ['agreement', 'hideOutData'], json: ['fromValues', 'toValues', 'routeValues'] }),
  history: spec('order_history', '_id orderId orderVersion at fromStatus toStatus actor payoutStatus comment', { hidden: ['orderVersion'] }),
  attempts: spec('payout_attempts', `_id orderId plugin state live fence leaseOwner leaseUntil requestsSent requestLeftAt
    callId transaction reportedAmount reportedCurrency reason reviewDeadline createdAt updatedAt`, { bool: ['live'] }),
  txs: spec('payout_txs', '_id order transaction payoutModule active amount currency to note attemptId createdAt updatedAt', { bool: ['active'] }),
  config: spec('plugin_config', 'plugin key value secret updatedAt', { bool: ['secret'] }),
  grants: spec('network_grants', 'plugin origin pathPrefix methods requested approved approvedBy approvedAt updatedAt',
    { bool: ['requested', 'approved'], json: ['methods'] }),
  audit: spec('audit_log', '_id at plugin actor callId capability decision rule summary durationMs'),
  ipns: spec('ipn_outbox', `_id orderId status url fields state attempts maxAttempts nextAttemptAt leaseUntil lastError
    createdAt updatedAt leaseOwner`, { json: ['fields'], hidden: ['leaseOwner'] }),
  webhooks: spec('webhook_inbox', `_id plugin callback receivedAt method ip headers query body bodyEncoding state
    responseStatus responseBody error bytes`, { json: ['headers', 'query'], hidden: ['bytes'] }),
  routes: spec('routes', '_id fromXml toXml outSymbol rate minAmount maxAmount payoutPlugin autoPayout active createdAt updatedAt',
    { bool: ['autoPayout', 'active'] }),
  log: spec('plugin_log', '_id plugin at level callId text'),
  pluginRecords: spec('plugin_records', 'key revision current previous pending updatedAt', { json: ['current', 'previous', 'pending'] }),
  engines: spec('plugin_engines', 'plugin engine chosenBy chosenAt'),
} as const;

export const q = (name: string): string => `"${name}"`;

export function insertSql(s: TableSpec): string {
  return `INSERT INTO ${s.table} (${s.columns.map(q).join(', ')}) VALUES (${s.columns.map((c) => `:${c}`).join(', ')})`;
}

type SqlValue = string | number | null;

export function toParams(s: TableSpec, record: object): Record<string, SqlValue> {
  const r = record as Record<string, unknown>;
  const out: Record<string, SqlValue> = {};
  for (const c of s.columns) out[c] = toColumn(s, c, r[c]);
  return out;
}

export function toColumn(s: TableSpec, column: string, v: unknown): SqlValue {
  if (v === undefined || v === null) return null;
  if (s.json?.includes(column)) return JSON.stringify(v);
  if (s.bool?.includes(column)) return v ? 1 : 0;
  return v as SqlValue;
}

export function fromRow<R>(s: TableSpec, row: Record<string, unknown>): R {
  const out: Record<string, unknown> = {};
  for (const c of s.columns) {
    if (s.hidden?.includes(c)) continue;
    const v = row[c];
    out[c] = v === null ? null : s.json?.includes(c) ? JSON.parse(v as string) : s.bool?.includes(c) ? v === 1 : v;
  }
  return out as R;
}

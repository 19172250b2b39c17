// The embedded default store on node:sqlite.
//
// Durability: one database file, WAL, synchronous=FULL for every table. A money write (transition,
// attempt, tx) is on disk when its promise resolves, even across a power cut. Audit and plugin log
// rows stay in the same file at the same level: they are written in batches (one commit per batch, so
// FULL costs one WAL sync per batch, not per record), an audit trail that can lose its last entries on
// a power cut while the payouts they describe survive would be worth less than the sync it saves, and
// one file is one thing to back up and to open from two server processes.
//
// Concurrency: every read-modify-write runs inside BEGIN IMMEDIATE, which takes SQLite's single write
// lock up front, so a check and the write it guards cannot interleave with another process; busy_timeout
// makes a second process wait for the lock instead of failing. No transaction spans an `await` (node:sqlite
// is synchronous), so two Store instances in one process never wait on each other.
import { newId } from './ids.ts';
import { StoreConflictError, StoreInputError } from './errors.ts';
import { checkAttemptMove } from './attempt-move-check.ts';
import { SqliteSupportTables } from './sqlite-support-tables.ts';
import { T, fromRow, insertSql, q, toColumn, toParams } from './sqlite-schema.ts';
import { txOrderBy, txPage, txWhere } from './sqlite-tx-sql.ts';
import type { SqlParam } from './sqlite-tx-sql.ts';
import { checkTxPatch, checkTxQuery } from './tx-query.ts';
import {
  ANONYMOUS_IPN_OWNER, LAST_ATTEMPT_EXPIRED, MAX_INTERRUPTED_DELIVERIES, applyTransition, compareText, attemptChanges, buildAttempt, buildIpn, buildOrder, isoAt, refuseTransition,
} from './records.ts';
import {
  Checker, LEASE_MS_MAX, checkIdempotencyKey, checkAttemptPatch, checkAttemptStates, checkIpnResult, checkNewAttempt, checkNewIpn, checkNewOrder,
  checkNewTx, checkOrderStatus, checkTransition,
} from './validate.ts';
import type {
  AttemptState, IpnMessage, NewIpn, NewOrder, Order, OrderHistoryEntry, OrderStatus, PayoutAttempt, PayoutTx,
} from './types.ts';
import type {
  AttemptPatch, IdempotencyKey, IpnResult, NewAttempt, OnceCreated, ReclaimedLeases, OrderTransition, Store, TransitionResult, TxPatch, TxQuery,
} from './store.ts';

export type { SqliteStoreOptions } from './sqlite-connection.ts';
const SQLITE_CONSTRAINT_UNIQUE = 2067;

export class SqliteStore extends SqliteSupportTables implements Store {
  readonly kind = 'sqlite' as const;

  // ---- orders -------------------------------------------------------------------------------------

  async createOrder(order: NewOrder): Promise<Order> {
    const input = checkNewOrder(order);
    return this.write(() => {
      const next = this.get('SELECT COALESCE(MAX("uid"), 0) + 1 AS n FROM orders')!.n as number;
      const created = buildOrder(newId(this.now()), next, input, this.iso());
      this.run(insertSql(T.orders), toParams(T.orders, created));
      return created;
    });
  }

  async createOrderOnce(order: NewOrder, idempotency: IdempotencyKey): Promise<OnceCreated> {
    const input = checkNewOrder(order);
    const { key, fingerprint } = checkIdempotencyKey('createOrderOnce', idempotency);
    return this.write(() => {
      const known = this.get('SELECT "fingerprint", "orderId" FROM order_idempotency WHERE "key" = ?', key);
      if (known) {
        if (known.fingerprint !== fingerprint) return { outcome: 'conflict' as const };
        return { outcome: 'replayed' as const, order: this.one<Order>(T.orders, 'SELECT * FROM orders WHERE "_id" = ?', known.orderId as string)! };
      }
      const next = this.get('SELECT COALESCE(MAX("uid"), 0) + 1 AS n FROM orders')!.n as number;
      const created = buildOrder(newId(this.now()), next, input, this.iso());
      this.run(insertSql(T.orders), toParams(T.orders, created));
      this.run('INSERT INTO order_idempotency ("key", "fingerprint", "orderId", "createdAt") VALUES (?, ?, ?, ?)', key, fingerprint, created._id, created.createdAt);
      return { outcome: 'created' as const, order: created };
    });
  }

  async findOrderByIdempotencyKey(key: string): Promise<{ order: Order; fingerprint: string } | null> {
    const k = checkIdempotencyKey('findOrderByIdempotencyKey', { key, fingerprint: '-' }).key;
    const known = this.get('SELECT "fingerprint", "orderId" FROM order_idempotency WHERE "key" = ?', k);
    if (!known) return null;
    const found = this.one<Order>(T.orders, 'SELECT * FROM orders WHERE "_id" = ?', known.orderId as string);
    return found ? { order: found, fingerprint: known.fingerprint as string } : null;
  }

  async getOrder(id: string): Promise<Order | null> {
    return this.one(T.orders, 'SELECT * FROM orders WHERE "_id" = ?', new Checker('getOrder').text('id', id));
  }

  async getOrderByUid(uid: number): Promise<Order | null> {
    return this.one(T.orders, 'SELECT * FROM orders WHERE "uid" = ?', new Checker('getOrderByUid').int('uid', uid, 1));
  }

  async getOrders(ids: string[]): Promise<Order[]> {
    const c = new Checker('getOrders');
    const wanted = [...new Set(c.listOf('ids', ids, (v, n) => c.text(n, v)))];
    const found = new Map(this.all<Order>(T.orders, 'SELECT * FROM orders WHERE "_id" IN (SELECT value FROM json_each(?))',
      JSON.stringify(wanted)).map((o) => [o._id, o]));
    return wanted.flatMap((id) => found.get(id) ?? []);
  }

  async listOrders(query: { status?: OrderStatus; payoutModule?: string; limit?: number; beforeUid?: number }): Promise<Order[]> {
    const c = new Checker('listOrders');
    const o = c.object('query', query);
    const where: string[] = [];
    const params: SqlParam[] = [];
    if (o.status !== undefined) { where.push('"status" = ?'); params.push(checkOrderStatus('listOrders', o.status)); }
    if (o.payoutModule !== undefined) { where.push('"payoutModule" = ?'); params.push(c.text('payoutModule', o.payoutModule)); }
    if (o.beforeUid !== undefined) { where.push('"uid" < ?'); params.push(c.int('beforeUid', o.beforeUid, 1)); }
    params.push(c.limit(o.limit, 50, 1000));
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.all(T.orders, `SELECT * FROM orders ${filter} ORDER BY "uid" DESC LIMIT ?`, ...params);
  }

  async transitionOrder(t: OrderTransition): Promise<TransitionResult> {
    const tr = checkTransition(t);
    return this.write((): TransitionResult => {
      const before = this.one<Order>(T.orders, 'SELECT * FROM orders WHERE "_id" = ?', tr.orderId);
      const refusal = refuseTransition(before, tr);
      if (refusal || !before) return { ok: false, reason: refusal ?? 'not_found', current: before };
      const now = this.now();
      const applied = applyTransition(before, tr, isoAt(now), { history: newId(now), ipn: newId(now) });
      const o = applied.order;
      const changed = this.run(`UPDATE orders SET "status" = ?, "payoutStatus" = ?, "orderNote" = ?, "holdReason" = ?,
        "payoutModule" = ?, "version" = ?, "updatedAt" = ? WHERE "_id" = ? AND "version" = ?`,
      o.status, o.payoutStatus, o.orderNote, o.holdReason, o.payoutModule, o.version, o.updatedAt, o._id, before.version);
      if (changed !== 1) throw new Error(`transitionOrder: order ${o._id} changed inside a write transaction`);
      this.run(insertSql(T.history), toParams(T.history, { ...applied.history, orderVersion: o.version }));
      if (applied.ipn) this.run(insertSql(T.ipns), toParams(T.ipns, applied.ipn));
      return { ok: true, ...applied };
    });
  }

  async getOrderHistory(orderId: string): Promise<OrderHistoryEntry[]> {
    const id = new Checker('getOrderHistory').text('orderId', orderId);
    return this.all(T.history, 'SELECT * FROM order_history WHERE "orderId" = ? ORDER BY "orderVersion"', id);
  }

  // ---- payout attempts ----------------------------------------------------------------------------

  async createAttempt(a: NewAttempt): Promise<PayoutAttempt | null> {
    const input = checkNewAttempt(a);
    return this.write(() => {
      if (!this.get('SELECT 1 AS x FROM orders WHERE "_id" = ?', input.orderId)) {
        throw new StoreInputError('createAttempt', `order ${input.orderId} does not exist`);
      }
      if (this.get('SELECT 1 AS x FROM payout_attempts WHERE "orderId" = ? AND "live" = 1', input.orderId)) return null;
      const attempt = buildAttempt(newId(this.now()), input, this.now());
      this.run(insertSql(T.attempts), toParams(T.attempts, attempt));
      return attempt;
    });
  }

  async getAttempt(id: string): Promise<PayoutAttempt | null> {
    return this.one(T.attempts, 'SELECT * FROM payout_attempts WHERE "_id" = ?', new Checker('getAttempt').text('id', id));
  }

  async getLiveAttempt(orderId: string): Promise<PayoutAttempt | null> {
    const id = new Checker('getLiveAttempt').text('orderId', orderId);
    return this.one(T.attempts, 'SELECT * FROM payout_attempts WHERE "orderId" = ? AND "live" = 1', id);
  }

  async listAttempts(orderId: string): Promise<PayoutAttempt[]> {
    const id = new Checker('listAttempts').text('orderId', orderId);
    return this.all(T.attempts, 'SELECT * FROM payout_attempts WHERE "orderId" = ? ORDER BY "createdAt", "_id"', id);
  }

  async listAttemptsInStates(states: AttemptState[], limit?: number): Promise<PayoutAttempt[]> {
    const wanted = checkAttemptStates('listAttemptsInStates', 'states', states);
    const max = new Checker('listAttemptsInStates').limit(limit, 100, 10_000);
    return this.all(T.attempts, `SELECT * FROM payout_attempts WHERE "state" IN (SELECT value FROM json_each(?))
      ORDER BY "updatedAt", "_id" LIMIT ?`, JSON.stringify(wanted), max);
  }

  async updateAttempt(id: string, fence: number, fromStates: AttemptState[], patch: AttemptPatch): Promise<PayoutAttempt | null> {
    const c = new Checker('updateAttempt');
    const attemptId = c.text('id', id);
    const expectedFence = c.int('fence', fence, 0);
    const states = checkAttemptStates('updateAttempt', 'fromStates', fromStates);
    const checked = checkAttemptPatch(patch);
    checkAttemptMove(attemptId, states, checked.state);
    const changes = attemptChanges(checked, this.iso()) as Record<string, unknown>;
    const columns = Object.keys(changes).sort();
    const sql = `UPDATE payout_attempts SET ${columns.map((k) => `${q(k)} = ?`).join(', ')}
      WHERE "_id" = ? AND "fence" = ? AND "state" IN (SELECT value FROM json_each(?)) RETURNING *`;
    try {
      const rows = this.stmt(sql).all(...columns.map((k) => toColumn(T.attempts, k, changes[k])), attemptId, expectedFence, JSON.stringify(states));
      return rows.length ? fromRow<PayoutAttempt>(T.attempts, rows[0]) : null;
    } catch (err) {
      if ((err as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) {
        throw new StoreConflictError('updateAttempt', `attempt ${attemptId} cannot move to ${String(changes.state)}: its order already has a live attempt`);
      }
      throw err;
    }
  }

  async markAttemptRequestLeft(id: string, fence: number, callId: string): Promise<boolean> {
    const c = new Checker('markAttemptRequestLeft');
    const args = { id: c.text('id', id), fence: c.int('fence', fence, 0), callId: c.text('callId', callId), now: this.iso() };
    return this.run(`UPDATE payout_attempts SET "requestLeftAt" = COALESCE("requestLeftAt", :now),
      "callId" = COALESCE("callId", :callId), "updatedAt" = :now
      WHERE "_id" = :id AND "fence" = :fence AND "state" = 'DISPATCHING'`, args) === 1;
  }

  async acquireAttemptLease(id: string, owner: string, leaseMs: number): Promise<PayoutAttempt | null> {
    const c = new Checker('acquireAttemptLease');
    const args = [c.text('id', id), c.text('owner', owner), c.int('leaseMs', leaseMs, 1, LEASE_MS_MAX)] as const;
    const now = this.now();
    const rows = this.stmt(`UPDATE payout_attempts SET "leaseOwner" = :owner, "leaseUntil" = :until, "fence" = "fence" + 1,
      "updatedAt" = :now WHERE "_id" = :id AND ("leaseOwner" IS NULL OR "leaseUntil" IS NULL OR "leaseUntil" <= :now
      OR "leaseOwner" = :owner) RETURNING *`).all({ id: args[0], owner: args[1], until: isoAt(now + args[2]), now: isoAt(now) });
    return rows.length ? fromRow<PayoutAttempt>(T.attempts, rows[0]) : null;
  }

  // ---- payout txs ---------------------------------------------------------------------------------

  async insertPayoutTx(tx: Omit<PayoutTx, '_id' | 'createdAt' | 'updatedAt'>): Promise<PayoutTx> {
    const now = this.iso();
    const row: PayoutTx = { _id: newId(this.now()), ...checkNewTx(tx), createdAt: now, updatedAt: now };
    this.run(insertSql(T.txs), toParams(T.txs, row));
    return row;
  }

  async findPayoutTxs(query: TxQuery): Promise<PayoutTx[]> {
    const checked = checkTxQuery('findPayoutTxs', query);
    const { sql, params } = txWhere(checked);
    const page = txPage(checked, params);
    return this.all(T.txs, `SELECT * FROM payout_txs WHERE ${sql} ORDER BY ${txOrderBy(checked)} ${page}`, ...params);
  }

  async countPayoutTxs(query: TxQuery): Promise<number> {
    const checked = checkTxQuery('countPayoutTxs', query);
    const { sql, params } = txWhere(checked);
    const page = txPage(checked, params);
    return this.get(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM payout_txs WHERE ${sql} ${page})`, ...params)!.n as number;
  }

  async updatePayoutTx(query: TxQuery, patch: TxPatch): Promise<{ matched: number; modified: number }> {
    const checked = checkTxQuery('updatePayoutTx', query, 'update');
    const changes = checkTxPatch(patch);
    const { sql, params } = txWhere(checked);
    return this.write(() => {
      const row = this.one<PayoutTx>(T.txs, `SELECT * FROM payout_txs WHERE ${sql} ORDER BY ${txOrderBy(checked)} LIMIT 1`, ...params);
      if (!row) return { matched: 0, modified: 0 };
      const columns = (Object.keys(changes) as (keyof TxPatch)[]).filter((k) => row[k] !== changes[k]);
      if (columns.length === 0) return { matched: 1, modified: 0 };
      this.run(`UPDATE payout_txs SET ${columns.map((k) => `${q(k)} = ?`).join(', ')}, "updatedAt" = ? WHERE "_id" = ?`,
        ...columns.map((k) => toColumn(T.txs, k, changes[k])), this.iso(), row._id);
      return { matched: 1, modified: 1 };
    });
  }

  // ---- IPN outbox ---------------------------------------------------------------------------------

  async enqueueIpn(ipn: NewIpn): Promise<IpnMessage> {
    const input = checkNewIpn('enqueueIpn', ipn);
    return this.write(() => {
      if (!this.get('SELECT 1 AS x FROM orders WHERE "_id" = ?', input.orderId)) {
        throw new StoreInputError('enqueueIpn', `order ${input.orderId} does not exist`);
      }
      const message = buildIpn(newId(this.now()), input, this.iso());
      this.run(insertSql(T.ipns), toParams(T.ipns, message));
      return message;
    });
  }

  async claimDueIpns(limit: number, leaseMs: number, owner: string = ANONYMOUS_IPN_OWNER): Promise<IpnMessage[]> {
    const c = new Checker('claimDueIpns');
    const max = c.int('limit', limit, 1, 1000);
    const lease = c.int('leaseMs', leaseMs, 1, LEASE_MS_MAX);
    const holder = c.text('owner', owner);
    const nowMs = this.now();
    const now = isoAt(nowMs);
    return this.write(() => {
      this.run(`UPDATE ipn_outbox SET "state" = 'failed', "leaseUntil" = NULL, "updatedAt" = :now, "lastError" = :error
        WHERE "state" = 'sending' AND "leaseUntil" <= :now AND "attempts" >= "maxAttempts" + ${MAX_INTERRUPTED_DELIVERIES}`, { now, error: LAST_ATTEMPT_EXPIRED });
      // Per-order order: a message waits while an earlier one of its order is unsent or interrupted.
      const rows = this.stmt(`UPDATE ipn_outbox SET "state" = 'sending', "attempts" = "attempts" + 1, "leaseUntil" = :until,
        "leaseOwner" = :owner, "updatedAt" = :now WHERE "_id" IN (SELECT m."_id" FROM ipn_outbox m
        WHERE ((m."state" = 'pending' AND m."nextAttemptAt" <= :now) OR (m."state" = 'sending' AND m."leaseUntil" <= :now))
        AND NOT EXISTS (SELECT 1 FROM ipn_outbox e WHERE e."orderId" = m."orderId" AND e."state" IN ('pending', 'sending')
          AND (e."createdAt" < m."createdAt" OR (e."createdAt" = m."createdAt" AND e."_id" < m."_id")))
        ORDER BY m."nextAttemptAt", m."_id" LIMIT :max) RETURNING *`)
        .all({ now, until: isoAt(nowMs + lease), max, owner: holder });
      return rows.map((r) => fromRow<IpnMessage>(T.ipns, r))
        .sort((a, b) => compareText(a.nextAttemptAt, b.nextAttemptAt) || compareText(a._id, b._id));
    });
  }

  async reclaimLeasesOf(owner: string): Promise<ReclaimedLeases> {
    const holder = new Checker('reclaimLeasesOf').text('owner', owner);
    const now = this.iso();
    // The owner itself and the sub-owners it names (`<owner>/settle`, `<owner>/admin`, …).
    const mine = (column: string) => `(${column} = :owner OR substr(${column}, 1, length(:owner) + 1) = :owner || '/')`;
    return this.write(() => ({
      ipns: this.run(`UPDATE ipn_outbox SET "leaseUntil" = :now WHERE "state" = 'sending' AND "leaseUntil" > :now
        AND ${mine('"leaseOwner"')}`, { now, owner: holder }),
      attempts: this.run(`UPDATE payout_attempts SET "leaseUntil" = :now WHERE "live" = 1 AND "leaseUntil" > :now
        AND ${mine('"leaseOwner"')}`, { now, owner: holder }),
      named: this.run(`DELETE FROM leases WHERE ${mine('"owner"')}`, { owner: holder }),
    }));
  }

  async completeIpn(id: string, result: IpnResult): Promise<boolean> {
    const messageId = new Checker('completeIpn').text('id', id);
    const r = checkIpnResult(result);
    const state = r.state === 'pending' ? `CASE WHEN "attempts" >= "maxAttempts" THEN 'failed' ELSE 'pending' END` : `'${r.state}'`;
    return this.run(`UPDATE ipn_outbox SET "state" = ${state}, "leaseUntil" = NULL, "lastError" = :error,
      "nextAttemptAt" = COALESCE(:next, "nextAttemptAt"), "updatedAt" = :now
      WHERE "_id" = :id AND "state" = 'sending' AND (:attempt IS NULL OR "attempts" = :attempt)`,
    { id: messageId, error: r.lastError, next: r.nextAttemptAt ?? null, now: this.iso(), attempt: r.attempt ?? null }) === 1;
  }

  async listIpns(orderId: string): Promise<IpnMessage[]> {
    const id = new Checker('listIpns').text('orderId', orderId);
    return this.all(T.ipns, 'SELECT * FROM ipn_outbox WHERE "orderId" = ? ORDER BY "createdAt", "_id"', id);
  }
}

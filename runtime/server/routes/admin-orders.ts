// Admin API for orders and routes: list and detail (history, payout attempts, txs, IPNs), status
// moves through the transition table, a manual payout, resolving a hold, exchange routes, and the
// audit log and webhook inbox with filters. Every write is audited.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import BigNumber from 'bignumber.js';
import type { Host } from '../host.ts';
import { LIVE_ATTEMPT_STATES, ORDER_STATUSES } from '../../store/types.ts';
import type { AuditQuery, Order, OrderStatus, PayoutAttempt } from '../../store/types.ts';
import { allowedNext } from '../../orders/transitions.ts';
import { HttpError } from './admin-auth.ts';

const StatusSchema = Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)));

function adminAudit(host: Host, capability: string, plugin: string | null, summary: string, decision: 'allowed' | 'denied' = 'allowed') {
  host.hostApi.audit.record({ plugin, actor: 'admin', callId: null, capability, decision, rule: null, summary, durationMs: 0 });
}

/**
 * The status moves the server will accept now, and why others are locked: the transition table,
 * narrowed by the order's payout attempts exactly as OrderService.transition narrows it (a live
 * attempt allows only a pause to hold; a payout waiting for review moves only by resolution).
 */
export function statusMoves(order: Order, attempts: PayoutAttempt[]): { nextStatuses: OrderStatus[]; statusLock: 'payout-in-progress' | 'resolve-hold' | null } {
  const table = allowedNext('admin', order.status);
  if (attempts.some((a) => LIVE_ATTEMPT_STATES.includes(a.state))) {
    return { nextStatuses: order.status === 'inProgressPayout' ? table.filter((s) => s === 'hold') : [], statusLock: 'payout-in-progress' };
  }
  if (order.status === 'hold' && attempts.some((a) => a.state === 'NEEDS_REVIEW')) return { nextStatuses: [], statusLock: 'resolve-hold' };
  return { nextStatuses: table, statusLock: null };
}

/**
 * What an administrator sees of an order: everything but the merchant's IPN secret. With its
 * attempts, nextStatuses lists only the moves the server will accept (statusLock says why not more).
 */
export function adminOrderView(order: Order, attempts?: PayoutAttempt[]) {
  const { ipnSecret, ...rest } = order;
  const moves = attempts ? statusMoves(order, attempts) : { nextStatuses: allowedNext('admin', order.status), statusLock: null };
  return { ...rest, ipnSecretSet: Boolean(ipnSecret), ...moves };
}

async function adminOrderDetail(host: Host, order: Order) {
  return adminOrderView(order, await host.store.listAttempts(order._id));
}

// Enough to judge a held payout; the audit page (filter by call id) has the rest.
const REQUESTS_SHOWN = 20;

/**
 * Each attempt with what its transfer() asked the provider and what came back: the http.request
 * audit records of the call that marked requestLeftAt (its summary ends with the answer's status,
 * `→ 201`; a refusal or error says why). Scrubbed when recorded, like the whole audit log.
 */
async function withRequests(host: Host, attempts: PayoutAttempt[]) {
  if (attempts.some((a) => a.callId)) await host.hostApi.audit.flush();
  return Promise.all(attempts.map(async (a) => {
    if (!a.callId) return { ...a, requests: [] };
    const records = await host.store.queryAudit({ callId: a.callId, capability: 'http.request', limit: REQUESTS_SHOWN });
    return { ...a, requests: records.reverse().map((r) => ({ at: r.at, decision: r.decision, summary: r.summary })) };
  }));
}

async function orderOr404(host: Host, id: string): Promise<Order> {
  const order = /^\d+$/.test(id) ? await host.store.getOrderByUid(Number(id)) : await host.store.getOrder(id);
  if (!order) throw new HttpError(404, `no order '${id}' (give the order id or its uid)`, 'id');
  return order;
}

function decimal(value: unknown, field: string): string {
  const n = new BigNumber(String(value));
  if (!n.isFinite() || n.isNegative()) throw new HttpError(400, `${field} must be a non-negative decimal number`, field);
  return n.toFixed();
}

async function deactivateTxs(host: Host, plugin: string, orderId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await host.store.updatePayoutTx({ plugin, conditions: [{ field: 'order', op: 'eq', value: orderId }, { field: 'active', op: 'eq', value: true }] }, { active: false });
    if (r.matched === 0) return;
  }
}

const IdParams = Type.Object({ id: Type.String() });

export async function adminOrderRoutes(plain: FastifyInstance, opts: { host: Host }): Promise<void> {
  const { host } = opts;
  // Request data is typed by each route's schema (the same schema validates it and documents it).
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();

  app.get('/api/admin/orders', {
    schema: { tags: ['admin'], querystring: Type.Object({ status: Type.Optional(StatusSchema), plugin: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), beforeUid: Type.Optional(Type.Integer()) }) },
  }, async (request) => {
    const q = request.query;
    const orders = await host.store.listOrders({ status: q.status, payoutModule: q.plugin, limit: q.limit ?? 50, beforeUid: q.beforeUid });
    return { orders: orders.map((o) => adminOrderView(o)) };
  });

  app.get('/api/admin/orders/:id', { schema: { tags: ['admin'], params: IdParams } }, async (request) => {
    const order = await orderOr404(host, request.params.id);
    const txs = order.payoutModule
      ? await host.store.findPayoutTxs({ plugin: order.payoutModule, conditions: [{ field: 'order', op: 'eq', value: order._id }] })
      : [];
    const attempts = await host.store.listAttempts(order._id);
    return {
      order: adminOrderView(order, attempts),
      history: await host.store.getOrderHistory(order._id),
      attempts: await withRequests(host, attempts),
      payoutTxs: txs,
      ipns: (await host.store.listIpns(order._id)).map(({ fields, ...rest }) => ({ ...rest, fields: { ...fields, hash: fields.hash ? '(signed)' : '' } })),
    };
  });

  app.post('/api/admin/orders/:id/status', {
    schema: { tags: ['admin'], summary: 'Move an order (e.g. mark paid: new → inProgress → inProgressPayout)', params: IdParams, body: Type.Object({ status: StatusSchema, comment: Type.Optional(Type.String({ maxLength: 2000 })) }) },
  }, async (request) => {
    const order = await orderOr404(host, request.params.id);
    const { status, comment } = request.body;
    const moved = await host.orders.transition(order._id, status, { actor: 'admin', comment: comment ?? null, expectStatus: order.status });
    return { order: await adminOrderDetail(host, moved) };
  });

  app.post('/api/admin/orders/:id/payout', {
    schema: { tags: ['admin'], summary: 'Run the payout now (the order must be in inProgressPayout with no payout in progress)', params: IdParams },
  }, async (request) => {
    const order = await orderOr404(host, request.params.id);
    const outcome = await host.payouts.start(order._id);
    adminAudit(host, 'admin.order.payout', order.payoutModule, `order ${order.uid}: ${outcome.kind}${'reason' in outcome && outcome.reason ? ` (${outcome.reason})` : ''}`, outcome.kind === 'not-eligible' || outcome.kind === 'in-progress' ? 'denied' : 'allowed');
    if (outcome.kind === 'not-eligible' || outcome.kind === 'in-progress') throw new HttpError(409, outcome.reason);
    return { outcome, order: await adminOrderDetail(host, (await host.store.getOrder(order._id)) as Order) };
  });

  app.post('/api/admin/orders/:id/resolve', {
    schema: {
      tags: ['admin'], summary: 'Resolve a held payout: paid (→ done), not_paid (→ errorPayout) or retry (→ inProgressPayout, a new attempt)',
      params: IdParams,
      body: Type.Object({ resolution: Type.Union([Type.Literal('paid'), Type.Literal('not_paid'), Type.Literal('retry')]), comment: Type.String({ minLength: 3, maxLength: 2000 }) }),
    },
  }, async (request) => {
    const order = await orderOr404(host, request.params.id);
    const { resolution, comment } = request.body;
    if (order.status !== 'hold') throw new HttpError(409, `order ${order.uid} is ${order.status}; only an order on hold can be resolved`);
    const live = await host.store.getLiveAttempt(order._id);
    if (live) {
      throw new HttpError(409, `the payout of order ${order.uid} is still in progress (${live.state}); within a few seconds the sweep marks it for review, then resolve it`);
    }
    // A held attempt that the administrator says did not pay becomes FAILED, which is what lets a
    // new attempt start (design.md §6: only FAILED allows one).
    if (resolution !== 'paid') {
      for (const attempt of await host.store.listAttempts(order._id)) {
        if (attempt.state !== 'NEEDS_REVIEW') continue;
        const leased = await host.store.acquireAttemptLease(attempt._id, `${host.options.instanceId}/admin`, 30_000);
        if (!leased) throw new HttpError(409, `the payout attempt of order ${order.uid} is busy; try again`);
        await host.payouts.settleByAdmin(leased, order, `resolved by an administrator as not paid: ${comment}`);
      }
    }
    const to: OrderStatus = resolution === 'paid' ? 'done' : resolution === 'not_paid' ? 'errorPayout' : 'inProgressPayout';
    // The old payout is settled by this decision: a late callback or cron for it must find no
    // active tx (and, after a retry, must not settle the new attempt).
    if (order.payoutModule) await deactivateTxs(host, order.payoutModule, order._id);
    const moved = await host.orders.transition(order._id, to, { actor: 'admin', comment: `Resolved (${resolution}): ${comment}`, expectStatus: 'hold', resolving: true });
    adminAudit(host, 'admin.order.resolve', order.payoutModule, `order ${order.uid}: ${resolution}`);
    return { order: await adminOrderDetail(host, moved) };
  });

  app.get('/api/admin/routes', { schema: { tags: ['admin'] } }, async () => ({ routes: await host.store.listRoutes() }));

  const routeBody = {
    fromXml: Type.String({ minLength: 1, maxLength: 40 }), toXml: Type.String({ minLength: 1, maxLength: 40 }), outSymbol: Type.String({ minLength: 1, maxLength: 20 }),
    rate: Type.Union([Type.String(), Type.Number()]), minAmount: Type.Union([Type.String(), Type.Number()]), maxAmount: Type.Union([Type.String(), Type.Number()]),
    payoutPlugin: Type.Union([Type.String(), Type.Null()]), autoPayout: Type.Boolean(), active: Type.Boolean(),
  };
  app.post('/api/admin/routes', { schema: { tags: ['admin'], summary: 'Create an exchange route (direction)', body: Type.Object(routeBody) } }, async (request) => {
    const b = request.body;
    if (b.payoutPlugin && !host.registry.get(b.payoutPlugin)) throw new HttpError(400, `no plugin '${b.payoutPlugin}'`, 'payoutPlugin');
    if (new BigNumber(String(b.minAmount)).gt(new BigNumber(String(b.maxAmount)))) throw new HttpError(400, `minAmount ${b.minAmount} is greater than maxAmount ${b.maxAmount}`, 'minAmount');
    const route = await host.store.createRoute({ ...b, rate: decimal(b.rate, 'rate'), minAmount: decimal(b.minAmount, 'minAmount'), maxAmount: decimal(b.maxAmount, 'maxAmount') });
    adminAudit(host, 'admin.route.create', b.payoutPlugin, `${route.fromXml} → ${route.toXml} via ${route.payoutPlugin ?? 'manual'}`);
    return { route };
  });
  app.patch('/api/admin/routes/:id', { schema: { tags: ['admin'], params: IdParams, body: Type.Partial(Type.Object(routeBody)) } }, async (request) => {
    const b: Record<string, unknown> = { ...request.body };
    for (const f of ['rate', 'minAmount', 'maxAmount']) if (b[f] !== undefined) b[f] = decimal(b[f], f);
    if (typeof b.payoutPlugin === 'string' && !host.registry.get(b.payoutPlugin)) throw new HttpError(400, `no plugin '${b.payoutPlugin}'`, 'payoutPlugin');
    const current = await host.store.getRoute(request.params.id);
    if (!current) throw new HttpError(404, 'no such route', 'id');
    const min = new BigNumber(String(b.minAmount ?? current.minAmount));
    const max = new BigNumber(String(b.maxAmount ?? current.maxAmount));
    if (min.gt(max)) throw new HttpError(400, `minAmount ${min.toFixed()} is greater than maxAmount ${max.toFixed()}`, 'minAmount');
    const route = await host.store.updateRoute(request.params.id, b);
    if (!route) throw new HttpError(404, 'no such route', 'id');
    adminAudit(host, 'admin.route.update', route.payoutPlugin, `${route._id}: ${Object.keys(b).join(', ')}`);
    return { route };
  });

  app.get('/api/admin/audit', {
    schema: {
      tags: ['admin'], summary: 'The audit log, newest first, a page at a time: pass the answer\'s `next` as `before` for the page after it',
      querystring: Type.Object({
        plugin: Type.Optional(Type.String()), capability: Type.Optional(Type.String()), decision: Type.Optional(Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('error')])),
        callId: Type.Optional(Type.String()), since: Type.Optional(Type.String()), until: Type.Optional(Type.String()),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), before: Type.Optional(Type.String({ maxLength: 100 })),
      }),
    },
  }, async (request) => {
    await host.hostApi.audit.flush();
    const { before, limit, ...filters } = request.query;
    return auditPage(host, filters, limit ?? 200, before ? parseAuditCursor(before) : null);
  });

  app.get('/api/admin/webhooks', { schema: { tags: ['admin'], querystring: Type.Object({ plugin: Type.Optional(Type.String()), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }) } }, async (request) => {
    const q = request.query;
    return { deliveries: await host.store.listWebhooks({ plugin: q.plugin, limit: q.limit ?? 100 }) };
  });

  app.get('/api/admin/health', { schema: { tags: ['admin'] } }, async () => ({ sandbox: host.sandbox.health(), cron: host.cron.status() }));
}

/** A position in the audit log's order (at, then _id, both descending): `<at>~<_id>`. */
function parseAuditCursor(raw: string): { at: string; id: string } {
  const i = raw.lastIndexOf('~');
  const at = raw.slice(0, i);
  if (i <= 0 || Number.isNaN(Date.parse(at)) || raw.length - i < 2) throw new HttpError(400, `before '${raw}' is not a cursor from an earlier answer's next`, 'before');
  return { at, id: raw.slice(i + 1) };
}

/** The store can read at most this many records at once. */
const STORE_AUDIT_MAX = 10_000;

/**
 * One page of the audit log after `cursor`, by keyset: the store is asked for records up to the
 * cursor's time, and those it returns that are not past the cursor (same millisecond, id not below
 * it) are dropped; a millisecond with more records than were asked for widens the read.
 */
async function auditPage(host: Host, filters: Omit<AuditQuery, 'limit'>, limit: number, cursor: { at: string; id: string } | null) {
  const until = cursor && (!filters.until || cursor.at < filters.until) ? cursor.at : filters.until;
  let want = limit + 1;
  for (;;) {
    const got = await host.store.queryAudit({ ...filters, until, limit: want });
    const fresh = cursor ? got.filter((r) => r.at < cursor.at || (r.at === cursor.at && r._id < cursor.id)) : got;
    if (fresh.length > limit || got.length < want || want >= STORE_AUDIT_MAX) {
      const records = fresh.slice(0, limit);
      const last = records.at(-1);
      return { records, next: fresh.length > limit && last ? `${last.at}~${last._id}` : null };
    }
    want = Math.min(STORE_AUDIT_MAX, want * 4);
  }
}

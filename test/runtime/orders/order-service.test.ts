// OrderService against a real host: in-memory store, a real sandbox process and the real nimbuspay
// plugin, whose field patterns run inside its isolate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipnHash } from '../../../runtime/ipn/ipn-message.ts';
import { OrderFormError } from '../../../runtime/orders/order-errors.ts';
import type { Order } from '../../../runtime/store/types.ts';
import { CARD, openOrdersHost, routeLike, validOrder } from './order-fixture.ts';
import type { OrdersHost } from './order-fixture.ts';

let h: OrdersHost;
beforeAll(async () => {
  h = await openOrdersHost();
});
afterAll(async () => {
  await h?.close();
});

async function refused(p: Promise<unknown>): Promise<OrderFormError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(OrderFormError);
    return err as OrderFormError;
  }
  throw new Error('expected an OrderFormError');
}

async function expectRefused(p: Promise<unknown>, field: string | null, status: number, message: RegExp): Promise<OrderFormError> {
  const e = await refused(p);
  expect({ field: e.field, status: e.status }, e.message).toEqual({ field, status });
  expect(e.message).toMatch(message);
  return e;
}

const create = (overrides: Record<string, unknown> = {}) => h.orders.create(validOrder(h.route, overrides), { ip: '203.0.113.7' });

describe('create', () => {
  it('creates a new order with the route\'s rate, the plugin\'s field names, a random secret and sequential uids', async () => {
    const { order, links } = await create({ partner: 'p1', fromValues: [{ key: 'email', value: 'a@b.example' }] });
    expect(order).toMatchObject({
      status: 'new', routeId: h.route._id, inAmount: '100', outAmount: '4150', fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH',
      toValues: [{ key: 'card_number', value: CARD, name: 'Card number UAH' }], fromValues: [{ key: 'email', value: 'a@b.example' }],
      lang: 'en', agreement: true, hideOutData: false, partner: 'p1', payoutModule: 'nimbuspay', ipnUrl: null, ipnSecret: null,
    });
    expect(order.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(links).toEqual({ payment: `/en/payment/${order.uid}/${order.secret}`, order: `/en/order/${order.uid}/${order.secret}` });
    const next = await create();
    expect(next.order.uid).toBe(order.uid + 1);
    expect(next.order.secret).not.toBe(order.secret);
  });

  it('asks the plugin in the order\'s language (names and messages come back localised)', async () => {
    const { order, links } = await create({ lang: 'rus' });
    expect(order.lang).toBe('ru');
    expect(order.toValues[0].name).toBe('Номер карты UAH');
    expect(links.order).toMatch(/^\/ru\/order\//);
  });

  it('accepts a decoded bracket form', async () => {
    const { parseFormBody } = await import('../../../runtime/orders/order-form.ts');
    const body = parseFormBody(`routeId=${h.route._id}&amount=10&agreement=on&toValues%5B0%5D%5Bkey%5D=card_number&toValues%5B0%5D%5Bvalue%5D=${CARD}`);
    const { order } = await h.orders.create(body, { ip: '203.0.113.7' });
    expect(order).toMatchObject({ inAmount: '10', outAmount: '415' });
  });

  it('refuses agreement=false (422), naming agreement', async () => {
    await expectRefused(create({ agreement: 'false' }), 'agreement', 422, /agreement must be true/);
  });

  it('refuses an unknown route (404) and a closed one (409)', async () => {
    await expectRefused(create({ routeId: 'ffffffffffffffffffffffff' }), 'routeId', 404, /no exchange direction has the id/);
    const closed = await routeLike(h, h.route, { active: false });
    await expectRefused(h.orders.create(validOrder(closed), { ip: '1.1.1.1' }), 'routeId', 409, /not taking orders/);
  });

  it('enforces the route\'s limits, inclusive at both ends', async () => {
    await expectRefused(create({ amount: '9.99' }), 'amount', 422, /below this direction's minimum of 10 USDTTRC20/);
    await expectRefused(create({ amount: '10000.000001' }), 'amount', 422, /above this direction's maximum of 10000/);
    expect((await create({ amount: '10' })).order.outAmount).toBe('415');
    expect((await create({ amount: '10000' })).order.outAmount).toBe('415000');
    expect((await create({ amount: '10.123456789' })).order.outAmount).toBe('420.12');
  });

  it('a value that fails the plugin\'s pattern is refused with the plugin\'s message, naming the entry', async () => {
    await expectRefused(create({ toValues: [{ key: 'card_number', value: '1234' }] }), 'toValues[0][value]', 422, /Card number UAH.*incorrect/);
  });

  it('a missing required field names the key to add', async () => {
    const e = await expectRefused(create({ toValues: [] }), 'toValues', 422, /Card number UAH is required: add toValues\[0\]\[key\]=card_number/);
    expect(e.details).toHaveLength(1);
  });

  it('unknown recipient keys are refused by name, with what the direction takes; every problem is listed', async () => {
    const e = await expectRefused(create({ toValues: [{ key: 'card_number', value: '1' }, { key: 'iban', value: 'x' }] }),
      'toValues[1][key]', 422, /unknown field "iban" for CARDUAH; this direction takes card_number \(Card number UAH\)/);
    expect(e.details.map((d) => d.field)).toEqual(['toValues[1][key]', 'toValues[0][value]']);
  });

  it('a direction the plugin does not pay out is a clear 422', async () => {
    const route = await routeLike(h, h.route, { toXml: 'DOGE', outSymbol: 'DOGE' });
    await expectRefused(h.orders.create(validOrder(route), { ip: '1.1.1.1' }), 'routeId', 422, /does not pay out DOGE/);
  });

  it('a catastrophic plugin regexp burns the plugin\'s budget: 503 "unavailable", audited, server unharmed', async () => {
    const pid = h.local.sandbox.processOf('redosfields')?.pid ?? null;
    expect(pid).not.toBeNull();
    const e = await expectRefused(h.orders.create(validOrder(h.redosRoute, { toValues: [{ key: 'card_number', value: `${'a'.repeat(40)}!` }] }), { ip: '1.1.1.1' }),
      null, 503, /payout method for CARDUAH is unavailable right now \(its field check ran out of time\)/);
    expect(e.message).not.toMatch(/\(a\+\)\+/);
    await h.local.host.audit.flush();
    const records = await h.local.store.queryAudit({ capability: 'merchant.order.validateFields' });
    // Cut by the CPU limit inside the plugin's own sandbox process, not by a clock: a watchdog's
    // kill would be audited as a crash and replace the process.
    expect(records[0]).toMatchObject({ plugin: 'redosfields', decision: 'error', rule: 'plugin.cpu_limit' });
    expect(h.local.sandbox.processOf('redosfields')?.pid).toBe(pid);
    expect((await create()).order.status).toBe('new');
  });

  it('a route whose plugin is not active is 503', async () => {
    const route = await routeLike(h, h.route, { payoutPlugin: 'gone' });
    await expectRefused(h.orders.create(validOrder(route), { ip: '1.1.1.1' }), null, 503, /unavailable/);
  });

  it('checks both URLs and requires ipnSecret with ipnUrl', async () => {
    await expectRefused(create({ ipnUrl: 'ftp://shop.example/ipn', ipnSecret: 'SECRET123' }), 'ipnUrl', 400, /scheme ftp/);
    await expectRefused(create({ ipnUrl: 'http://192.168.1.10/ipn', ipnSecret: 'SECRET123' }), 'ipnUrl', 400, /private/);
    await expectRefused(create({ clientCallbackUrl: 'javascript:alert(1)' }), 'clientCallbackUrl', 400, /scheme javascript/);
    await expectRefused(create({ clientCallbackUrl: 'http://localhost/back' }), 'clientCallbackUrl', 400, /this machine/);
    await expectRefused(create({ ipnUrl: 'https://shop.example/ipn' }), 'ipnSecret', 400, /ipnSecret is required with ipnUrl/);
  });

  it('lets configured loopback origins through (demo and tests)', async () => {
    const other = await openOrdersHost({ allowLoopbackOrigins: ['http://127.0.0.1:8089'] });
    try {
      const { order } = await other.orders.create(validOrder(other.route, { ipnUrl: 'http://127.0.0.1:8089/ipn', ipnSecret: 'SECRET123' }), { ip: '1.1.1.1' });
      expect(order.ipnUrl).toBe('http://127.0.0.1:8089/ipn');
    } finally {
      await other.close();
    }
  });

  it('audits each creation without the recipient\'s details', async () => {
    const { order } = await create({ partner: 'audit-me' });
    await h.local.host.audit.flush();
    const [record] = await h.local.store.queryAudit({ capability: 'merchant.order.create', limit: 1 });
    expect(record).toMatchObject({ actor: 'merchant', decision: 'allowed' });
    expect(record.summary).toContain(`order ${order.uid}`);
    expect(record.summary).toContain('from 203.0.113.7');
    expect(record.summary).not.toContain(CARD);
  });
});

describe('the IPN later carries what the merchant gave', () => {
  it('toValues (with names), amounts, currencies and a hash made with the merchant\'s ipnSecret', async () => {
    const { order } = await create({ ipnUrl: 'https://shop.example/ipn?shop=1', ipnSecret: 'SECRET123' });
    const kicks = h.ipnKicks.count;
    const moved = await h.orders.transition(order._id, 'inProgress', { actor: 'admin', comment: 'paid' });
    expect(h.ipnKicks.count).toBe(kicks + 1);
    const [ipn] = await h.local.store.listIpns(order._id);
    expect(ipn).toMatchObject({ url: 'https://shop.example/ipn?shop=1', status: 'inProgress', maxAttempts: 1 });
    const f = ipn.fields;
    expect(f).toMatchObject({
      orderUID: String(order.uid), orderId: order._id, newStatus: 'inProgress', inAmount: '100', outAmount: '4150',
      xml_from: 'USDTTRC20', xml_to: 'CARDUAH',
      'toValues[0][key]': 'card_number', 'toValues[0][name]': 'Card number UAH', 'toValues[0][value]': CARD,
    });
    expect(f.hash).toBe(ipnHash({ orderId: order._id, newStatus: 'inProgress', inAmount: '100', outAmount: '4150', xmlFrom: 'USDTTRC20', xmlTo: 'CARDUAH', timestamp: f.timestamp, ipnSecret: 'SECRET123' }));
    expect(moved.status).toBe('inProgress');
  });

  it('no ipnUrl, no IPN', async () => {
    const { order } = await create();
    await h.orders.transition(order._id, 'waitPayment', { actor: 'admin' });
    expect(await h.local.store.listIpns(order._id)).toEqual([]);
  });
});

describe('findByUidAndSecret', () => {
  it('needs both the uid and its own secret', async () => {
    const { order } = await create();
    const { order: other } = await create();
    expect((await h.orders.findByUidAndSecret(order.uid, order.secret))?._id).toBe(order._id);
    expect((await h.orders.findByUidAndSecret(String(order.uid), order.secret))?._id).toBe(order._id);
    expect(await h.orders.findByUidAndSecret(order.uid, other.secret)).toBeNull();
    expect(await h.orders.findByUidAndSecret(order.uid, order.secret.slice(0, -1))).toBeNull();
    expect(await h.orders.findByUidAndSecret(order.uid, '')).toBeNull();
    expect(await h.orders.findByUidAndSecret(999_999, order.secret)).toBeNull();
    expect(await h.orders.findByUidAndSecret(`0${order.uid}`, order.secret)).toBeNull();
    expect(await h.orders.findByUidAndSecret('1 OR 1=1', order.secret)).toBeNull();
  });
});

describe('transition', () => {
  async function fresh(): Promise<Order> {
    return (await create()).order;
  }

  it('follows the status table and refuses other moves with 409 and the current status', async () => {
    const order = await fresh();
    const e = await expectRefused(h.orders.transition(order._id, 'done', { actor: 'admin' }), 'status', 409, /cannot go from new to done \(admin\); allowed from new: waitPayment, inProgress, deleted/);
    expect(e.currentStatus).toBe('new');
    await expectRefused(h.orders.transition(order._id, 'inProgress', { actor: 'system' }), 'status', 409, /cannot go from new to inProgress \(system\)/);
  });

  it('refuses a stale view (expectStatus) and an unknown order', async () => {
    const order = await fresh();
    await expectRefused(h.orders.transition(order._id, 'inProgress', { actor: 'admin', expectStatus: 'waitPayment' }), 'status', 409, /is new, not waitPayment/);
    await expectRefused(h.orders.transition('ffffffffffffffffffffffff', 'inProgress', { actor: 'admin' }), 'orderId', 404, /no order has the id/);
    await expectRefused(h.orders.transition(order._id, 'paid' as never, { actor: 'admin' }), 'status', 400, /unknown status "paid"/);
  });

  it('writes history, calls onEnteredPayout on entering inProgressPayout, and audits admin moves', async () => {
    const order = await fresh();
    await h.orders.transition(order._id, 'inProgress', { actor: 'admin', comment: 'money received', expectStatus: 'new' });
    const entered = h.enteredPayout.length;
    const moved = await h.orders.transition(order._id, 'inProgressPayout', { actor: 'admin' });
    expect(moved.status).toBe('inProgressPayout');
    expect(h.enteredPayout.slice(entered).map((o) => o._id)).toEqual([order._id]);
    const history = await h.local.store.getOrderHistory(order._id);
    expect(history.map((e) => [e.fromStatus, e.toStatus, e.actor, e.comment])).toEqual([
      ['new', 'inProgress', 'admin', 'money received'], ['inProgress', 'inProgressPayout', 'admin', null],
    ]);
    await h.local.host.audit.flush();
    const audit = await h.local.store.queryAudit({ capability: 'admin.order.status', limit: 100 });
    const mine = audit.filter((r) => r.summary.includes(order._id));
    expect(mine.map((r) => r.decision).sort()).toEqual(['allowed', 'allowed']);
    expect(mine.every((r) => r.actor === 'admin' && r.plugin === null)).toBe(true);
  });

  it('refuses an admin settlement while a payout attempt is live, and allows it once there is none', async () => {
    const order = await fresh();
    await h.orders.transition(order._id, 'inProgress', { actor: 'admin' });
    await h.orders.transition(order._id, 'inProgressPayout', { actor: 'admin' });
    const attempt = await h.local.store.createAttempt({ orderId: order._id, plugin: 'nimbuspay', owner: 'test', leaseMs: 60_000 });
    expect(attempt).not.toBeNull();
    const e = await expectRefused(h.orders.transition(order._id, 'done', { actor: 'admin' }), 'status', 409, /has a payout in progress \(attempt .*, PREPARED, nimbuspay\); put it on hold and resolve the payout/);
    expect(e.currentStatus).toBe('inProgressPayout');
    await h.local.host.audit.flush();
    const [denied] = await h.local.store.queryAudit({ capability: 'admin.order.status', decision: 'denied', limit: 1 });
    expect(denied).toMatchObject({ rule: 'order.live-attempt' });
    // The payout flow itself (system) may settle; hold stays possible for the admin.
    expect((await h.orders.transition(order._id, 'hold', { actor: 'admin' })).status).toBe('hold');
    const other = await fresh();
    await h.orders.transition(other._id, 'inProgress', { actor: 'admin' });
    await h.orders.transition(other._id, 'inProgressPayout', { actor: 'admin' });
    expect((await h.orders.transition(other._id, 'done', { actor: 'admin', comment: 'paid by hand' })).status).toBe('done');
  });

  it('a failing onEnteredPayout never undoes the move', async () => {
    const errors: string[] = [];
    const other = await openOrdersHost({ onEnteredPayout: () => { throw new Error('orchestrator down'); }, logError: (m) => errors.push(m) });
    try {
      const { order } = await other.orders.create(validOrder(other.route), { ip: '1.1.1.1' });
      await other.orders.transition(order._id, 'inProgress', { actor: 'admin' });
      expect((await other.orders.transition(order._id, 'inProgressPayout', { actor: 'admin' })).status).toBe('inProgressPayout');
      await new Promise((r) => setTimeout(r, 10));
      expect(errors).toEqual([`onEnteredPayout failed for order ${order.uid}`]);
    } finally {
      await other.close();
    }
  });
});

describe('publicView', () => {
  it('never carries the secrets, the IPN target or internals', async () => {
    const { order } = await create({ ipnUrl: 'https://shop.example/ipn', ipnSecret: 'SECRET123', partner: 'p', clientCallbackUrl: 'https://shop.example/back' });
    const view = h.orders.publicView(order);
    const text = JSON.stringify(view);
    for (const hidden of [order.secret, 'SECRET123', 'https://shop.example/ipn', 'nimbuspay']) expect(text).not.toContain(hidden);
    expect(Object.keys(view).sort()).toEqual(['createdAt', 'final', 'fromXml', 'hideOutData', 'inAmount', 'lang', 'orderId', 'outAmount', 'outSymbol', 'returnUrl', 'status', 'toValues', 'toXml', 'uid', 'updatedAt']);
    expect(view.returnUrl).toBeNull();
  });

  it('hides the recipient with hideOutData, and offers the way back only when final', async () => {
    const { order } = await create({ hideOutData: '1', clientCallbackUrl: 'https://shop.example/back?id=7' });
    expect(h.orders.publicView(order).toValues).toBeNull();
    const deleted = await h.orders.transition(order._id, 'deleted', { actor: 'admin' });
    expect(h.orders.publicView(deleted)).toMatchObject({ final: 'error', returnUrl: 'https://shop.example/back?id=7&status=error' });
  });
});

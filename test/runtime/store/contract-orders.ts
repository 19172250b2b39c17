// Contract: orders, transitions (compare-and-set + history + IPN), payout attempts (lease + fence).
import { expect, test } from 'vitest';
import { StoreInputError, StoreTransitionError } from '../../../runtime/store/errors.ts';
import type { Fixture } from './contract-fixtures.ts';
import { ID, T0, iso, ipnFor, sampleOrder } from './contract-fixtures.ts';

export function registerOrderContract(f: Fixture): void {
  test('createOrder stores every field, numbers orders from 1, and reads back by id, uid and id list', async () => {
    const store = await f.open();
    const input = sampleOrder({ partner: 'p-1', clientCallbackUrl: 'https://client.example/cb', orderNote: 'vip' });
    const first = await store.createOrder(input);
    expect(first).toEqual({ ...input, _id: ID, uid: 1, version: 1, createdAt: iso(T0), updatedAt: iso(T0) });
    const second = await store.createOrder(sampleOrder({ payoutModule: null }));
    expect(second.uid).toBe(2);
    expect(await store.getOrder(first._id)).toEqual(first);
    expect(await store.getOrderByUid(2)).toEqual(second);
    expect(await store.getOrder('0'.repeat(24))).toBeNull();
    expect(await store.getOrderByUid(99)).toBeNull();
    expect(await store.getOrders([second._id, 'f'.repeat(24), first._id, second._id])).toEqual([second, first]);
  });

  test('listOrders filters by status and module, newest first, with limit and beforeUid', async () => {
    const store = await f.open();
    const a = await store.createOrder(sampleOrder({ status: 'new', payoutModule: 'alpha' }));
    const b = await store.createOrder(sampleOrder({ status: 'done', payoutModule: 'beta' }));
    const c = await store.createOrder(sampleOrder({ status: 'new', payoutModule: 'beta' }));
    const uids = (orders: { uid: number }[]) => orders.map((o) => o.uid);
    expect(uids(await store.listOrders({}))).toEqual([c.uid, b.uid, a.uid]);
    expect(uids(await store.listOrders({ status: 'new' }))).toEqual([c.uid, a.uid]);
    expect(uids(await store.listOrders({ payoutModule: 'beta' }))).toEqual([c.uid, b.uid]);
    expect(uids(await store.listOrders({ status: 'new', payoutModule: 'beta' }))).toEqual([c.uid]);
    expect(uids(await store.listOrders({ limit: 2 }))).toEqual([c.uid, b.uid]);
    expect(uids(await store.listOrders({ beforeUid: c.uid, limit: 1 }))).toEqual([b.uid]);
  });

  test('createOrder refuses a malformed order and names the field', async () => {
    const store = await f.open();
    await expect(store.createOrder(sampleOrder({ status: 'paid' as never }))).rejects.toThrow(/createOrder: status must be one of new, /);
    await expect(store.createOrder(sampleOrder({ inAmount: 100 as never }))).rejects.toThrow(StoreInputError);
    await expect(store.createOrder(sampleOrder({ inAmount: 100 as never }))).rejects.toThrow(/inAmount must be a string, got number 100/);
    const { ipnUrl, ...misspelt } = { ...sampleOrder(), ipnURL: 'https://merchant.example/ipn' };
    expect(ipnUrl).toBeTruthy();
    await expect(store.createOrder(misspelt as never)).rejects.toThrow(/order has unknown field "ipnURL"/);
    await expect(store.createOrder({ ...sampleOrder(), ipnUrl: undefined } as never)).rejects.toThrow(/ipnUrl must be a string or null, got undefined/);
    expect(await store.listOrders({})).toEqual([]);
  });

  test('transitionOrder changes the status, appends history and enqueues the IPN together', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    f.clock.advance(1500);
    const result = await store.transitionOrder({
      orderId: order._id, expectStatus: ['new', 'waitPayment'], toStatus: 'waitPayment',
      patch: { payoutStatus: 'created', orderNote: 'note' }, history: { actor: 'merchant', comment: 'paid' },
      ipn: ipnFor(order, 'waitPayment'),
    });
    const at = iso(T0 + 1500);
    const expectedOrder = { ...order, status: 'waitPayment', payoutStatus: 'created', orderNote: 'note', version: 2, updatedAt: at };
    const expectedHistory = {
      _id: ID, orderId: order._id, at, fromStatus: 'new', toStatus: 'waitPayment', actor: 'merchant', payoutStatus: 'created', comment: 'paid',
    };
    const expectedIpn = {
      _id: ID, orderId: order._id, status: 'waitPayment', url: 'https://merchant.example/ipn', fields: ipnFor(order, 'waitPayment').fields,
      state: 'pending', attempts: 0, maxAttempts: 5, nextAttemptAt: at, leaseUntil: null, lastError: null, createdAt: at, updatedAt: at,
    };
    expect(result).toEqual({ ok: true, order: expectedOrder, history: expectedHistory, ipn: expectedIpn });
    expect(await store.getOrder(order._id)).toEqual(expectedOrder);
    expect(await store.getOrderHistory(order._id)).toEqual([expectedHistory]);
    expect(await store.listIpns(order._id)).toEqual([expectedIpn]);
  });

  test('a transition from an unexpected status writes nothing: no history, no IPN, order unchanged', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder({ status: 'inProgressPayout' }));
    const result = await store.transitionOrder({
      orderId: order._id, expectStatus: ['new', 'waitPayment'], toStatus: 'done', patch: { payoutStatus: 'paid' },
      history: { actor: 'plugin:alpha', comment: null }, ipn: ipnFor(order, 'done'),
    });
    expect(result).toEqual({ ok: false, reason: 'status_mismatch', current: order });
    expect(await store.getOrder(order._id)).toEqual(order);
    expect(await store.getOrderHistory(order._id)).toEqual([]);
    expect(await store.listIpns(order._id)).toEqual([]);
  });

  test('a transition for another payout module is refused even when the status matches', async () => {
    const store = await f.open();
    const alphas = await store.createOrder(sampleOrder({ status: 'inProgressPayout', payoutModule: 'alpha' }));
    const unassigned = await store.createOrder(sampleOrder({ status: 'inProgressPayout', payoutModule: null }));
    for (const order of [alphas, unassigned]) {
      const result = await store.transitionOrder({
        orderId: order._id, expectStatus: ['inProgressPayout'], expectPayoutModule: 'beta', toStatus: 'done',
        history: { actor: 'plugin:beta', comment: null }, ipn: ipnFor(order, 'done'),
      });
      expect(result).toEqual({ ok: false, reason: 'module_mismatch', current: order });
      expect(await store.getOrder(order._id)).toEqual(order);
      expect(await store.getOrderHistory(order._id)).toEqual([]);
      expect(await store.listIpns(order._id)).toEqual([]);
    }
    const own = await store.transitionOrder({
      orderId: alphas._id, expectStatus: ['inProgressPayout'], expectPayoutModule: 'alpha', toStatus: 'done',
      history: { actor: 'plugin:alpha', comment: null },
    });
    expect(own.ok && own.order.status).toBe('done');
  });

  test('a transition of an unknown order reports not_found', async () => {
    const store = await f.open();
    expect(await store.transitionOrder({
      orderId: 'a'.repeat(24), expectStatus: ['new'], toStatus: 'waitPayment', history: { actor: 'system', comment: null },
    })).toEqual({ ok: false, reason: 'not_found', current: null });
  });

  test('history keeps the order of several transitions; a transition without IPN enqueues none', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder({ payoutStatus: 'init' }));
    const path = ['waitPayment', 'inProgress', 'inProgressPayout', 'done'] as const;
    let from: string = 'new';
    for (const to of path) {
      f.clock.advance(10);
      const r = await store.transitionOrder({ orderId: order._id, expectStatus: [from as 'new'], toStatus: to, history: { actor: 'system', comment: to } });
      expect(r.ok).toBe(true);
      from = to;
    }
    const history = await store.getOrderHistory(order._id);
    expect(history.map((h) => [h.fromStatus, h.toStatus, h.comment, h.payoutStatus])).toEqual([
      ['new', 'waitPayment', 'waitPayment', 'init'], ['waitPayment', 'inProgress', 'inProgress', 'init'],
      ['inProgress', 'inProgressPayout', 'inProgressPayout', 'init'], ['inProgressPayout', 'done', 'done', 'init'],
    ]);
    expect((await store.getOrder(order._id))?.version).toBe(5);
    expect(await store.listIpns(order._id)).toEqual([]);
  });

  test('two stores racing the same transition: exactly one wins, one history entry, one IPN', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const order = await one.createOrder(sampleOrder());
    const attempt = (store: typeof one) => store.transitionOrder({
      orderId: order._id, expectStatus: ['new'], toStatus: 'waitPayment', history: { actor: 'system', comment: null }, ipn: ipnFor(order, 'waitPayment'),
    });
    const results = await Promise.all([attempt(one), attempt(two), attempt(one), attempt(two)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual(['status_mismatch', 'status_mismatch', 'status_mismatch']);
    expect(await two.getOrderHistory(order._id)).toHaveLength(1);
    expect(await one.listIpns(order._id)).toHaveLength(1);
    expect((await one.getOrder(order._id))?.version).toBe(2);
  });

  test('an IPN that names another order or status is refused before anything is written', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const other = await store.createOrder(sampleOrder());
    const base = { orderId: order._id, expectStatus: ['new' as const], toStatus: 'waitPayment' as const, history: { actor: 'system', comment: null } };
    await expect(store.transitionOrder({ ...base, ipn: ipnFor(other, 'waitPayment') })).rejects.toThrow(/ipn\.orderId .* differs from orderId/);
    await expect(store.transitionOrder({ ...base, ipn: ipnFor(order, 'done') })).rejects.toThrow(/ipn\.status done differs from toStatus waitPayment/);
    expect(await store.getOrder(order._id)).toEqual(order);
  });

  test('createAttempt creates a PREPARED live attempt holding a lease with fence 1', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const attempt = await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'worker-1', leaseMs: 30_000 });
    expect(attempt).toEqual({
      _id: ID, orderId: order._id, plugin: 'alpha', state: 'PREPARED', live: true, fence: 1, leaseOwner: 'worker-1',
      leaseUntil: iso(T0 + 30_000), requestsSent: 0, requestLeftAt: null, callId: null, transaction: null, reportedAmount: null, reportedCurrency: null,
      reason: null, reviewDeadline: null, createdAt: iso(T0), updatedAt: iso(T0),
    });
    expect(await store.getAttempt(attempt!._id)).toEqual(attempt);
    expect(await store.getLiveAttempt(order._id)).toEqual(attempt);
    expect(await store.listAttempts(order._id)).toEqual([attempt]);
    await expect(store.createAttempt({ orderId: 'b'.repeat(24), plugin: 'alpha', owner: 'w', leaseMs: 1000 }))
      .rejects.toThrow(/createAttempt: order b{24} does not exist/);
  });

  test('an order has at most one live attempt; only a FAILED one lets a new attempt start', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const other = await store.createOrder(sampleOrder());
    const first = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w1', leaseMs: 1000 }))!;
    expect(await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w2', leaseMs: 1000 })).toBeNull();
    const otherAttempt = await store.createAttempt({ orderId: other._id, plugin: 'alpha', owner: 'w2', leaseMs: 1000 });
    expect(otherAttempt).toMatchObject({ orderId: other._id, live: true });
    f.clock.advance(5);
    const dispatching = await store.updateAttempt(first._id, 1, ['PREPARED'], { state: 'DISPATCHING' });
    expect(dispatching).toMatchObject({ state: 'DISPATCHING', live: true, updatedAt: iso(T0 + 5) });
    expect(await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w2', leaseMs: 1000 })).toBeNull();
    f.clock.advance(5);
    const failed = await store.updateAttempt(first._id, 1, ['DISPATCHING'], { state: 'FAILED', reason: 'provider said no', leaseUntil: null });
    expect(failed).toMatchObject({ state: 'FAILED', live: false, reason: 'provider said no', leaseUntil: null, fence: 1 });
    expect(await store.getLiveAttempt(order._id)).toBeNull();
    const second = await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w2', leaseMs: 1000 });
    expect(second).toMatchObject({ state: 'PREPARED', live: true, leaseOwner: 'w2' });
    expect(await store.listAttempts(order._id)).toEqual([failed, second]);
    expect(await store.listAttemptsInStates(['FAILED'])).toEqual([failed]);
    // Least recently updated first: the other order's untouched attempt, then the failed one.
    expect(await store.listAttemptsInStates(['PREPARED', 'FAILED'], 2)).toEqual([otherAttempt, failed]);
  });

  test('a settled attempt never moves back into a live state beside the live one: the attempt table refuses it first', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const first = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w1', leaseMs: 1000 }))!;
    const failed = await store.updateAttempt(first._id, 1, ['PREPARED'], { state: 'FAILED' });
    await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w2', leaseMs: 1000 });
    // Every move into a live state starts from a live state, so the unique index (the backstop,
    // StoreConflictError) cannot be reached through updateAttempt.
    const revive = store.updateAttempt(first._id, 1, ['FAILED'], { state: 'UNKNOWN' });
    await expect(revive).rejects.toThrow(StoreTransitionError);
    await expect(store.updateAttempt(first._id, 1, ['FAILED'], { state: 'UNKNOWN' })).rejects.toThrow(/may not move from FAILED to UNKNOWN/);
    expect(await store.getAttempt(first._id)).toEqual(failed);
  });

  test('claimers racing createAttempt, across two store instances: exactly one wins per order', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const orders = await Promise.all([1, 2, 3, 4].map(() => one.createOrder(sampleOrder())));
    for (const order of orders) {
      const claims = await Promise.all([one, two, one, two, one, two].map((s, i) =>
        s.createAttempt({ orderId: order._id, plugin: 'alpha', owner: `claimer-${i}`, leaseMs: 60_000 })));
      const winners = claims.filter((c) => c !== null);
      expect(winners).toHaveLength(1);
      expect(await two.getLiveAttempt(order._id)).toEqual(winners[0]);
      expect(await one.listAttempts(order._id)).toEqual(winners);
    }
  });

  test('updateAttempt writes only with the current fence and an expected state', async () => {
    const store = await f.open();
    const order = await store.createOrder(sampleOrder());
    const attempt = (await store.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w1', leaseMs: 1000 }))!;
    expect(await store.updateAttempt(attempt._id, 2, ['PREPARED'], { state: 'DISPATCHING' })).toBeNull();
    expect(await store.updateAttempt(attempt._id, 0, ['PREPARED'], { state: 'DISPATCHING' })).toBeNull();
    expect(await store.updateAttempt(attempt._id, 1, ['DISPATCHING'], { state: 'ACCEPTED' })).toBeNull();
    expect(await store.updateAttempt('c'.repeat(24), 1, ['PREPARED'], { state: 'DISPATCHING' })).toBeNull();
    expect(await store.getAttempt(attempt._id)).toEqual(attempt);
    f.clock.advance(20);
    const dispatching = (await store.updateAttempt(attempt._id, 1, ['PREPARED'], { state: 'DISPATCHING' }))!;
    const accepted = await store.updateAttempt(attempt._id, 1, ['DISPATCHING'], {
      state: 'ACCEPTED', requestsSent: 2, transaction: 'prov-77', reportedAmount: '99.25', reportedCurrency: 'UAH',
      reviewDeadline: iso(T0 + 3_600_000),
    });
    expect(accepted).toEqual({
      ...dispatching, state: 'ACCEPTED', live: true, requestsSent: 2, transaction: 'prov-77', reportedAmount: '99.25',
      reportedCurrency: 'UAH', reviewDeadline: iso(T0 + 3_600_000), updatedAt: iso(T0 + 20),
    });
    expect(await store.getAttempt(attempt._id)).toEqual(accepted);
    const done = await store.updateAttempt(attempt._id, 1, ['ACCEPTED'], { state: 'SUCCEEDED' });
    expect(done).toMatchObject({ state: 'SUCCEEDED', live: false });
    await expect(store.updateAttempt(attempt._id, 1, ['SUCCEEDED'], { fence: 9 } as never)).rejects.toThrow(/unknown field "fence"/);
  });

  test('lease expiry and takeover: a stale fence cannot write after another owner took the lease', async () => {
    const [one, two] = [await f.open(), await f.open()];
    const order = await one.createOrder(sampleOrder());
    const attempt = (await one.createAttempt({ orderId: order._id, plugin: 'alpha', owner: 'w1', leaseMs: 10_000 }))!;
    f.clock.advance(9_999);
    expect(await two.acquireAttemptLease(attempt._id, 'w2', 10_000)).toBeNull();
    f.clock.advance(1);
    const taken = await two.acquireAttemptLease(attempt._id, 'w2', 10_000);
    expect(taken).toEqual({ ...attempt, fence: 2, leaseOwner: 'w2', leaseUntil: iso(T0 + 20_000), updatedAt: iso(T0 + 10_000) });
    expect(await one.updateAttempt(attempt._id, 1, ['PREPARED'], { state: 'DISPATCHING' })).toBeNull();
    expect(await one.acquireAttemptLease(attempt._id, 'w1', 10_000)).toBeNull();
    expect(await one.getAttempt(attempt._id)).toEqual(taken);
    const renewed = await two.acquireAttemptLease(attempt._id, 'w2', 10_000);
    expect(renewed).toMatchObject({ fence: 3, leaseOwner: 'w2' });
    expect(await two.updateAttempt(attempt._id, 2, ['PREPARED'], { state: 'DISPATCHING' })).toBeNull();
    const released = await two.updateAttempt(attempt._id, 3, ['PREPARED'], { state: 'DISPATCHING', leaseUntil: null });
    expect(released).toMatchObject({ state: 'DISPATCHING', fence: 3, leaseUntil: null });
    expect(await one.acquireAttemptLease(attempt._id, 'w1', 5_000)).toMatchObject({ fence: 4, leaseOwner: 'w1', state: 'DISPATCHING' });
  });
}

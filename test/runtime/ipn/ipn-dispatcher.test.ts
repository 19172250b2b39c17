// The IPN worker against a real fake merchant on 127.0.0.1, the real egress guard and a real
// SQLite outbox whose clock the tests move (due times, leases).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpnDispatcher } from '../../../runtime/ipn/ipn-dispatcher.ts';
import { createIpnEgress } from '../../../runtime/ipn/ipn-egress.ts';
import type { IpnDispatcherDeps, IpnEvent } from '../../../runtime/ipn/ipn-dispatcher.ts';
import { buildIpn, ipnHash } from '../../../runtime/ipn/ipn-message.ts';
import { startFakeMerchant } from '../../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../../runtime/demo/fake-merchant.ts';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import type { IpnMessage } from '../../../runtime/store/types.ts';
import { newOrder } from '../../helpers/orders.ts';

const IPN_SECRET = 'merchant-ipn-secret';
let clock: number;
let store: Store;
let merchant: FakeMerchant;
let events: IpnEvent[];

beforeEach(async () => {
  clock = Date.parse('2025-03-01T12:00:00.000Z');
  store = await openStore('sqlite::memory:', { now: () => clock });
  merchant = await startFakeMerchant({ ipnSecret: IPN_SECRET });
  events = [];
});
afterEach(async () => {
  await merchant.close();
  await store.close();
});

function dispatcher(overrides: Partial<IpnDispatcherDeps> = {}): IpnDispatcher {
  return new IpnDispatcher({
    store,
    egress: createIpnEgress({ loopbackOrigins: [`http://127.0.0.1:${merchant.port}`] }),
    retryBaseMs: 1000,
    sendTimeoutMs: 2000,
    now: () => clock,
    random: () => 0,
    onEvent: (e) => events.push(e),
    ...overrides,
  });
}

/** An order that moves to done, enqueueing its IPN in the same step, as a plugin's updateHistory does. */
async function transitionWithIpn(ipnUrl: string, maxAttempts = 1): Promise<IpnMessage> {
  const order = await store.createOrder(newOrder({ ipnUrl, ipnSecret: IPN_SECRET, payoutModule: 'alpha' }));
  const result = await store.transitionOrder({
    orderId: order._id, expectStatus: ['inProgressPayout'], toStatus: 'done',
    history: { actor: 'plugin:alpha', comment: 'paid' }, ipn: buildIpn(order, 'done', { maxAttempts, now: clock }),
  });
  if (!result.ok || !result.ipn) throw new Error('transition did not enqueue an IPN');
  return result.ipn;
}

async function row(ipn: IpnMessage): Promise<IpnMessage> {
  const rows = await store.listIpns(ipn.orderId);
  return rows.find((r) => r._id === ipn._id)!;
}

describe('the IPN hash', () => {
  it("matches the merchant API's worked example", () => {
    expect(ipnHash({
      orderId: '5d8e6002b80b7b4cd75a6424', newStatus: 'inProgress', inAmount: '2', outAmount: '317.42',
      xmlFrom: 'ETH', xmlTo: 'WMZ', timestamp: 1571328406072, ipnSecret: 'SECRET123',
    })).toBe('af3acf947e6f0e0f2c267e300b8582e504dba12d1f2d058652b7414163c09f48');
  });
});

describe('delivery', () => {
  it('POSTs a correctly signed form, fields in their stored order, once', async () => {
    const ipn = await transitionWithIpn(merchant.url);
    const summary = await dispatcher().drainOnce();
    expect(summary).toEqual({ claimed: 1, sent: 1, retried: 0, failed: 0, superseded: 0, error: null });

    expect(merchant.received).toHaveLength(1);
    const got = merchant.received[0];
    expect(got.path).toBe('/ipn');
    expect(got.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(got.hashValid).toBe(true);
    expect(Object.keys(got.fields)).toEqual(Object.keys(ipn.fields));
    expect(got.fields).toMatchObject({
      orderId: ipn.orderId, newStatus: 'done', inAmount: '100', outAmount: '4000', xml_from: 'USDTTRC20', xml_to: 'CARDUAH',
      timestamp: String(clock), 'toValues[0][key]': 'card_number', 'toValues[0][value]': '4111111111111111',
    });

    expect(await row(ipn)).toMatchObject({ state: 'sent', attempts: 1, lastError: null, leaseUntil: null });
    expect(events).toEqual([expect.objectContaining({ kind: 'sent', id: ipn._id, httpStatus: 200, attempt: 1, maxAttempts: 1, target: merchant.url })]);

    clock += 3_600_000;
    expect((await dispatcher().drainOnce()).claimed).toBe(0);
    expect(merchant.received).toHaveLength(1);
  });

  it('sends once by default: a failing merchant is recorded, not retried', async () => {
    merchant.setMode('fail');
    const ipn = await transitionWithIpn(merchant.url);
    const d = dispatcher();
    expect(await d.drainOnce()).toMatchObject({ claimed: 1, failed: 1 });
    const stored = await row(ipn);
    expect(stored).toMatchObject({ state: 'failed', attempts: 1 });
    expect(stored.lastError).toBe('attempt 1 of 1: the merchant answered HTTP 500 Internal Server Error: merchant failure (IPN is sent once; retries are not enabled)');

    clock += 24 * 3_600_000;
    expect((await d.drainOnce()).claimed).toBe(0);
    expect(merchant.received).toHaveLength(1);
  });

  it('retries with exponential backoff and jitter when retries are opted in', async () => {
    merchant.setMode('fail', { times: 2 });
    const ipn = await transitionWithIpn(merchant.url, 3);
    const d = dispatcher({ random: () => 0 });
    const t0 = clock;

    expect(await d.drainOnce()).toMatchObject({ claimed: 1, retried: 1 });
    let stored = await row(ipn);
    // retryBaseMs 1000, first retry: between 500 and 1000 ms; random 0 → the lower bound.
    expect(stored).toMatchObject({ state: 'pending', attempts: 1, nextAttemptAt: new Date(t0 + 500).toISOString() });
    expect(stored.lastError).toMatch(/^attempt 1 of 3: the merchant answered HTTP 500/);
    expect((await d.drainOnce()).claimed).toBe(0);

    clock = t0 + 500;
    expect(await d.drainOnce()).toMatchObject({ claimed: 1, retried: 1 });
    stored = await row(ipn);
    // Second retry: the delay doubled (2000 ms, jittered down to 1000).
    expect(stored).toMatchObject({ state: 'pending', attempts: 2, nextAttemptAt: new Date(t0 + 1500).toISOString() });
    clock = t0 + 1499;
    expect((await d.drainOnce()).claimed).toBe(0);

    clock = t0 + 1500;
    expect(await d.drainOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await row(ipn)).toMatchObject({ state: 'sent', attempts: 3, lastError: null });
    expect(merchant.received.map((r) => r.answeredWith)).toEqual([500, 500, 200]);
    expect(events.map((e) => e.kind)).toEqual(['retry', 'retry', 'sent']);
  });

  it('jitter stays within [half, full] of the doubled delay', async () => {
    merchant.setMode('fail');
    const ipn = await transitionWithIpn(merchant.url, 5);
    await dispatcher({ random: () => 0.999, retryBaseMs: 4000 }).drainOnce();
    const delay = Date.parse((await row(ipn)).nextAttemptAt) - clock;
    expect(delay).toBeGreaterThan(3990);
    expect(delay).toBeLessThanOrEqual(4000);
  });

  it('gives up on a hanging merchant after the send timeout and records why', async () => {
    merchant.setMode('hang');
    const ipn = await transitionWithIpn(merchant.url);
    const started = Date.now();
    expect(await dispatcher({ sendTimeoutMs: 300 }).drainOnce()).toMatchObject({ failed: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290); // not before its timeout (load only makes it later)
    const stored = await row(ipn);
    expect(stored.state).toBe('failed');
    expect(stored.lastError).toMatch(/^attempt 1 of 1: no answer within 300 ms: ipn: http:\/\/127\.0\.0\.1:\d+ did not complete within/);
    // Given up by its own send timeout, not by a clock: the merchant had not answered yet.
    expect(merchant.received.map((r) => r.answeredWith)).toEqual([null]);
  });

  it('refuses private and loopback ipnUrls through the egress guard, records it, and sends nothing', async () => {
    // No loopback origin is allowed here, as on a production server: the merchant's real port too is refused.
    const guarded = dispatcher({ egress: createIpnEgress({ loopbackOrigins: [] }) });
    const urls = ['http://10.0.0.5/ipn', merchant.url, 'http://169.254.169.254/latest/meta-data', 'http://[::1]:8080/ipn'];
    const ipns = [];
    for (const url of urls) ipns.push(await transitionWithIpn(url, 3));
    expect(await guarded.drainOnce()).toMatchObject({ claimed: 4, failed: 4, retried: 0 });
    expect(merchant.received).toHaveLength(0);
    for (const ipn of ipns) {
      const stored = await row(ipn);
      // Final at once, even with retries allowed: the address will not become public.
      expect(stored).toMatchObject({ state: 'failed', attempts: 1 });
      expect(stored.lastError).toMatch(/^attempt 1 of 3: not sent, refused by the egress guard \[http\./);
    }
    expect((await row(ipns[0])).lastError).toContain('10.0.0.5');
    expect((await row(ipns[1])).lastError).toContain('loopback');
    clock += 3_600_000;
    expect((await guarded.drainOnce()).claimed).toBe(0);
  });
});

describe('crash safety', () => {
  it('a worker killed mid-batch loses nothing: its rows are re-claimed after the lease', async () => {
    const ipns = [];
    for (let i = 0; i < 3; i++) ipns.push(await transitionWithIpn(merchant.url, 2));
    const once = await transitionWithIpn(merchant.url, 1);
    // What a worker that died right after claiming leaves behind: leased 'sending' rows.
    const dead = await store.claimDueIpns(10, 30_000);
    expect(dead).toHaveLength(4);

    const survivor = dispatcher({ leaseMs: 30_000 });
    expect((await survivor.drainOnce()).claimed).toBe(0);
    clock += 30_001;
    expect(await survivor.drainOnce()).toMatchObject({ claimed: 4, sent: 4 });

    expect(merchant.received.map((r) => r.fields.orderId).sort()).toEqual([...ipns, once].map((i) => i.orderId).sort());
    for (const ipn of ipns) expect(await row(ipn)).toMatchObject({ state: 'sent', attempts: 2 });
    // Even a send-once IPN is sent again when its worker died: a crash is not the merchant failing,
    // and a lost IPN is worse than the documented duplicate.
    expect(await row(once)).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it("a slow worker's late outcome cannot overwrite the delivery that replaced it", async () => {
    const ipn = await transitionWithIpn(merchant.url, 3);
    merchant.setMode('hang', { times: 1 });
    const slow = dispatcher({ sendTimeoutMs: 400, leaseMs: 1000 });
    const slowRun = slow.drainOnce();
    await merchant.waitFor(1);

    clock += 1001;
    const peer = dispatcher({ sendTimeoutMs: 400, leaseMs: 1000 });
    expect(await peer.drainOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await slowRun).toMatchObject({ claimed: 1, superseded: 1 });

    expect(await row(ipn)).toMatchObject({ state: 'sent', attempts: 2, lastError: null });
    // The documented duplicate: the merchant saw the same IPN twice (same orderId, status, timestamp).
    expect(merchant.received).toHaveLength(2);
    expect(merchant.received[0].fields.hash).toBe(merchant.received[1].fields.hash);
    expect(events.map((e) => e.kind).sort()).toEqual(['sent', 'superseded']);
  });
});

describe('worker lifecycle', () => {
  it('kick() delivers at once; stop() waits for the send in flight and its record', async () => {
    // The next poll is due far past the test's timeout: a delivery at all is the kick's, no clock
    // needed to tell it from the poll's.
    const d = dispatcher({ pollIntervalMs: 600_000, sendTimeoutMs: 300 });
    d.start();
    await new Promise((r) => setTimeout(r, 50));
    await transitionWithIpn(merchant.url);
    d.kick();
    await merchant.waitFor(1, 20_000);

    merchant.setMode('hang');
    const hanging = await transitionWithIpn(merchant.url);
    d.kick();
    await merchant.waitFor(2, 20_000);
    await d.stop();
    expect((await row(hanging)).state).toBe('failed');
    expect(events.map((e) => e.kind)).toEqual(['sent', 'failed']);

    // Stopped: a kick does nothing.
    await transitionWithIpn(merchant.url);
    merchant.setMode('ok');
    d.kick();
    await new Promise((r) => setTimeout(r, 100));
    expect(merchant.received).toHaveLength(2);
  });

  it('a database fault during a claim is reported, not thrown', async () => {
    const d = new IpnDispatcher({
      store: { claimDueIpns: async () => { throw new Error('database is locked'); }, completeIpn: async () => true },
      egress: createIpnEgress({ loopbackOrigins: [] }), retryBaseMs: 1000, onEvent: (e) => events.push(e),
    });
    expect(await d.drainOnce()).toMatchObject({ claimed: 0, error: 'database is locked' });
    expect(events).toEqual([{ kind: 'error', stage: 'claim', id: null, error: 'database is locked', cause: expect.objectContaining({ message: 'database is locked' }) }]);
  });

  it('refuses a lease shorter than the send timeout', () => {
    expect(() => dispatcher({ leaseMs: 1000, sendTimeoutMs: 1000 })).toThrow(/leaseMs \(1000\) must be longer than sendTimeoutMs/);
  });
});

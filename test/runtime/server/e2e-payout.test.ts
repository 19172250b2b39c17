// The whole flow against a real server, the example plugin in its sandbox, a fake provider and a
// fake merchant on 127.0.0.1: order create → admin marks paid → inProgressPayout → transfer
// (ok:2) → provider webhook (or the plugin's cron) → done → IPN with a valid hash. And the
// provider that hangs after accepting: UNKNOWN, never a second transfer, held for review.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHost, IPN_SECRET } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function createOrder(h: TestHost, extra: Record<string, unknown> = {}) {
  const res = await h.api('POST', '/api/public/exchanger/order/create', {
    routeId: h.routeId, amount: '10', agreement: true, lang: 'en',
    toValues: [{ key: 'card_number', value: '4111111111111111' }],
    ipnUrl: `${h.merchant.url}/ipn`, ipnSecret: IPN_SECRET, ...extra,
  });
  expect(res.status, res.text).toBe(200);
  return res.json as { orderId: string; uid: number; secret: string; status: string };
}

async function markPaid(h: TestHost, uid: number) {
  expect((await h.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress', comment: 'customer paid' })).status).toBe(200);
  expect((await h.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
}

async function orderDetail(h: TestHost, uid: number) {
  return (await h.admin('GET', `/api/admin/orders/${uid}`)).json;
}

describe('end to end: a payout completes exactly once', () => {
  it('webhook path: ok:2, then the provider webhook settles it, the merchant gets signed IPNs', async () => {
    t = await startTestHost({}, { provider: { behaviour: { outcome: 'DONE', afterMs: 300, webhook: 'auto' } } });
    const h = t;
    const order = await createOrder(h);
    expect(order.status).toBe('new');
    await markPaid(h, order.uid);
    const accepted = await h.waitFor('the attempt to be accepted or settled', async () => {
      const d = await orderDetail(h, order.uid);
      return d.attempts.some((a: { state: string }) => a.state === 'ACCEPTED' || a.state === 'SUCCEEDED') ? d : null;
    });
    expect(accepted.payoutTxs[0]).toMatchObject({ payoutModule: 'nimbuspay' });
    const done = await h.waitFor('the order to be done', async () => {
      const d = await orderDetail(h, order.uid);
      return d.order.status === 'done' && d.attempts[0].state === 'SUCCEEDED' ? d : null;
    });
    expect(done.history.map((e: { toStatus: string }) => e.toStatus)).toEqual(['inProgress', 'inProgressPayout', 'done']);
    expect(done.history.at(-1).actor).toBe('plugin:nimbuspay');
    expect(h.provider.transfersFor(order.orderId)).toHaveLength(1);
    // The attempt says a request left (before it reached the provider) and what the provider answered.
    expect(done.attempts[0]).toMatchObject({ requestLeftAt: expect.any(String), callId: expect.any(String) });
    expect(done.attempts[0].requests.map((r: { summary: string }) => r.summary)).toEqual(expect.arrayContaining([expect.stringMatching(/^transfer: POST http:\/\/127\.0\.0\.1:\d+\/v1\/payouts .* → 201$/)]));

    const ipns = await h.merchant.waitFor(3);
    expect(ipns.map((i) => i.fields.newStatus)).toEqual(['inProgress', 'inProgressPayout', 'done']);
    for (const ipn of ipns) {
      expect(ipn.hashValid).toBe(true);
      expect(ipn.fields).toMatchObject({ orderId: order.orderId, orderUID: String(order.uid), xml_from: 'USDTTRC20', xml_to: 'CARDUAH', inAmount: '10', outAmount: '400' });
      expect(ipn.headers['content-type']).toMatch(/application\/x-www-form-urlencoded/);
    }
    // A duplicate webhook delivery changes nothing (the plugin no longer tracks the settled tx).
    // (On a busy machine the plugin's cron may settle it before the provider's own webhook left.)
    const first = await h.waitFor('the provider\'s webhook', async () => h.provider.webhooks[0]);
    await h.provider.deliverWebhook(first.payoutId);
    const after = await orderDetail(h, order.uid);
    expect(after.order.status).toBe('done');
    expect(after.history).toHaveLength(3);
    expect(h.provider.transfersFor(order.orderId)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.merchant.received).toHaveLength(3);
  });

  it('cron path: no webhook; the plugin\'s cron polls the provider and settles the order', async () => {
    t = await startTestHost({}, { provider: { behaviour: { outcome: 'DONE', afterPolls: 1, webhook: 'manual' } } });
    const h = t;
    const order = await createOrder(h);
    await markPaid(h, order.uid);
    await h.waitFor('acceptance', async () => ((await orderDetail(h, order.uid)).attempts[0]?.state === 'ACCEPTED' ? true : null));
    await h.host.cron.runNow('nimbuspay'); // first poll: still processing
    expect((await orderDetail(h, order.uid)).order.status).toBe('inProgressPayout');
    await h.host.cron.runNow('nimbuspay');
    const done = await h.waitFor('done', async () => {
      const d = await orderDetail(h, order.uid);
      return d.order.status === 'done' && d.attempts[0].state === 'SUCCEEDED' ? d : null;
    });
    expect(done.payoutTxs[0].active).toBe(false);
    expect(h.provider.transfersFor(order.orderId)).toHaveLength(1);
    const ipns = await h.merchant.waitFor(3);
    expect(ipns.at(-1)?.fields.newStatus).toBe('done');
    expect(ipns.at(-1)?.hashValid).toBe(true);
  });

  it('a provider that hangs after accepting: UNKNOWN, never a second transfer, held for review, resolved by an admin', async () => {
    t = await startTestHost({ transferWallMs: 1500, unknownReviewAfterMs: 300 });
    const h = t;
    h.provider.setBehaviour({ response: 'hang', outcome: 'DONE' });
    const order = await createOrder(h);
    await markPaid(h, order.uid);
    const unknown = await h.waitFor('UNKNOWN or review', async () => {
      const d = await orderDetail(h, order.uid);
      return ['UNKNOWN', 'NEEDS_REVIEW'].includes(d.attempts[0]?.state) ? d : null;
    });
    expect(unknown.attempts[0].requestsSent).toBeGreaterThan(0);
    const retry = await h.admin('POST', `/api/admin/orders/${order.uid}/payout`);
    expect(retry.status).toBe(409);
    const held = await h.waitFor('hold', async () => {
      const d = await orderDetail(h, order.uid);
      return d.order.status === 'hold' && d.attempts[0].state === 'NEEDS_REVIEW' ? d : null;
    });
    expect(held.order.holdReason).toMatch(/outcome is unknown/);
    // The hold shows that a request left and that no answer came (the request's audit record is an error).
    expect(held.attempts[0].requestLeftAt).toEqual(expect.any(String));
    expect(held.attempts[0].requests.at(-1)).toMatchObject({ decision: 'error', summary: expect.stringMatching(/^transfer: POST http:\/\/127\.0\.0\.1:\d+\/v1\/payouts body=\d+B$/) });
    await new Promise((r) => setTimeout(r, 600)); // several sweeps later, still no second transfer
    expect(h.provider.transfersFor(order.orderId)).toHaveLength(1);
    expect((await orderDetail(h, order.uid)).attempts).toHaveLength(1);

    const resolved = await h.admin('POST', `/api/admin/orders/${order.uid}/resolve`, { resolution: 'paid', comment: 'provider dashboard shows it paid' });
    expect(resolved.status, resolved.text).toBe(200);
    expect(resolved.json.order.status).toBe('done');
    const ipns = await h.merchant.waitFor(4);
    expect(ipns.map((i) => i.fields.newStatus)).toEqual(['inProgress', 'inProgressPayout', 'hold', 'done']);
  });

  it('an amount the provider reports differently is never done: the order is held', async () => {
    t = await startTestHost({}, { provider: { behaviour: { outcome: 'DONE', afterMs: 100, webhook: 'auto', reportAmount: '399.00' } } });
    const h = t;
    const order = await createOrder(h);
    await markPaid(h, order.uid);
    const held = await h.waitFor('hold', async () => {
      const d = await orderDetail(h, order.uid);
      return d.order.status === 'hold' ? d : null;
    });
    expect(held.order.holdReason).toMatch(/reported 399 but the order pays out 400/);
    await new Promise((r) => setTimeout(r, 500));
    expect((await orderDetail(h, order.uid)).order.status).toBe('hold');
  });
});

describe('end to end: clear errors', () => {
  it('bad order forms, bad webhooks and unknown plugins', async () => {
    t = await startTestHost();
    const h = t;
    const bad = await h.api('POST', '/api/public/exchanger/order/create', { routeId: h.routeId, amount: '10', agreement: true, toValues: [{ key: 'card_number', value: '12' }] });
    expect(bad.status).toBe(422);
    expect(bad.json.error.field).toBe('toValues[0][value]');
    expect(bad.json.error.message).toMatch(/card_number/);
    const unknownPlugin = await h.api('POST', '/payout_call/nope/url_final/', { id: 1 });
    expect(unknownPlugin.status).toBe(404);
    expect(unknownPlugin.json.message).toBe('no such payout callback here');
    const unknownCallback = await h.api('POST', '/payout_call/nimbuspay/nope/', { id: 1 });
    expect(unknownCallback.status).toBe(404);
    expect(unknownCallback.text).toBe(unknownPlugin.text);
    const unsigned = await h.api('POST', '/payout_call/nimbuspay/url_final/', { id: 'np_x', status: 'DONE' });
    expect(unsigned.status).toBe(401);
    const noToken = await h.api('GET', '/api/admin/orders');
    expect(noToken.status).toBe(401);
    const health = await h.api('GET', '/healthz');
    expect(health.json).toMatchObject({ ok: true, plugins: { refused: 0 } });
    expect(health.json.plugins.active).toBeGreaterThanOrEqual(1);
    const metrics = await h.api('GET', '/metrics');
    expect(metrics.text).toMatch(/payout_sandbox_http_request_seconds/);
    const docs = await h.api('GET', '/docs/json');
    expect(Object.keys(docs.json.paths)).toEqual(expect.arrayContaining(['/api/public/exchanger/order/create', '/api/admin/merchant-and-payout/set-config-payout']));
  });
});

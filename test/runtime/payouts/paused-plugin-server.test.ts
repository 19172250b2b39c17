// Through the real server with the real nimbuspay plugin in its sandbox: while the plugin is paused
// (its circuit breaker open) or missing from its sandbox, a payout waits in inProgressPayout — no
// errorPayout, no errorPayout IPN, no live attempt blocking — and pays out exactly once when the
// plugin is back. Order create meanwhile answers a retryable 503.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestHost, IPN_SECRET } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';
import type { CircuitBreaker } from '../../../runtime/sandbox/circuit-breaker.ts';
import { NEVER_DISPATCHED } from '../../../runtime/payouts/deferral.ts';

let t: TestHost | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

async function createOrder(h: TestHost) {
  return h.api('POST', '/api/public/exchanger/order/create', {
    routeId: h.routeId, amount: '10', agreement: true, lang: 'en',
    toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${h.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
  });
}

/** A host with a fake provider that settles, and an order the customer has paid (inProgress). */
async function paidOrder() {
  t = await startTestHost({}, { provider: { behaviour: { outcome: 'DONE', afterMs: 100, webhook: 'auto' } } });
  const h = t;
  const created = await createOrder(h);
  expect(created.status, created.text).toBe(200);
  const { uid, orderId } = created.json as { uid: number; orderId: string };
  expect((await h.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' })).status).toBe(200);
  return { h, uid, orderId };
}

const detail = async (h: TestHost, uid: number) => (await h.admin('GET', `/api/admin/orders/${uid}`)).json;

/** The plugin's breaker as the sandbox host keeps it: opened here as repeated faults would. */
function breakerOf(h: TestHost, key: string): CircuitBreaker {
  const plugins = (h.host.sandbox as unknown as { plugins: Map<string, { breaker: CircuitBreaker }> }).plugins;
  const breaker = plugins.get(key)?.breaker;
  if (!breaker) throw new Error(`no breaker for ${key}`);
  return breaker;
}

describe('a payout while its plugin is paused', () => {
  it('waits in inProgressPayout with no IPN for it, and pays out once after the breaker is reset', async () => {
    const { h, uid, orderId } = await paidOrder();

    const breaker = breakerOf(h, 'nimbuspay');
    for (let i = 0; i < 5; i++) breaker.recordFault('sandbox_crashed', 'another plugin crashed the shared sandbox');
    expect(h.host.sandbox.health().plugins.nimbuspay.state).toBe('open');

    // Order create meanwhile: retryable, not a refusal of the order.
    const meanwhile = await createOrder(h);
    expect(meanwhile.status).toBe(503);
    expect(meanwhile.json.error.message).toMatch(/briefly unavailable \(it is paused after repeated faults\).*send the same order again/);

    expect((await h.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
    await h.waitFor('the wait to be audited', async () => {
      await h.host.hostApi.audit.flush();
      return (await h.host.store.queryAudit({ capability: 'payout.deferred' })).length > 0;
    });
    const sweepsBefore = await h.host.store.queryAudit({ capability: 'payout.deferred' });
    await h.host.sweepNow();
    await h.host.sweepNow();
    await h.host.hostApi.audit.flush();
    expect(await h.host.store.queryAudit({ capability: 'payout.deferred' })).toHaveLength(sweepsBefore.length);
    const waiting = await detail(h, uid);
    expect(waiting.order.status).toBe('inProgressPayout');
    expect(waiting.attempts).toEqual([]);
    expect(h.provider.transfersFor(orderId)).toHaveLength(0);

    h.host.sandbox.resetBreaker('nimbuspay');
    const done = await h.waitFor('the order to be paid out', async () => {
      const d = await detail(h, uid);
      return d.order.status === 'done' ? d : null;
    });
    expect(done.attempts.map((a: { state: string }) => a.state)).toEqual(['SUCCEEDED']);
    expect(h.provider.transfersFor(orderId)).toHaveLength(1);
    const ipns = await h.merchant.waitFor(3);
    expect(ipns.map((i) => i.fields.newStatus)).toEqual(['inProgress', 'inProgressPayout', 'done']);
  });

  it('refused by the sandbox after the attempt was written (plugin missing there): FAILED "never dispatched", the order waits and pays once it is back', async () => {
    const { h, uid, orderId } = await paidOrder();

    // The registry still lists the plugin as active; its sandbox no longer has it (as after a
    // failed restart), so the call is refused with not_loaded after DISPATCHING was written.
    await h.host.sandbox.unregister('nimbuspay');
    expect((await h.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
    const refused = await h.waitFor('the refused attempt', async () => {
      const d = await detail(h, uid);
      return d.attempts.length && d.attempts[0].state !== 'DISPATCHING' && d.attempts[0].state !== 'PREPARED' ? d : null;
    });
    expect(refused.order.status).toBe('inProgressPayout');
    expect(refused.attempts[0]).toMatchObject({ state: 'FAILED', requestsSent: 0 });
    expect(refused.attempts[0].reason).toMatch(new RegExp(`^${NEVER_DISPATCHED}: .*not_loaded`));

    const reloaded = await h.host.registry.load(h.host.registry.get('nimbuspay')?.dir as string);
    expect(reloaded.status).toBe('active');
    const done = await h.waitFor('the order to be paid out', async () => {
      const d = await detail(h, uid);
      return d.order.status === 'done' ? d : null;
    }, 40_000);
    expect(done.attempts.map((a: { state: string }) => a.state)).toEqual(['FAILED', 'SUCCEEDED']);
    expect(h.provider.transfersFor(orderId)).toHaveLength(1);
    const ipns = await h.merchant.waitFor(3);
    expect(ipns.map((i) => i.fields.newStatus)).toEqual(['inProgress', 'inProgressPayout', 'done']);
  }, 60_000);
});

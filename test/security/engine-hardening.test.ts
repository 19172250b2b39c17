// End to end on a real server: a plugin that replaces String and throws {message: 1} used to make
// the host's failure scrubbing throw — order creation answered 500 and a payout attempt stayed
// DISPATCHING. Now the order form answers the clear 503 of a failed field check, the payout fails
// definitely (FAILED, order errorPayout: nothing left the sandbox), and another plugin on the same
// server still pays out. The control is the same direction served by the example plugin.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePlugin } from '../helpers/plugin-fixture.ts';
import { IPN_SECRET, startTestHost } from '../helpers/test-host.ts';
import type { TestHost } from '../helpers/test-host.ts';

const HOSTILE_INDEX = `
class Hostile {
  async getFields(lang, xml) {
    if (lang === 'es') throw { message: 1 };
    return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }];
  }
  async transfer(order) { throw { message: 1 }; }
}
module.exports = Hostile;
// Replaced for every call that follows: the prelude must not use it to describe the failure.
globalThis.String = function () { return 1; };
`;

let t: TestHost;
let hostileRoute: string;

beforeAll(async () => {
  // The example plugin settles through its cron, run by the test: no webhook connection into the
  // server can still be busy when the server closes.
  t = await startTestHost({}, { provider: { behaviour: { outcome: 'DONE', afterPolls: 0, webhook: 'manual' } } });
  const entry = await t.host.registry.load(writePlugin('hostile-string', { 'index.js': HOSTILE_INDEX }));
  expect(entry.status, entry.error?.message).toBe('active');
  const route = await t.host.store.createRoute({
    fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '10000', payoutPlugin: 'hostile-string', autoPayout: true, active: true,
  });
  hostileRoute = route._id;
}, 60_000);
afterAll(async () => {
  // Closing drains payouts, cron runs and IPN deliveries in flight: slow on a loaded machine.
  await t?.close();
}, 60_000);

const createOrder = (routeId: string, lang = 'en') => t.api('POST', '/api/public/exchanger/order/create', {
  routeId, amount: '10', agreement: true, lang, toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${t.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
});

async function pay(uid: number) {
  expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress', comment: 'customer paid' })).status).toBe(200);
  expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
}
const detail = async (uid: number) => (await t.admin('GET', `/api/admin/orders/${uid}`)).json;

describe('engine hardening, end to end: a plugin that replaces String and throws {message: 1}', () => {
  it('order creation: the field check that throws answers 503 with one clear line, not 500', async () => {
    const res = await createOrder(hostileRoute, 'es');
    expect(res.status, res.text).toBe(503);
    expect(res.json.message ?? res.text).toMatch(/unavailable right now/);
  });

  it('payout: the attempt ends FAILED and the order errorPayout, with the plugin\'s message as a string', async () => {
    const created = await createOrder(hostileRoute);
    expect(created.status, created.text).toBe(200);
    await pay(created.json.uid);
    const settled = await t.waitFor('the hostile payout to settle', async () => {
      const d = await detail(created.json.uid);
      return d.attempts.length > 0 && d.attempts[0].state !== 'PREPARED' && d.attempts[0].state !== 'DISPATCHING' ? d : null;
    });
    expect(settled.attempts[0].state).toBe('FAILED');
    expect(settled.attempts[0].reason).toMatch(/plugin_error: 1\b/);
    expect(settled.order.status).toBe('errorPayout');
  });

  it('another plugin on the same server still pays out (control: the same direction, the example plugin)', async () => {
    const created = await createOrder(t.routeId);
    expect(created.status, created.text).toBe(200);
    await pay(created.json.uid);
    await t.waitFor('the example plugin\'s payout to be accepted', async () => ((await detail(created.json.uid)).attempts[0]?.state === 'ACCEPTED' ? true : null));
    await t.host.cron.runNow('nimbuspay');
    const done = await t.waitFor('the example plugin\'s payout to be done', async () => {
      const d = await detail(created.json.uid);
      return d.order.status === 'done' ? d : null;
    });
    expect(done.attempts[0].state).toBe('SUCCEEDED');
    expect(t.provider.transfersFor(created.json.orderId)).toHaveLength(1);
  });
});

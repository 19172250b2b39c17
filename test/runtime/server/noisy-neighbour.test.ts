// One plugin's webhook flooded with calls that each stay under their own CPU budget, against a
// real server: the flooded plugin is throttled alone (429 with Retry-After, one audit line), while
// NimbusPay — in its own sandbox process — serves its webhook and pays an order out, charged no
// fault. The figures of the same attack under load are in the benchmark (noisy neighbour).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { startTestHost, IPN_SECRET } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

const HOG_CALLBACKS = `module.exports = {
  burn: async (req, res) => { const end = Date.now() + 300; while (Date.now() < end) {} res.end('burnt'); },
};`;

let t: TestHost;
beforeAll(async () => {
  t = await startTestHost({ pluginCpuMsPerWindow: 1200, pluginCpuWindowMs: 60_000, webhookRatePerMinute: 10_000 }, { provider: { behaviour: { outcome: 'DONE', afterMs: 100, webhook: 'auto' } } });
  const entry = await t.host.registry.load(writePlugin('hog', { 'callbacks.js': HOG_CALLBACKS }));
  expect(entry.status, entry.error?.message).toBe('active');
}, 60_000);
afterAll(async () => {
  await t?.close();
});

describe('a noisy neighbour, against a real server', () => {
  it('the flooded plugin is throttled alone; another plugin\'s webhook and payout go on, charged nothing', async () => {
    expect(t.host.sandbox.processOf('hog')).not.toBe(t.host.sandbox.processOf('nimbuspay'));
    // The flood: until the hog is refused (its budget is counted in CPU, so the number of calls
    // it takes depends on the machine, not the outcome).
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 60 && !statuses.includes(429); i++) {
      const burst = await Promise.all([0, 1, 2].map(() => fetch(`${t.baseUrl}/payout_call/hog/burn/`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })));
      for (const r of burst) {
        statuses.push(r.status);
        if (r.status === 429) retryAfter = r.headers.get('retry-after');
        await r.text();
      }
    }
    expect(statuses[0]).toBe(200); // positive control: under its budget the hog is served
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // While it refuses calls, a delivery is answered before anything is stored.
    const stored = (await t.host.store.webhookUsage('hog')).rows;
    const more = await fetch(`${t.baseUrl}/payout_call/hog/burn/`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(more.status).toBe(429);
    expect((await t.host.store.webhookUsage('hog')).rows).toBe(stored);

    // Meanwhile, and after: NimbusPay's webhook answers as usual, and a payout completes.
    const unsigned = await t.api('POST', '/payout_call/nimbuspay/url_final/', { id: 'np_x', status: 'DONE' });
    expect(unsigned.status).toBe(401); // its own answer, not a 429 or 503
    const created = await t.api('POST', '/api/public/exchanger/order/create', {
      routeId: t.routeId, amount: '10', agreement: true, lang: 'en',
      toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${t.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
    });
    expect(created.status, created.text).toBe(200);
    const uid = created.json.uid;
    expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgress' })).status).toBe(200);
    expect((await t.admin('POST', `/api/admin/orders/${uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
    await t.waitFor('the payout to be done', async () => (await t.admin('GET', `/api/admin/orders/${uid}`)).json.order.status === 'done');

    const health = t.host.sandbox.health().plugins;
    expect(health.nimbuspay).toMatchObject({ state: 'closed', recentFaults: 0 });
    expect(health.hog.recentFaults).toBe(0); // throttling is not a fault
    await t.host.hostApi.audit.flush();
    const throttled = await t.host.store.queryAudit({ plugin: 'hog', capability: 'sandbox.throttled' });
    expect(throttled.length).toBe(1); // one line, however many refusals
  });
});

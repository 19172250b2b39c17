// What an administrator can and cannot do to a payout in progress, against a real server:
// no settling by hand while an attempt is live (only a pause to hold), no moving a held payout
// except through the resolution, and routes without autoPayout wait for a manual start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost, IPN_SECRET } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost;

beforeAll(async () => {
  t = await startTestHost({ transferWallMs: 1500, unknownReviewAfterMs: 60_000 });
});
afterAll(async () => {
  await t?.close();
});

async function paidOrder(routeId: string): Promise<{ orderId: string; uid: number }> {
  const created = await t.api('POST', '/api/public/exchanger/order/create', {
    routeId, amount: '5', agreement: true, toValues: [{ key: 'card_number', value: '4111111111111111' }], ipnUrl: `${t.merchant.url}/ipn`, ipnSecret: IPN_SECRET,
  });
  expect(created.status, created.text).toBe(200);
  expect((await t.admin('POST', `/api/admin/orders/${created.json.uid}/status`, { status: 'inProgress' })).status).toBe(200);
  return created.json;
}

const detail = async (uid: number) => (await t.admin('GET', `/api/admin/orders/${uid}`)).json;

describe('admin and payouts in progress', () => {
  it('a route without autoPayout waits for a manual start', async () => {
    const route = await t.host.store.createRoute({ fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '1000', payoutPlugin: 'nimbuspay', autoPayout: false, active: true });
    const o = await paidOrder(route._id);
    expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 700)); // several sweeps
    expect((await detail(o.uid)).attempts).toEqual([]);
    const started = await t.admin('POST', `/api/admin/orders/${o.uid}/payout`);
    expect(started.status, started.text).toBe(200);
    expect((await detail(o.uid)).attempts).toHaveLength(1);
  });

  it('while a payout is live: no settling by hand, only a pause; a held payout moves only through the resolution', async () => {
    t.provider.setBehaviour({ response: 'hang', outcome: 'DONE' });
    try {
      const o = await paidOrder(t.routeId);
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
      await t.waitFor('the transfer to be running', async () => ((await detail(o.uid)).attempts[0]?.state === 'DISPATCHING' ? true : null));
      const byHand = await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'done' });
      expect(byHand.status).toBe(409);
      expect(byHand.json.error.message).toMatch(/has a payout in progress .*put it on hold and resolve the payout/);
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'hold', comment: 'checking with the provider' })).status).toBe(200);
      // The transfer ends (deadline) with the order on hold: its answer is kept, the attempt waits for review.
      const held = await t.waitFor('review', async () => {
        const d = await detail(o.uid);
        return d.attempts[0]?.state === 'NEEDS_REVIEW' ? d : null;
      });
      expect(held.order.status).toBe('hold');
      const around = await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'errorPayout' });
      expect(around.status).toBe(409);
      expect(around.json.error.message).toMatch(/waiting for review.*resolve it as paid, not_paid or retry/);
      const retry = await t.admin('POST', `/api/admin/orders/${o.uid}/resolve`, { resolution: 'retry', comment: 'provider confirms it never arrived' });
      expect(retry.status, retry.text).toBe(200);
      t.provider.setBehaviour({ outcome: 'DONE', immediate: true, webhook: 'manual' });
      const done = await t.waitFor('the retried payout', async () => {
        const d = await detail(o.uid);
        return d.order.status === 'done' ? d : null;
      });
      expect(done.attempts.map((a: { state: string }) => a.state)).toEqual(['FAILED', 'SUCCEEDED']);
      expect(done.payoutTxs.every((tx: { active: boolean }) => !tx.active)).toBe(true);
    } finally {
      t.provider.setBehaviour({ outcome: 'DONE', afterMs: 150, webhook: 'auto' });
    }
  });

  it('resolving as not paid fails the held attempt and the order; it can then be paid out again', async () => {
    t.provider.setBehaviour({ response: 'reject', rejectStatus: 422 });
    try {
      const o = await paidOrder(t.routeId);
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
      await t.waitFor('UNKNOWN', async () => ((await detail(o.uid)).attempts[0]?.state === 'UNKNOWN' ? true : null));
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/resolve`, { resolution: 'not_paid', comment: 'too early' })).status).toBe(409); // not on hold yet
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'hold' })).status).toBe(200);
      await t.waitFor('review', async () => ((await detail(o.uid)).attempts[0]?.state === 'NEEDS_REVIEW' ? true : null));
      const r = await t.admin('POST', `/api/admin/orders/${o.uid}/resolve`, { resolution: 'not_paid', comment: 'refused by the provider' });
      expect(r.status, r.text).toBe(200);
      const d = await detail(o.uid);
      expect(d.order.status).toBe('errorPayout');
      expect(d.attempts[0].state).toBe('FAILED');
      expect((await t.admin('POST', `/api/admin/orders/${o.uid}/status`, { status: 'inProgressPayout' })).status).toBe(200);
      await t.waitFor('a second attempt', async () => ((await detail(o.uid)).attempts.length === 2 ? true : null));
    } finally {
      t.provider.setBehaviour({ outcome: 'DONE', afterMs: 150, webhook: 'auto' });
    }
  });
});

describe('process.env of a plugin', () => {
  it('holds API_URL and the keys the administrator whitelisted, never the host\'s own settings', async () => {
    process.env.PS_TEST_REGION = 'eu-1';
    const { startTestHost: start } = await import('../../helpers/test-host.ts');
    const { writePlugin } = await import('../../helpers/plugin-fixture.ts');
    const h = await start({ pluginEnv: { envy: ['PS_TEST_REGION', 'PAYOUT_SANDBOX_ADMIN_TOKEN', 'HOME'] } });
    try {
      const entry = await h.host.registry.load(writePlugin('envy', { 'index.js': `module.exports = class { async getFields() { return process.env; } async transfer() {} };` }));
      expect(entry.status).toBe('active');
      const r = await h.host.sandbox.invoke('envy', 'getFields', []);
      expect(r).toMatchObject({ ok: true });
      if (r.ok) {
        expect(r.value).toMatchObject({ API_URL: h.host.options.publicUrl, PS_TEST_REGION: 'eu-1' });
        expect(Object.keys(r.value as object)).not.toContain('PAYOUT_SANDBOX_ADMIN_TOKEN');
      }
    } finally {
      await h.close();
      delete process.env.PS_TEST_REGION;
    }
  });
});

// The test kit itself, on both plugin formats: plugins/nimbuspay (platform) against its fake
// provider, a scripted SDK plugin against kit.fakeProvider, and the kit's refusals.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startPluginTestKit } from 'payout-sandbox/sdk/testkit';
import type { PluginTestKit } from 'payout-sandbox/sdk/testkit';
import { startFakeProvider as startNimbus } from '../../runtime/demo/fake-provider.ts';
import type { FakeProvider as Nimbus } from '../../runtime/demo/fake-provider.ts';
import { signNimbusWebhook } from '../../runtime/demo/nimbus-signing.ts';
import { startFakeBillPay } from '../../runtime/demo/fake-billpay.ts';

const CARD = '4111111111111111';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-kit-'));
let kit: PluginTestKit | null = null;
let nimbus: Nimbus | null = null;
afterEach(async () => {
  await kit?.close();
  await nimbus?.close();
  kit = null;
  nimbus = null;
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sdkPlugin(name: string, source: string): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'plugin.ts'), source);
  return dir;
}

const ECHO_PLUGIN = `
import { definePayoutPlugin, ProviderRefused } from 'payout-sandbox/sdk';
export default definePayoutPlugin({
  manifest: { title: 'Echo', currencies: ['CARDUAH'], config: { apiUrl: {}, token: { secret: true } } },
  fields: () => [{ _id: 'card_number', regexp: '^[0-9]{16}$', required: true }],
  async transfer(ctx, order) {
    const res = await ctx.http.post(String(await ctx.config.get('apiUrl')) + '/pay', { ref: order._id, amount: order.outAmount }, { auth: { bearer: 'token' } });
    if (res.status === 402) throw new ProviderRefused(res.json().message);
    ctx.log.info('paid', res.json().id);
    return { status: 'paid', reference: res.json().id, amount: res.json().amount };
  },
});
`;

describe('test kit: a platform-format plugin (plugins/nimbuspay)', () => {
  async function startNimbusKit(behaviour: Parameters<typeof startNimbus>[0] = {}) {
    nimbus = await startNimbus(behaviour);
    const c = nimbus.credentials;
    kit = await startPluginTestKit({
      dir: 'plugins/nimbuspay', grants: [nimbus.url],
      config: { apiUrl: nimbus.url, apiKey: c.apiKey, apiSecret: c.apiSecret, webhookSecret: c.webhookSecret },
    });
    return { kit, nimbus };
  }

  it('loads it, answers getFields, and pays out through the real orchestrator and the cron', async () => {
    const { kit, nimbus } = await startNimbusKit({ behaviour: { outcome: 'DONE', afterPolls: 1, webhook: 'manual' } });
    expect(kit.format).toBe('platform');
    expect(kit.plugin.cron).toMatchObject({ schedule: '*/30 * * * * *' });
    expect(await kit.getFields('CARDUAH')).toMatchObject([{ _id: 'card_number' }]);
    await expect(kit.createOrder({ currency: 'CARDUAH', amount: '10', values: { card_number: 'nope' } })).rejects.toThrow(/card_number/);

    const accepted = await kit.payout({ currency: 'CARDUAH', amount: '150', values: { card_number: CARD } });
    expect(accepted.attempt).toMatchObject({ state: 'ACCEPTED', requestsSent: 2 });
    expect(accepted.txs).toMatchObject([{ active: true, payoutModule: 'nimbuspay' }]);
    expect(await kit.runCron()).toMatchObject({ ran: true, ok: true }); // first poll: PROCESSING
    expect((await kit.state(accepted.order._id)).order.status).toBe('inProgressPayout');
    await kit.runCron();
    const done = await kit.waitFor(accepted.order._id, 'done');
    expect(done.history.at(-1)).toMatchObject({ actor: 'plugin:nimbuspay', toStatus: 'done' });
    expect(done.attempt?.state).toBe('SUCCEEDED');
    expect(nimbus.transfersFor(accepted.order._id)).toHaveLength(1);
    expect(kit.events.map((e) => e.kind)).toEqual(['started', 'accepted', 'succeeded']);

    const audit = await kit.audit();
    expect(audit.map((a) => a.capability)).toEqual(expect.arrayContaining(['config.get', 'http.request', 'payoutTxs.find', 'history.update']));
    expect(audit.filter((a) => a.decision !== 'allowed')).toEqual([]);
  });

  it('delivers a signed webhook to url_final over real HTTP', async () => {
    const { kit, nimbus } = await startNimbusKit({ behaviour: { outcome: 'NEVER', webhook: 'manual' } });
    const accepted = await kit.payout({ currency: 'CARDUAH', amount: '99', values: { card_number: CARD } });
    const payoutId = accepted.attempt?.transaction as string;
    nimbus.settle(payoutId, 'DONE');
    const body = JSON.stringify({ id: payoutId });
    const bad = await kit.webhook({ body, headers: { 'content-type': 'application/json', 'x-nimbus-signature': '0'.repeat(64) } });
    expect(bad).toMatchObject({ status: 401, text: 'bad signature' });
    const ok = await kit.webhook({ name: 'url_final', body, headers: { 'content-type': 'application/json', 'x-nimbus-signature': signNimbusWebhook(nimbus.credentials.webhookSecret, body) } });
    expect(ok).toMatchObject({ status: 200, text: 'ok', delivery: { state: 'processed', callback: 'url_final' } });
    expect((await kit.state(accepted.order._id)).order.status).toBe('done');
  });
});

describe('test kit: the SDK-format example (plugins/billpay)', () => {
  it('loads it, pays out through status polling, and answers status() directly', async () => {
    const billpay = await startFakeBillPay({ behaviour: { readsPerStep: 1 } });
    try {
      kit = await startPluginTestKit({
        dir: 'plugins/billpay', grants: [billpay.url],
        config: { apiUrl: billpay.url, apiKey: billpay.credentials.apiKey, apiSecret: billpay.credentials.apiSecret },
      });
      expect(kit).toMatchObject({ key: 'billpay', format: 'sdk' });
      expect(kit.plugin.description.callbacks).toEqual(['webhook']);
      const accepted = await kit.payout({ currency: 'CARDUAH', amount: '12.34', values: { card_number: CARD } });
      expect(accepted.attempt).toMatchObject({ state: 'ACCEPTED', reportedAmount: '12.34' });
      const reference = accepted.attempt?.transaction as string;
      expect(await kit.status({ reference, orderId: accepted.order._id, amount: '12.34', currency: 'UAH' })).toMatchObject({ ok: true, value: { status: 'pending' } });
      await kit.sweep();
      const done = await kit.waitFor(accepted.order._id, 'done');
      expect(done.history.at(-1)?.comment).toMatch(/status check/);
      expect(kit.events.map((e) => e.kind)).toEqual(['started', 'accepted', 'succeeded']);
    } finally {
      await kit?.close();
      kit = null;
      await billpay.close();
    }
  });
});

describe('test kit: an SDK-format plugin with a scripted fake provider', () => {
  it('kit.fakeProvider grants its origin and sets the URL; secrets stay host-side; the log and audit are readable', async () => {
    const token = `tok-${crypto.randomBytes(6).toString('hex')}`;
    kit = await startPluginTestKit({ dir: sdkPlugin('echopay', ECHO_PLUGIN), config: { token } });
    const provider = await kit.fakeProvider({
      'POST /pay': (req) => (req.headers.authorization === `Bearer ${token}` ? { json: { id: `p_${req.json.ref}`, amount: req.json.amount } } : { status: 401, json: {} }),
    }, { urlConfigKey: 'apiUrl' });
    const paid = await kit.payout({ amount: '12.5', values: { card_number: CARD } });
    expect(paid.order.status).toBe('done');
    expect(paid.attempt).toMatchObject({ state: 'SUCCEEDED', transaction: `p_${paid.order._id}` });
    expect(provider.requestsTo('POST /pay')).toHaveLength(1);
    const log = await kit.log();
    expect(log.map((l) => l.text)).toContain(`paid p_${paid.order._id}`);
    expect(JSON.stringify([log, await kit.audit()])).not.toContain(token);
  });

  it('direct calls: ProviderRefused is reported definite; an ungranted origin is refused with its rule', async () => {
    kit = await startPluginTestKit({ dir: sdkPlugin('refusepay', ECHO_PLUGIN), config: { token: 'refusepay-token-0123' }, provider: { routes: { 'POST /pay': () => ({ status: 402, json: { message: 'no funds' } }) }, urlConfigKey: 'apiUrl' } });
    const refused = await kit.transfer({ outAmount: '5' });
    expect(refused).toMatchObject({ ok: false, requestsSent: 1, error: { thrown: { name: 'ProviderRefused', definite: true, message: 'no funds' } } });
    const payout = await kit.payout({ amount: '5', values: { card_number: CARD } });
    expect(payout).toMatchObject({ order: { status: 'errorPayout' }, attempt: { state: 'FAILED' } });

    await kit.setConfig('apiUrl', 'http://127.0.0.1:9');
    const denied = await kit.transfer({ outAmount: '5' });
    expect(denied).toMatchObject({ ok: false, requestsSent: 0 });
    const records = await kit.audit({ callId: denied.callId });
    // The config read was answered in the sandbox process and is audited when the call ends, after the request.
    expect(records.map((r) => r.capability)).toEqual(['http.request', 'config.get']);
    expect(records[1].summary).toContain('answered in the sandbox process: key=apiUrl×1');
    // http.secret-origin or http.loopback, whichever rule the egress policy checks first.
    expect(records[0]).toMatchObject({ capability: 'http.request', decision: 'denied', rule: expect.stringMatching(/^http\.(secret-origin|loopback)$/) });
  });

  it('refuses a plugin that cannot be loaded, with the reason', async () => {
    const dir = sdkPlugin('brokenpay', "import fs from 'fs';\nexport default fs.readFileSync('/etc/passwd');\n");
    await expect(startPluginTestKit({ dir })).rejects.toThrow(/plugin\.ts:1: .*require\('fs'\) refused: Node built-in 'fs'/);
  });
});

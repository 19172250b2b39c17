// plugins/billpay (the SDK-format example) through the test kit, against the fake BillPay API:
// every payout runs the real orchestrator in the real sandbox, and the fake checks that the
// bearer token and the signature were added by the host.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startPluginTestKit } from 'payout-sandbox/sdk/testkit';
import type { PluginTestKit } from 'payout-sandbox/sdk/testkit';
import { startFakeBillPay } from '../../runtime/demo/fake-billpay.ts';
import type { FakeBillPay } from '../../runtime/demo/fake-billpay.ts';
import { fromMinor, toMinor } from '../../plugins/billpay/plugin.ts';

const CARD = '4111111111111111';
let billpay: FakeBillPay;
let kit: PluginTestKit;

async function start(server = {}): Promise<void> {
  kit = await startPluginTestKit({
    dir: 'plugins/billpay', grants: [billpay.url], server,
    config: { apiUrl: billpay.url, apiKey: billpay.credentials.apiKey, apiSecret: billpay.credentials.apiSecret },
  });
}

beforeEach(async () => {
  billpay = await startFakeBillPay({ apiKey: `bp-key-${Date.now()}`, apiSecret: `bp-secret-${Math.random().toString(36).slice(2)}` });
});
afterEach(async () => {
  await kit?.close();
  await billpay.close();
});

describe('billpay: amounts in minor units', () => {
  it('converts exactly, and refuses what cannot be paid exactly', () => {
    expect(toMinor('400.5', 2)).toBe(40050);
    expect(toMinor('0.01', 2)).toBe(1);
    expect(toMinor('12.300', 2)).toBe(1230);
    expect(() => toMinor('1.005', 2)).toThrow(/more than 2 decimals/);
    expect(fromMinor(40050, 2)).toBe('400.50');
    expect(fromMinor(7, 2)).toBe('0.07');
  });
});

describe('billpay through the test kit', () => {
  it('pays out via status polling: PENDING → PAID → DONE; the secrets never enter the sandbox', async () => {
    await start();
    expect(kit.plugin.manifest).toMatchObject({ format: 'sdk', title: 'BillPay', allow_XML: ['CARDRUB', 'CARDUAH'], required_config: { apiKey: 2, apiSecret: 2 } });
    expect(await kit.getFields('CARDRUB')).toMatchObject([{ _id: 'card_number', required: true }]);
    expect(await kit.getFields('BTC')).toBeNull();

    const accepted = await kit.payout({ currency: 'CARDRUB', amount: '400.5', values: { card_number: CARD } });
    expect(accepted.attempt).toMatchObject({ state: 'ACCEPTED', requestsSent: 1, reportedAmount: '400.50', reportedCurrency: 'RUB' });
    expect(accepted.txs).toMatchObject([{ active: true, to: '411111******1111' }]);
    const [bill] = billpay.billsFor(accepted.order._id);
    expect(bill).toMatchObject({ amount: 40050, currency: 'RUB', status: 'PENDING' });
    expect(bill.callbackUrl).toBe(`${kit.baseUrl}/payout_call/billpay/webhook/`);
    expect(accepted.attempt?.transaction).toBe(bill.billId);

    await kit.sweep(); // BillPay says PAID: the money left, not settled yet
    expect((await kit.state(accepted.order._id)).order.status).toBe('inProgressPayout');
    expect(bill.status).toBe('PAID');
    await kit.sweep(); // DONE
    const done = await kit.waitFor(accepted.order._id, 'done');
    expect(done.attempt).toMatchObject({ state: 'SUCCEEDED' });
    expect(done.txs[0].active).toBe(false);
    expect(billpay.requests.every((r) => r.authenticated)).toBe(true);

    const audit = await kit.audit({ capability: 'http.request' });
    expect(audit.map((a) => a.summary).join('\n')).toMatch(/host-side: auth=bearer\(apiKey\) x-billpay-signature=hmac-sha256\(apiSecret\)/);
    const everything = JSON.stringify([await kit.audit(), await kit.log()]);
    expect(everything).not.toContain(billpay.credentials.apiKey);
    expect(everything).not.toContain(billpay.credentials.apiSecret);
    const direct = await kit.host.hostApi.api.handle({ plugin: 'billpay', callId: 'x', method: 'test', deadline: Date.now() + 1000, counters: { outboundRequests: 0, requestsStarted: 0, hostCalls: 0 } }, 'config.get', { key: 'apiKey' });
    expect(direct).toMatchObject({ ok: false, error: { rule: 'config.secret-host-side' } });
  });

  it('pays out via the webhook: BillPay calls back, the plugin reads the bill back and returns the update', async () => {
    billpay.setBehaviour({ webhook: true, readsPerStep: 1000 });
    await start();
    const accepted = await kit.payout({ currency: 'CARDUAH', amount: '250', values: { card_number: CARD } });
    const [bill] = billpay.billsFor(accepted.order._id);
    billpay.advance(bill.billId); // PAID: webhook, no update yet
    billpay.advance(bill.billId); // DONE: webhook, paid
    const done = await kit.waitFor(accepted.order._id, 'done');
    expect(done.attempt?.state).toBe('SUCCEEDED');
    expect(done.history.at(-1)?.comment).toMatch(/provider webhook/);
    await kit.waitFor(accepted.order._id, () => billpay.webhooks.length === 2);
    expect(billpay.webhooks.map((w) => w.status)).toEqual([200, 200]);

    // A replayed or forged delivery changes nothing: the plugin trusts only BillPay's answer.
    const again = await kit.webhook({ json: { bill_id: bill.billId, status: 'FAILED' } });
    expect(again.status).toBe(200);
    expect(again.delivery?.state).toBe('processed');
    const unknown = await kit.webhook({ json: { bill_id: 'bp_does_not_exist' } });
    expect(unknown.status).toBe(502);
    expect((await kit.webhook({ json: { nothing: true } })).status).toBe(400);
    expect((await kit.state(accepted.order._id)).order.status).toBe('done');
    expect(billpay.billsFor(accepted.order._id)).toHaveLength(1);
  });

  it('amount mismatch: BillPay paid another amount → the order is held for review, never done', async () => {
    billpay.setBehaviour({ final: 'AMOUNT_MISMATCH', paidAmount: 39000 });
    await start();
    const accepted = await kit.payout({ currency: 'CARDRUB', amount: '400', values: { card_number: CARD } });
    await kit.sweep();
    await kit.sweep();
    const held = await kit.waitFor(accepted.order._id, 'hold');
    expect(held.attempt).toMatchObject({ state: 'NEEDS_REVIEW' });
    expect(held.attempt?.reason).toMatch(/reported 390 but the order pays out 400/);
    expect(held.order.holdReason).toMatch(/390/);
  });

  it('definite refusal: ProviderRefused → FAILED and errorPayout, even though a request went out', async () => {
    billpay.setBehaviour({ create: 'refuse', refuseMessage: 'insufficient funds on the merchant balance' });
    await start();
    const failed = await kit.payout({ currency: 'CARDRUB', amount: '100', values: { card_number: CARD } });
    expect(failed.order.status).toBe('errorPayout');
    expect(failed.attempt).toMatchObject({ state: 'FAILED', requestsSent: 1 });
    expect(failed.attempt?.reason).toMatch(/the provider refused the payout \(BillPay refused the payout \(HTTP 422\): insufficient funds/);
  });

  it('a 5xx answer is not a refusal: the payout is UNKNOWN', async () => {
    billpay.setBehaviour({ create: 'fail' });
    await start();
    const unknown = await kit.payout({ currency: 'CARDRUB', amount: '100', values: { card_number: CARD } });
    expect(unknown.attempt).toMatchObject({ state: 'UNKNOWN' });
    expect(unknown.order.status).toBe('inProgressPayout');
  });

  it('outcome unknown: BillPay never answers → UNKNOWN, reconciled by order id, never a second transfer', async () => {
    billpay.setBehaviour({ create: 'hang', readsPerStep: 1 });
    await start({ transferWallMs: 1500 });
    const unknown = await kit.payout({ currency: 'CARDRUB', amount: '100', values: { card_number: CARD } });
    expect(unknown.attempt).toMatchObject({ state: 'UNKNOWN', transaction: null });
    expect(unknown.attempt?.requestsSent).toBe(1);
    expect(unknown.txs).toHaveLength(0);

    // Nothing starts the payout again while its outcome is unknown.
    expect(await kit.host.payouts.start(unknown.order._id)).toMatchObject({ kind: 'in-progress' });
    await kit.sweep(); // found by external_id: PAID
    expect((await kit.state(unknown.order._id)).attempt?.state).toBe('UNKNOWN');
    await kit.sweep(); // DONE
    const done = await kit.waitFor(unknown.order._id, 'done');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0].state).toBe('SUCCEEDED');
    expect(billpay.billsFor(unknown.order._id)).toHaveLength(1);
    expect(billpay.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a card the plugin refuses before sending anything fails definitely, with nothing sent', async () => {
    await start();
    const r = await kit.transfer({ outXML: 'CARDRUB', outAmount: '10', outValues: { card_number: '4111111111111112' } });
    expect(r).toMatchObject({ ok: false, requestsSent: 0, error: { kind: 'plugin_error', message: 'BillPay: the card number is not valid' } });
    expect(billpay.requests).toHaveLength(0);
  });
});

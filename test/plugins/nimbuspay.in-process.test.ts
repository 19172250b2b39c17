// The NimbusPay example plugin, loaded straight into Node by the in-process loader (no sandbox)
// and driven against the fake NimbusPay provider on 127.0.0.1.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startFakeProvider, type FakeProvider, type PayoutBehaviour } from '../../runtime/demo/fake-provider.ts';
import { signNimbusWebhook } from '../../runtime/demo/nimbus-signing.ts';
import { loadPlatformPlugin, type LoadedPlatformPlugin } from '../../bench/in-process/load-platform-plugin.ts';
import type { StoredOrder } from '../../bench/in-process/platform-stubs.ts';

const PLUGIN_DIR = fileURLToPath(new URL('../../plugins/nimbuspay', import.meta.url));
const API_URL = 'http://127.0.0.1:3000/';
const CALLBACK_URL = API_URL + 'payout_call/nimbuspay/url_final/';
const VALID_CARD = '4111111111111111';

let provider: FakeProvider;
let loaded: LoadedPlatformPlugin;
let nextUid = 1;

beforeEach(async () => {
  provider = await startFakeProvider({ autoWebhook: false });
  loaded = loadPlatformPlugin({
    pluginDir: PLUGIN_DIR,
    config: { apiUrl: provider.url, ...provider.credentials, debug: '0' },
    env: { API_URL },
  });
});
afterEach(async () => {
  await provider.close();
});

function newOrder(overrides: Partial<StoredOrder> = {}): StoredOrder {
  return loaded.db.addOrder({
    uid: nextUid++,
    status: 'inProgressPayout',
    outAmount: '150.25',
    outXML: 'CARDUAH',
    outSymbol: 'UAH',
    outValues: { card_number: VALID_CARD },
    ...overrides,
  });
}

type TransferResult = { ok: number; transaction: string; amount: string; currency: string; to: string };

/** Runs transfer() and, when it answers ok:2, records the payout tx the way the host does. */
async function acceptedPayout(behaviour: PayoutBehaviour = {}, overrides: Partial<StoredOrder> = {}) {
  const order = newOrder(overrides);
  provider.setBehaviour(behaviour, { reference: order._id });
  const result = (await loaded.plugin.transfer(order)) as TransferResult;
  const tx = loaded.db.addPayoutTx({
    order: order._id, transaction: result.transaction, payoutModule: 'nimbuspay',
    amount: result.amount, currency: result.currency, to: result.to,
  });
  return { order, result, tx };
}

function webhookRequest(body: string, secret = provider.credentials.webhookSecret) {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Nimbus-Signature': signNimbusWebhook(secret, body) },
    rawBody: body,
  };
}

describe('loading the platform plugin in process', () => {
  it('reads configure.js and loads index.js and callbacks.js through the platform module paths', () => {
    expect(loaded.key).toBe('nimbuspay');
    expect(loaded.configure).toMatchObject({ type: 'payout', allow_XML: ['CARDUAH', 'USDTTRC20', 'USDTERC20', 'BTC'] });
    expect(loaded.configure.required_config).toEqual({ apiUrl: 1, apiKey: 1, apiSecret: 2, webhookSecret: 2, debug: 1 });
    expect(loaded.filesLoaded).toEqual(['configure.js', 'index.js', 'callbacks.js']);
    expect(Object.keys(loaded.callbacks)).toEqual(['url_final']);
  });
});

describe('getFields', () => {
  it('asks for a card number for CARDUAH, with the fallback label', async () => {
    const [field] = (await loaded.plugin.getFields('en', 'CARDUAH')) as Record<string, any>[];
    expect(field).toMatchObject({ _id: 'card_number', name: 'Card number UAH', required: true });
    expect(new RegExp(field.regexp).test(VALID_CARD)).toBe(true);
    expect(new RegExp(field.regexp).test('411111111111')).toBe(false);
    expect(new RegExp(field.regexp).test('4111111111111111111')).toBe(true);
  });

  it.each([
    ['USDTTRC20', 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t', '0xdAC17F958D2ee523a2206206994597C13D831ec7'],
    ['USDTERC20', '0xdAC17F958D2ee523a2206206994597C13D831ec7', 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t'],
    ['BTC', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', '0xdAC17F958D2ee523a2206206994597C13D831ec7'],
  ])('asks for a %s address that matches that network only', async (xml, goodAddress, otherNetworkAddress) => {
    const [field] = (await loaded.plugin.getFields('en', xml)) as Record<string, any>[];
    expect(field._id).toBe('account_crypto');
    expect(field.name).toMatch(/address$/);
    expect(new RegExp(field.regexp).test(goodAddress)).toBe(true);
    expect(new RegExp(field.regexp).test(otherNetworkAddress)).toBe(false);
  });

  it('returns null for codes it does not serve, including look-alike prefixes', async () => {
    expect(await loaded.plugin.getFields('en', 'EUR')).toBeNull();
    expect(await loaded.plugin.getFields('en', 'BTCBEP20')).toBeNull();
    expect(await loaded.plugin.getFields('en', '')).toBeNull();
  });
});

describe('transfer', () => {
  it('checks the balance, posts a signed payout and answers ok:2', async () => {
    const order = newOrder();
    const result = await loaded.plugin.transfer(order);
    expect(result).toEqual({ ok: 2, transaction: expect.stringMatching(/^np_/), amount: '150.25', currency: 'UAH', to: '411111******1111' });
    const [payout] = provider.transfersFor(order._id);
    expect(payout).toMatchObject({ amount: '150.25', currency: 'UAH', network: 'CARD', destination: VALID_CARD, callbackUrl: CALLBACK_URL });
    expect(provider.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /v1/balance 200', 'POST /v1/payouts 201']);
  });

  it('pays crypto to the address and network of the order', async () => {
    const address = 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t';
    const order = newOrder({ outXML: 'USDTTRC20', outSymbol: 'usdt', outAmount: '25.5', outValues: { account_crypto: address } });
    expect(await loaded.plugin.transfer(order)).toMatchObject({ ok: 2, currency: 'USDT', to: address });
    expect(provider.transfersFor(order._id)[0]).toMatchObject({ currency: 'USDT', network: 'TRC20', destination: address });
  });

  it('answers ok:1 when the provider reports DONE at once', async () => {
    const order = newOrder();
    provider.setBehaviour({ immediate: true }, { reference: order._id });
    expect(await loaded.plugin.transfer(order)).toMatchObject({ ok: 1 });
  });

  it('rejects with {message, code} on a definite 4xx refusal, and nothing is paid', async () => {
    const order = newOrder();
    provider.setBehaviour({ response: 'reject', rejectStatus: 409, rejectMessage: 'destination blacklisted' }, { reference: order._id });
    await expect(loaded.plugin.transfer(order)).rejects.toMatchObject({
      code: 7100400, statusCode: 409, message: expect.stringContaining('destination blacklisted'),
    });
    expect(provider.transfersFor(order._id)).toHaveLength(0);
  });

  it.each([
    ['a card failing the checksum', { outValues: { card_number: '4111111111111112' } }, /checksum/],
    ['a card that is too short', { outValues: { card_number: '41111111' } }, /card number/],
    ['an address of another network', { outXML: 'USDTERC20', outValues: { account_crypto: 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t' } }, /USDT \(ERC20\) address/],
    ['a currency it does not serve', { outXML: 'BTCBEP20' }, /not served/],
    ['more decimals than the currency has', { outAmount: '10.001' }, /at most 2 decimals/],
    ['a zero amount', { outAmount: '0' }, /outAmount/],
  ])('rejects %s with a plain string before any request', async (_label, overrides, message) => {
    const rejection = await loaded.plugin.transfer(newOrder(overrides as Partial<StoredOrder>)).catch((error: unknown) => error);
    expect(typeof rejection).toBe('string');
    expect(rejection).toMatch(message);
    expect(provider.requests).toHaveLength(0);
  });

  it('rejects when the balance is too low, without posting a payout', async () => {
    provider.setBalance('UAH', '100');
    await expect(loaded.plugin.transfer(newOrder())).rejects.toMatch(/balance is low.*100 < 150\.25/);
    expect(provider.requests.map((r) => r.path)).toEqual(['/v1/balance']);
  });

  it('rejects with a config error when the API secret is not set', async () => {
    loaded.config.set('apiSecret', '');
    await expect(loaded.plugin.transfer(newOrder())).rejects.toMatchObject({ code: 7100001 });
    expect(provider.requests).toHaveLength(0);
  });

  it('sends no callback_url when the host has no public base URL (the cron settles instead)', async () => {
    loaded = loadPlatformPlugin({ pluginDir: PLUGIN_DIR, config: { apiUrl: provider.url, ...provider.credentials }, env: {} });
    const order = newOrder();
    expect(await loaded.plugin.transfer(order)).toMatchObject({ ok: 2 });
    expect(provider.transfersFor(order._id)[0].callbackUrl).toBeNull();
  });

  it('reports the provider amount, so a mismatch reaches the host at once', async () => {
    const { result } = await acceptedPayout({ reportAmount: '149.00', outcome: 'NEVER' });
    expect(result.amount).toBe('149.00');
  });
});

describe('url_final callback', () => {
  it('settles DONE from the provider after a correctly signed webhook', async () => {
    const { order, result, tx } = await acceptedPayout({ afterPolls: 0 });
    const answer = await loaded.call('url_final', webhookRequest(JSON.stringify({ event: 'payout.updated', id: result.transaction })));
    expect(answer).toMatchObject({ status: 200, body: 'ok', ended: true, headers: { 'content-type': 'text/plain' } });
    expect(loaded.history).toEqual([expect.objectContaining({
      orderId: order._id, oldStatus: 'inProgressPayout', status: 'done', payoutStatus: 'done', outcome: 'applied',
    })]);
    expect(loaded.db.payoutTxs.find((row) => row._id === tx._id)?.active).toBe(false);
    expect(loaded.db.orders.get(order._id)?.status).toBe('done');
  });

  it('settles errorPayout when the provider reports FAILED', async () => {
    const { result } = await acceptedPayout({ outcome: 'FAILED', failureReason: 'card blocked' });
    const answer = await loaded.call('url_final', webhookRequest(JSON.stringify({ id: result.transaction })));
    expect(answer.body).toBe('errorPayout');
    expect(loaded.history[0]).toMatchObject({ status: 'errorPayout', payoutStatus: 'error', comment: expect.stringContaining('card blocked') });
  });

  it('refuses a webhook with a bad signature before touching the db or the provider', async () => {
    const { result } = await acceptedPayout({ afterPolls: 0 });
    const requestsBefore = provider.requests.length;
    const operationsBefore = loaded.db.operations.length;
    const answer = await loaded.call('url_final', webhookRequest(JSON.stringify({ id: result.transaction, status: 'DONE' }), 'forged-secret'));
    expect(answer).toMatchObject({ status: 401, body: 'bad signature' });
    expect(loaded.history).toHaveLength(0);
    expect(provider.requests).toHaveLength(requestsBefore);
    expect(loaded.db.operations).toHaveLength(operationsBefore);
  });

  it('never takes the status from the webhook body', async () => {
    const { result, tx } = await acceptedPayout({ outcome: 'NEVER' });
    const answer = await loaded.call('url_final', webhookRequest(JSON.stringify({ id: result.transaction, status: 'DONE' })));
    expect(answer.body).toBe('skip');
    expect(loaded.history).toHaveLength(0);
    expect(loaded.db.payoutTxs.find((row) => row._id === tx._id)?.active).toBe(true);
  });

  it('answers 405 to anything but POST and 404 to a payout it does not track', async () => {
    expect((await loaded.call('url_final', { method: 'GET' })).status).toBe(405);
    const unknown = await loaded.call('url_final', webhookRequest(JSON.stringify({ id: 'np_unknown' })));
    expect(unknown.status).toBe(404);
  });

  it('settles from the webhook the fake provider sends on its own', async () => {
    // A loopback stand-in for the host's /payout_call route, handing the raw body to the callback.
    const host: Server = createServer((req, res) => {
      let rawBody = '';
      req.on('data', (chunk) => { rawBody += chunk; });
      req.on('end', async () => {
        const answer = await loaded.call('url_final', { method: req.method, headers: req.headers as Record<string, string>, rawBody });
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    const hostUrl = `http://127.0.0.1:${(host.address() as AddressInfo).port}/`;
    try {
      loaded = loadPlatformPlugin({ pluginDir: PLUGIN_DIR, config: { apiUrl: provider.url, ...provider.credentials }, env: { API_URL: hostUrl } });
      const { order } = await acceptedPayout({ afterMs: 50, webhook: 'auto' });
      const [delivery] = await provider.waitForWebhooks(1);
      expect(delivery).toMatchObject({ url: hostUrl + 'payout_call/nimbuspay/url_final/', status: 200, responseBody: 'ok' });
      expect(loaded.db.orders.get(order._id)?.status).toBe('done');
    } finally {
      host.closeAllConnections();
      await new Promise((resolve) => host.close(resolve));
    }
  });
});

describe('initCron', () => {
  it('declares a 30-second schedule that runs at start-up', () => {
    expect(loaded.cron()).toMatchObject({ callWhenInit: true, schedule: '*/30 * * * * *' });
  });

  it('finalises DONE and FAILED payouts and leaves unfinished ones active', async () => {
    const done = await acceptedPayout({ afterPolls: 1 });
    const failed = await acceptedPayout({ outcome: 'FAILED', afterPolls: 0 });
    const pending = await acceptedPayout({ outcome: 'NEVER' });

    const summary = await loaded.cron()!.fn();
    expect(summary).toEqual({ checked: 3, done: 0, errorPayout: 1, skipped: 2, errors: 0 });
    expect(await loaded.cron()!.fn()).toEqual({ checked: 2, done: 1, errorPayout: 0, skipped: 1, errors: 0 });

    expect(loaded.db.orders.get(done.order._id)?.status).toBe('done');
    expect(loaded.db.orders.get(failed.order._id)?.status).toBe('errorPayout');
    expect(loaded.db.orders.get(pending.order._id)?.status).toBe('inProgressPayout');
    expect(loaded.db.payoutTxs.map((row) => row.active)).toEqual([false, false, true]);
    expect(loaded.db.operations.slice(0, 2)).toEqual(['countDocuments', 'find']);
  });

  it('makes an amount mismatch visible in the history comment', async () => {
    const { order } = await acceptedPayout({ reportAmount: '149.00', afterPolls: 0 });
    await loaded.cron()!.fn();
    expect(loaded.history).toEqual([expect.objectContaining({
      orderId: order._id, status: 'done',
      comment: expect.stringContaining('AMOUNT MISMATCH: order expects 150.25, NimbusPay reports 149.00'),
    })]);
  });

  it('keeps a tx active when updateHistory fails, so the next run retries', async () => {
    const { tx } = await acceptedPayout({ afterPolls: 0 });
    const realUpdateHistory = loaded.db.updateHistory;
    loaded.db.updateHistory = async () => { throw new Error('store unavailable'); };
    expect(await loaded.cron()!.fn()).toMatchObject({ done: 0, skipped: 1 });
    expect(loaded.db.payoutTxs.find((row) => row._id === tx._id)?.active).toBe(true);
    loaded.db.updateHistory = realUpdateHistory;
    expect(await loaded.cron()!.fn()).toMatchObject({ done: 1 });
  });

  it('does nothing when no payout is waiting', async () => {
    expect(await loaded.cron()!.fn()).toEqual({ checked: 0 });
    expect(provider.requests).toHaveLength(0);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startFakeProvider, type FakeProvider } from '../../../runtime/demo/fake-provider.ts';
import { signNimbusRequest, signNimbusWebhook } from '../../../runtime/demo/nimbus-signing.ts';

interface CallOverrides { key?: string; secret?: string; timestamp?: string; sendBody?: string; signal?: AbortSignal }

/** A NimbusPay API call signed the way the plugin signs it. */
async function callProvider(provider: FakeProvider, method: string, path: string, payload?: unknown, overrides: CallOverrides = {}) {
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const timestamp = overrides.timestamp ?? String(Date.now());
  const signature = signNimbusRequest(overrides.secret ?? provider.credentials.apiSecret, timestamp, method, path, body);
  const answer = await fetch(provider.url + path, {
    method,
    headers: {
      'content-type': 'application/json',
      'x-nimbus-key': overrides.key ?? provider.credentials.apiKey,
      'x-nimbus-timestamp': timestamp,
      'x-nimbus-signature': signature,
    },
    body: overrides.sendBody ?? (body || undefined),
    signal: overrides.signal,
  });
  return { status: answer.status, data: (await answer.json()) as Record<string, any> };
}

const payoutRequest = (reference: string, extra: Record<string, string> = {}) => ({
  amount: '150.25', currency: 'UAH', network: 'CARD', destination: '4111111111111111', merchant_reference: reference, ...extra,
});

let provider: FakeProvider;
beforeEach(async () => {
  provider = await startFakeProvider({ autoWebhook: false });
});
afterEach(async () => {
  await provider.close();
});

describe('fake NimbusPay: authentication', () => {
  it('accepts a correctly signed request', async () => {
    const answer = await callProvider(provider, 'GET', '/v1/balance');
    expect(answer.status).toBe(200);
    expect(provider.requests.at(-1)).toMatchObject({ path: '/v1/balance', status: 200, authenticated: true });
  });

  it.each([
    ['an unknown key', { key: 'someone-else' }, 'unknown_key'],
    ['a wrong secret', { secret: 'not-the-secret' }, 'bad_signature'],
    ['a stale timestamp', { timestamp: String(Date.now() - 10 * 60_000) }, 'stale_timestamp'],
    ['a body changed after signing', { sendBody: JSON.stringify(payoutRequest('order-tampered', { amount: '9999.00' })) }, 'bad_signature'],
  ])('answers 401 for %s and records no transfer', async (_label, overrides, error) => {
    const answer = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-tampered'), overrides);
    expect(answer.status).toBe(401);
    expect(answer.data.error).toBe(error);
    expect(provider.transfers).toHaveLength(0);
    expect(provider.requests.at(-1)?.authenticated).toBe(false);
  });

  it('signs the query string too', async () => {
    const timestamp = String(Date.now());
    const signedWithoutQuery = signNimbusRequest(provider.credentials.apiSecret, timestamp, 'GET', '/v1/payouts', '');
    const answer = await fetch(provider.url + '/v1/payouts?merchant_reference=x', {
      headers: { 'x-nimbus-key': provider.credentials.apiKey, 'x-nimbus-timestamp': timestamp, 'x-nimbus-signature': signedWithoutQuery },
    });
    expect(answer.status).toBe(401);
  });
});

describe('fake NimbusPay: balance and transfers', () => {
  it('debits the balance on acceptance and records the transfer', async () => {
    expect((await callProvider(provider, 'GET', '/v1/balance')).data.balances.UAH).toBe('1000000');
    const created = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-1'));
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ status: 'PENDING', amount: '150.25', currency: 'UAH', merchant_reference: 'order-1' });
    expect(provider.balance('UAH')).toBe('999849.75');
    expect(provider.transfersFor('order-1')).toHaveLength(1);
  });

  it('records every accepted POST, so a double payout is visible per merchant_reference', async () => {
    await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-twice'));
    await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-twice'));
    await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-once'));
    expect(provider.transfersFor('order-twice')).toHaveLength(2);
    expect(provider.transfersFor('order-once')).toHaveLength(1);
    const listed = await callProvider(provider, 'GET', '/v1/payouts?merchant_reference=order-twice');
    expect(listed.data.payouts).toHaveLength(2);
  });

  it('refuses with 422 when the balance is too low', async () => {
    provider.setBalance('UAH', '100');
    const answer = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-poor'));
    expect(answer.status).toBe(422);
    expect(answer.data.error).toBe('insufficient_funds');
    expect(provider.transfers).toHaveLength(0);
  });

  it('refuses malformed payout requests with 400', async () => {
    for (const bad of [payoutRequest('r', { amount: '-1' }), payoutRequest('r', { currency: 'EUR' }), payoutRequest('')]) {
      expect((await callProvider(provider, 'POST', '/v1/payouts', bad)).status).toBe(400);
    }
    expect(provider.transfers).toHaveLength(0);
  });
});

describe('fake NimbusPay: scripted behaviours', () => {
  const create = async (reference: string) => (await callProvider(provider, 'POST', '/v1/payouts', payoutRequest(reference))).data;
  const poll = async (id: string) => (await callProvider(provider, 'GET', `/v1/payouts/${id}`)).data;

  it('finishes DONE after N polls', async () => {
    provider.setBehaviour({ afterPolls: 2 });
    const { id } = await create('order-polls');
    expect((await poll(id)).status).toBe('PROCESSING');
    expect((await poll(id)).status).toBe('PROCESSING');
    const done = await poll(id);
    expect(done.status).toBe('DONE');
    expect(provider.transfers[0].polls).toBe(3);
  });

  it('finishes DONE after a delay', async () => {
    provider.setBehaviour({ afterMs: 80 });
    const { id } = await create('order-delay');
    expect((await poll(id)).status).toBe('PROCESSING');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await poll(id)).status).toBe('DONE');
  });

  it('answers DONE in the create response when immediate', async () => {
    provider.setBehaviour({ immediate: true });
    expect((await create('order-now')).status).toBe('DONE');
  });

  it('fails a payout and gives the money back', async () => {
    provider.setBehaviour({ outcome: 'FAILED', afterPolls: 1, failureReason: 'card blocked' });
    const { id } = await create('order-fail');
    expect(provider.balance('UAH')).toBe('999849.75');
    expect((await poll(id)).status).toBe('PROCESSING');
    expect(await poll(id)).toMatchObject({ status: 'FAILED', failure_reason: 'card blocked' });
    expect(provider.balance('UAH')).toBe('1000000');
  });

  it('rejects with the scripted 4xx (definite refusal) for one reference only', async () => {
    provider.setBehaviour({ response: 'reject', rejectStatus: 409, rejectMessage: 'destination blacklisted' }, { reference: 'order-refused' });
    const refused = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-refused'));
    expect(refused).toMatchObject({ status: 409, data: { message: 'destination blacklisted' } });
    expect((await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-fine'))).status).toBe(201);
    expect(provider.transfersFor('order-refused')).toHaveLength(0);
    expect(provider.balance('UAH')).toBe('999849.75');
  });

  it('accepts then hangs: the caller times out, yet the payout exists and completes', async () => {
    provider.setBehaviour({ response: 'hang', afterPolls: 0 });
    const outcome = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-hang'), { signal: AbortSignal.timeout(200) })
      .then(() => 'answered', (error: Error) => error.name);
    expect(outcome).toBe('TimeoutError');
    expect(provider.transfersFor('order-hang')).toHaveLength(1);
    const listed = await callProvider(provider, 'GET', '/v1/payouts?merchant_reference=order-hang');
    expect(listed.data.payouts[0].status).toBe('DONE');
  });

  it('accepts then drops the connection', async () => {
    provider.setBehaviour({ response: 'drop', afterPolls: 1 });
    await expect(callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-drop'))).rejects.toThrow();
    const [payout] = provider.transfersFor('order-drop');
    expect(payout).toBeDefined();
    expect((await poll(payout.id)).status).toBe('PROCESSING');
    expect((await poll(payout.id)).status).toBe('DONE');
  });

  it('reports a different amount than requested', async () => {
    provider.setBehaviour({ reportAmount: '149.00', afterPolls: 0 });
    const created = await create('order-short');
    expect(created.amount).toBe('149.00');
    expect((await poll(created.id)).amount).toBe('149.00');
    expect(provider.transfers[0].amount).toBe('150.25');
  });

  it('stays PROCESSING with outcome NEVER until settled by hand', async () => {
    provider.setBehaviour({ outcome: 'NEVER' });
    const { id } = await create('order-stuck');
    expect((await poll(id)).status).toBe('PROCESSING');
    provider.settle(id, 'CANCELED', 'operator cancelled');
    expect(await poll(id)).toMatchObject({ status: 'CANCELED', failure_reason: 'operator cancelled' });
  });
});

describe('fake NimbusPay: webhooks', () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: Record<string, unknown>; body: string }[] = [];

  beforeEach(async () => {
    received.length = 0;
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(200);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/payout_call/nimbuspay/url_final/`;
  });
  afterEach(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('sends a signed webhook to callback_url when the outcome is reached', async () => {
    provider.setBehaviour({ afterMs: 30, webhook: 'auto' });
    const created = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-hook', { callback_url: receiverUrl }));
    const [delivery] = await provider.waitForWebhooks(1);
    expect(delivery.status).toBe(200);
    expect(received).toHaveLength(1);
    const { headers, body } = received[0];
    expect(headers['x-nimbus-signature']).toBe(signNimbusWebhook(provider.credentials.webhookSecret, body));
    expect(JSON.parse(body)).toMatchObject({ event: 'payout.updated', id: created.data.id, status: 'DONE', merchant_reference: 'order-hook' });
  });

  it('sends webhooks on demand, optionally signed with the wrong secret', async () => {
    const created = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-manual', { callback_url: receiverUrl }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(received).toHaveLength(0); // autoWebhook is off for this provider
    await provider.deliverWebhook(created.data.id);
    const forged = await provider.deliverWebhook(created.data.id, { signWith: 'attacker-secret' });
    expect(received).toHaveLength(2);
    expect(received[0].headers['x-nimbus-signature']).toBe(signNimbusWebhook(provider.credentials.webhookSecret, received[0].body));
    expect(forged.signature).not.toBe(signNimbusWebhook(provider.credentials.webhookSecret, forged.body));
  });

  it('never sends a webhook anywhere but loopback', async () => {
    const created = await callProvider(provider, 'POST', '/v1/payouts', payoutRequest('order-far', { callback_url: 'http://10.1.2.3/payout_call/x/url_final/' }));
    const delivery = await provider.deliverWebhook(created.data.id);
    expect(delivery.status).toBeNull();
    expect(delivery.error).toMatch(/not a loopback address/);
  });
});

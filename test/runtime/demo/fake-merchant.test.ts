import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeMerchant, ipnHash, type FakeMerchant } from '../../../runtime/demo/fake-merchant.ts';

// The worked example from the merchant API seed.
const SEED_FIELDS = {
  orderId: '5d8e6002b80b7b4cd75a6424', newStatus: 'inProgress', inAmount: '2', outAmount: '317.42',
  xml_from: 'ETH', xml_to: 'WMZ', timestamp: '1571328406072',
};
const SEED_HASH = 'af3acf947e6f0e0f2c267e300b8582e504dba12d1f2d058652b7414163c09f48';

function postIpn(merchant: FakeMerchant, fields: Record<string, string>, signal?: AbortSignal) {
  return fetch(merchant.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    signal,
  });
}

let merchant: FakeMerchant;
beforeEach(async () => {
  merchant = await startFakeMerchant({ ipnSecret: 'SECRET123' });
});
afterEach(async () => {
  await merchant.close();
});

describe('fake merchant', () => {
  it('computes the IPN hash of the seed example', () => {
    expect(ipnHash(SEED_FIELDS, 'SECRET123')).toBe(SEED_HASH);
  });

  it('records form fields and headers and checks the hash', async () => {
    const answer = await postIpn(merchant, { ...SEED_FIELDS, 'toValues[0][key]': 'card_number', hash: SEED_HASH });
    expect(answer.status).toBe(200);
    const [ipn] = await merchant.waitFor(1);
    expect(ipn.fields).toMatchObject({ orderId: SEED_FIELDS.orderId, 'toValues[0][key]': 'card_number' });
    expect(ipn.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(ipn.hashValid).toBe(true);
    expect(ipn.answeredWith).toBe(200);

    await postIpn(merchant, { ...SEED_FIELDS, newStatus: 'done', hash: SEED_HASH });
    expect(merchant.received[1].hashValid).toBe(false);
  });

  it('fails a given number of times, then accepts again', async () => {
    merchant.setMode('fail', { times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await postIpn(merchant, SEED_FIELDS)).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(merchant.received).toHaveLength(3);
  });

  it('can hang without answering', async () => {
    merchant.setMode('hang');
    const outcome = await postIpn(merchant, SEED_FIELDS, AbortSignal.timeout(200)).then(() => 'answered', (error: Error) => error.name);
    expect(outcome).toBe('TimeoutError');
    expect(merchant.received[0].answeredWith).toBeNull();
  });
});

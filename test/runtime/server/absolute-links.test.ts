// The merchant API hands out the customer's page links on the host's public URL, ready to send to
// a customer; the paths behind them are the same pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost;
beforeAll(async () => { t = await startTestHost(); });
afterAll(async () => { await t?.close(); });

describe('order links', () => {
  it('order/create and order/status answer absolute links that open the pages', async () => {
    const created = await t.api('POST', '/api/public/exchanger/order/create', {
      routeId: t.routeId, amount: '10', agreement: true, lang: 'ru', toValues: [{ key: 'card_number', value: '4111111111111111' }],
    });
    expect(created.status).toBe(200);
    const { uid, secret, links } = created.json as { uid: number; secret: string; links: { payment: string; order: string } };
    expect(links).toEqual({ payment: `${t.baseUrl}/ru/payment/${uid}/${secret}`, order: `${t.baseUrl}/ru/order/${uid}/${secret}` });
    const status = await t.api('GET', `/api/public/exchanger/order/status?uid=${uid}&secret=${secret}`);
    expect(status.json.links).toEqual(links);
    for (const url of [links.payment, links.order]) {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
    }
  });
});

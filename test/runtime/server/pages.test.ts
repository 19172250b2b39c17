// The customer's order and payment pages: languages, what is shown and hidden, the return button,
// hostile text rendered inert, strict headers, and one 404 for every failed lookup.
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { NewOrder, Order } from '../../../runtime/store/types.ts';
import { CARD, useOrdersApp, validOrder } from '../orders/order-fixture.ts';
import type { OrdersHost } from '../orders/order-fixture.ts';

let h: OrdersHost;
let app: FastifyInstance;
useOrdersApp((host, a) => { h = host; app = a; });

const get = (url: string) => app.inject({ method: 'GET', url });
const page = (lang: string, kind: 'order' | 'payment', o: Pick<Order, 'uid' | 'secret'>) => get(`/${lang}/${kind}/${o.uid}/${o.secret}`);

async function createOrder(overrides: Record<string, unknown> = {}): Promise<Order> {
  return (await h.orders.create(validOrder(h.route, overrides), { ip: '203.0.113.9' })).order;
}

async function moveTo(order: Order, ...path: Order['status'][]): Promise<Order> {
  let current = order;
  for (const status of path) current = await h.orders.transition(current._id, status, { actor: 'admin' });
  return current;
}

/** Text between tags, so assertions read like what the customer sees. */
function visibleText(htmlText: string): string {
  return htmlText.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
}

describe('order page', () => {
  it.each([
    ['en', 'Order', 'New', 'You send', 'Recipient details', 'Card number UAH'],
    ['ru', 'Заявка', 'Новая', 'Вы отправляете', 'Реквизиты получателя', 'Номер карты UAH'],
    ['es', 'Solicitud', 'Nueva', 'Usted envía', 'Datos del destinatario', 'Número de tarjeta UAH'],
  ])('in %s: number, status in words, amounts with currencies, recipient details', async (lang, title, status, send, recipient, field) => {
    const order = await createOrder({ lang });
    const res = await page(lang, 'order', order);
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`<html lang="${lang}">`);
    const text = visibleText(res.body);
    expect(text).toContain(`${title} ${order.uid}`);
    expect(text).toContain(status);
    expect(text).toContain(`${send} 100 USDTTRC20`);
    expect(text).toContain('4150 UAH (CARDUAH)');
    expect(text).toContain(recipient);
    expect(text).toContain(`${field} ${CARD}`);
  });

  it('the page language comes from the path (aliases too), whatever the order was created in', async () => {
    const order = await createOrder({ lang: 'en' });
    expect(visibleText((await page('rus', 'order', order)).body)).toContain('Заявка');
    expect(visibleText((await page('es', 'order', order)).body)).toContain('Solicitud');
  });

  it('hides the recipient details with hideOutData', async () => {
    const order = await createOrder({ hideOutData: 'on' });
    const res = await page('en', 'order', order);
    expect(res.body).not.toContain(CARD);
    expect(visibleText(res.body)).toContain('The recipient details are hidden.');
  });

  it('shows "Return to the site" only once the order is final, with the status appended and the query kept', async () => {
    const order = await createOrder({ clientCallbackUrl: 'https://shop.example/back?order=7&x=a%20b#done' });
    for (const step of [[], ['inProgress'], ['inProgressPayout'], ['hold']] as Order['status'][][]) {
      const moved = await moveTo(await h.local.store.getOrder(order._id) as Order, ...step);
      expect((await page('en', 'order', moved)).body).not.toContain('Return to the site');
    }
    await moveTo(await h.local.store.getOrder(order._id) as Order, 'inProgressPayout', 'done');
    const res = await page('en', 'order', order);
    expect(res.body).toContain('<a class="button" href="https://shop.example/back?order=7&amp;x=a%20b&amp;status=success#done" rel="noreferrer noopener">Return to the site</a>');
    expect(visibleText(res.body)).toContain('Completed');

    const failed = await moveTo(await createOrder({ clientCallbackUrl: 'https://shop.example/back' }), 'deleted');
    expect((await page('ru', 'order', failed)).body).toContain('href="https://shop.example/back?status=error"');
    expect(visibleText((await page('ru', 'order', failed)).body)).toContain('Вернуться на сайт');
  });

  it('no clientCallbackUrl, no button, even when final', async () => {
    const done = await moveTo(await createOrder(), 'inProgress', 'inProgressPayout', 'done');
    expect((await page('en', 'order', done)).body).not.toContain('class="button"');
  });
});

describe('payment page', () => {
  it.each([
    ['en', 'Send exactly 100 USDTTRC20.', 'This order is waiting for your payment.'],
    ['ru', 'Отправьте ровно 100 USDTTRC20.', 'Заявка ожидает вашего платежа.'],
    ['es', 'Envíe exactamente 100 USDTTRC20.', 'Esta solicitud está esperando su pago.'],
  ])('in %s says what to pay and that the order waits for it', async (lang, what, waiting) => {
    const order = await createOrder();
    const text = visibleText((await page(lang, 'payment', order)).body);
    expect(text).toContain(what);
    expect(text).toContain(waiting);
  });

  it('stops asking for payment once the order has moved on, and links to the order page', async () => {
    const order = await moveTo(await createOrder(), 'inProgress');
    const res = await page('en', 'payment', order);
    expect(visibleText(res.body)).toContain('No payment is expected for this order any more.');
    expect(res.body).not.toContain('Send exactly');
    expect(res.body).toContain(`href="/en/order/${order.uid}/${order.secret}"`);
  });
});

describe('pages follow the order without a script', () => {
  const refreshOf = (body: string) => /<meta http-equiv="refresh" content="(\d+)">/.exec(body)?.[1] ?? null;

  it('reload every 5 s while money moves, every 30 s while the order waits, and stop once it is final', async () => {
    const order = await createOrder();
    expect(refreshOf((await page('en', 'payment', order)).body)).toBe('30');
    const paying = await moveTo(order, 'inProgress', 'inProgressPayout');
    expect(refreshOf((await page('en', 'order', paying)).body)).toBe('5');
    expect(refreshOf((await page('en', 'payment', paying)).body)).toBe('5');
    const done = await moveTo(paying, 'done');
    const final = await page('en', 'order', done);
    expect(visibleText(final.body)).toContain('Status: Completed');
    expect(refreshOf(final.body)).toBeNull();
    // The refresh needs nothing the page's CSP forbids: still no script at all.
    expect(final.headers['content-security-policy']).toContain("default-src 'none'");
    expect((await page('en', 'order', paying)).body).not.toMatch(/<script/i);
  });
});

describe('security', () => {
  const XSS = '<script>alert(1)</script>"\'><img src=x onerror=alert(1)>`';

  function expectInert(body: string): void {
    expect(body).not.toMatch(/<script/i);
    expect(body).not.toMatch(/<img/i);
    expect(body).not.toMatch(/<[^>]*\sonerror=/i);
    expect(body).not.toMatch(/href="javascript:/i);
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;&#96;');
  }

  it('hostile text through the real create path (recipient value, callback URL) is rendered inert', async () => {
    const { order } = await h.orders.create({
      routeId: h.memoRoute._id, amount: '10', agreement: true, toValues: [{ key: 'memo', value: XSS }],
      clientCallbackUrl: `https://shop.example/?q=${XSS.replace(/[\s`]/g, '')}`,
    }, { ip: '1.1.1.1' });
    await moveTo(order, 'deleted');
    for (const kind of ['order', 'payment'] as const) {
      const res = await page('en', kind, order);
      expect(res.body).not.toMatch(/<script/i);
      expect(res.body).not.toMatch(/<img/i);
    }
    const res = await page('en', 'order', order);
    expectInert(res.body);
    expect(res.body).toContain('href="https://shop.example/?q=&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;imgsrc=xonerror=alert(1)&gt;&amp;status=error"');
  });

  it('every stored text field is escaped, and a non-http callback never becomes a link', async () => {
    const hostile: NewOrder = {
      secret: 'hostile-secret-0123456789abcdef', status: 'deleted', routeId: h.route._id, inAmount: XSS, outAmount: XSS,
      fromXml: XSS, toXml: XSS, outSymbol: XSS, fromValues: [{ key: XSS, value: XSS }], toValues: [{ key: XSS, value: XSS, name: XSS }],
      routeValues: [], lang: XSS, agreement: true, hideOutData: false, clientCallbackUrl: 'javascript:alert(1)//', ipnUrl: null,
      ipnSecret: null, partner: XSS, payoutModule: 'nimbuspay', payoutStatus: null, orderNote: XSS, holdReason: null,
    };
    const order = await h.local.store.createOrder(hostile);
    for (const kind of ['order', 'payment'] as const) {
      const res = await page('es', kind, order);
      expect(res.statusCode).toBe(200);
      expectInert(res.body);
      expect(res.body).not.toContain('javascript:');
    }
  });

  it('sends a no-script CSP, nosniff, no-referrer, no framing and no caching', async () => {
    const order = await createOrder();
    for (const res of [await page('en', 'order', order), await page('en', 'payment', order), await get('/en/order/1/wrong')]) {
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; /);
      expect(csp).not.toMatch(/script-src|unsafe-inline|unsafe-eval/);
      expect(res.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'x-frame-options': 'DENY', 'cache-control': 'no-store' });
      expect(res.body).not.toMatch(/<script/i);
    }
  });

  it('a wrong secret, a wrong uid and a malformed one get the very same 404 page', async () => {
    const order = await createOrder();
    const other = await createOrder();
    const answers = await Promise.all([
      page('en', 'order', { uid: order.uid, secret: other.secret }),
      page('en', 'order', { uid: 999_999, secret: order.secret }),
      get(`/en/order/0${order.uid}/${order.secret}`),
      get(`/en/order/abc/${order.secret}`),
      get(`/en/order/${order.uid}/${'x'.repeat(100)}`),
      page('en', 'payment', { uid: order.uid, secret: order.secret.toUpperCase() }),
      get(`/en/order/${order.uid}/${encodeURIComponent('<script>')}`),
    ]);
    const strip = (res: (typeof answers)[number]) => ({ status: res.statusCode, body: res.body, headers: { ...res.headers, date: null } });
    const first = strip(answers[0]);
    expect(first.status).toBe(404);
    expect(visibleText(first.body)).toContain('Order not found');
    for (const res of answers.slice(1)) expect(strip(res)).toEqual(first);
  });

  it('an unknown language gets the English 404, not a hint that the order exists', async () => {
    const order = await createOrder();
    const unknown = await get(`/de/order/${order.uid}/${order.secret}`);
    const wrong = await page('en', 'order', { uid: order.uid, secret: 'nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body).toBe(wrong.body);
    expect(visibleText((await page('ru', 'order', { uid: order.uid, secret: 'nope' })).body)).toContain('Заявка не найдена');
  });
});

// The merchant API over HTTP (app.inject), with the real nimbuspay plugin behind it.
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { CARD, buildTestApp, formBody, useOrdersApp, validOrder } from '../orders/order-fixture.ts';
import type { OrdersHost } from '../orders/order-fixture.ts';

const CREATE = '/api/public/exchanger/order/create';
const STATUS = '/api/public/exchanger/order/status';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let h: OrdersHost;
let app: FastifyInstance;
useOrdersApp((host, a) => { h = host; app = a; });

const postJson = (payload: unknown) => app.inject({ method: 'POST', url: CREATE, payload: payload as Record<string, unknown> });
const postForm = (payload: string, headers: Record<string, string> = FORM) => app.inject({ method: 'POST', url: CREATE, headers, payload });

function errorOf(res: { statusCode: number; json(): unknown }): { status: number; field: string | null; message: string } {
  // The one error shape (runtime/errors.ts); error.field and error.message stay where merchants
  // written against the earlier { error: { field, message } } read them.
  const body = res.json() as { statusCode: number; code: string; message: string; error: { code: string; field: string | null; message: string } };
  expect(Object.keys(body)).toEqual(['statusCode', 'code', 'message', 'error']);
  expect(body.code).toMatch(/^ORDER_[A-Z_]+$/);
  expect([body.statusCode, body.error.code, body.error.message]).toEqual([res.statusCode, body.code, body.message]);
  return { status: res.statusCode, field: body.error.field, message: body.error.message };
}

describe('POST order/create', () => {
  it('creates from JSON and answers with the documented shape', async () => {
    const res = await postJson(validOrder(h.route, { lang: 'es' }));
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(['inAmount', 'links', 'orderId', 'outAmount', 'secret', 'status', 'uid']);
    expect(body).toMatchObject({ status: 'new', inAmount: '100', outAmount: '4150' });
    expect(body.links).toEqual({ payment: `/es/payment/${body.uid}/${body.secret}`, order: `/es/order/${body.uid}/${body.secret}` });
  });

  it('creates from a browser-encoded bracket form, and from the raw brackets the API document shows', async () => {
    const encoded = formBody([
      ['routeId', h.route._id], ['amount', '250.5'], ['agreement', 'on'], ['hideOutData', 'true'], ['lang', 'ing'],
      ['toValues[0][key]', 'card_number'], ['toValues[0][value]', CARD], ['ipnUrl', 'https://shop.example/ipn'], ['ipnSecret', 'SECRET123'],
    ]);
    const res = await postForm(encoded, { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' });
    expect(res.statusCode, res.body).toBe(200);
    const stored = await h.local.store.getOrder(res.json().orderId);
    expect(stored).toMatchObject({ inAmount: '250.5', outAmount: '10395.75', hideOutData: true, lang: 'en', ipnUrl: 'https://shop.example/ipn', ipnSecret: 'SECRET123' });
    const raw = await postForm(`routeId=${h.route._id}&amount=10&agreement=1&toValues[0][key]=card_number&toValues[0][value]=${CARD}`);
    expect(raw.statusCode, raw.body).toBe(200);
  });

  it('replaces a form parser registered at the root (@fastify/formbody)', async () => {
    const other = await buildTestApp(h.orders, { rootFormbody: true });
    try {
      const res = await other.inject({ method: 'POST', url: CREATE, headers: FORM, payload: `routeId=${h.route._id}&amount=10&agreement=1&amount=20` });
      expect(errorOf(res)).toMatchObject({ status: 400, field: 'amount', message: 'amount is given twice; send each field once' });
    } finally {
      await other.close();
    }
  });

  it.each([
    ['missing routeId', { routeId: undefined }, 400, 'routeId', /routeId is required/],
    ['malformed routeId', { routeId: 'abc' }, 400, 'routeId', /24 hex/],
    ['unknown route', { routeId: 'ffffffffffffffffffffffff' }, 404, 'routeId', /no exchange direction/],
    ['bad amount', { amount: '1,5' }, 400, 'amount', /use a dot/],
    ['amount under the minimum', { amount: '5' }, 422, 'amount', /minimum of 10/],
    ['amount over the maximum', { amount: '20000' }, 422, 'amount', /maximum of 10000/],
    ['agreement false', { agreement: false }, 422, 'agreement', /agreement must be true/],
    ['agreement missing', { agreement: undefined }, 400, 'agreement', /agreement is required/],
    ['bad boolean', { hideOutData: 'maybe' }, 400, 'hideOutData', /true or false/],
    ['unknown lang', { lang: 'fr' }, 400, 'lang', /use en, ru or es/],
    ['card failing the plugin regexp', { toValues: [{ key: 'card_number', value: '4111-1111' }] }, 422, 'toValues[0][value]', /incorrect/],
    ['unknown recipient key', { toValues: [{ key: 'card_number', value: CARD }, { key: 'cvv', value: '123' }] }, 422, 'toValues[1][key]', /unknown field "cvv"/],
    ['private ipnUrl', { ipnUrl: 'http://10.0.0.5/ipn', ipnSecret: 'SECRET123' }, 400, 'ipnUrl', /private/],
    ['ipnUrl without ipnSecret', { ipnUrl: 'https://shop.example/ipn' }, 400, 'ipnSecret', /required with ipnUrl/],
    ['short ipnSecret', { ipnUrl: 'https://shop.example/ipn', ipnSecret: 'abc' }, 400, 'ipnSecret', /at least 8/],
    ['non-http clientCallbackUrl', { clientCallbackUrl: 'data:text/html,hi' }, 400, 'clientCallbackUrl', /scheme data/],
    ['unknown field', { isPaid: true }, 400, 'isPaid', /unknown field "isPaid"/],
  ])('%s is refused with its status and field', async (_name, overrides, status, field, message) => {
    const payload = validOrder(h.route, overrides);
    for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
    const e = errorOf(await postJson(payload));
    expect({ status: e.status, field: e.field }).toEqual({ status, field });
    expect(e.message).toMatch(message);
  });

  it('form errors name the bracket field exactly as sent', async () => {
    const e = errorOf(await postForm(`routeId=${h.route._id}&amount=10&agreement=1&toValues[0][key]=card_number&toValues[0][value]=${CARD}&toValues[2][key]=x&toValues[2][value]=y`));
    expect(e).toEqual({ status: 400, field: 'toValues[1]', message: 'toValues[1] is missing but toValues[2] is given; number the entries 0, 1, 2… without gaps' });
  });

  it('a plugin that burns its CPU budget makes the payout method unavailable (503)', async () => {
    const e = errorOf(await postJson(validOrder(h.redosRoute, { toValues: [{ key: 'card_number', value: `${'a'.repeat(40)}!` }] })));
    expect(e).toMatchObject({ status: 503, field: null });
    expect(e.message).toMatch(/payout method for CARDUAH is unavailable right now/);
  });

  it('hostile bodies: pollution, duplicates, oversize, wrong media type, broken JSON', async () => {
    expect(errorOf(await postJson(JSON.parse(`{"__proto__": {"polluted": true}, "routeId": "${h.route._id}"}`)))).toMatchObject({ status: 400, field: '__proto__' });
    expect(errorOf(await postForm(`${'constructor[prototype][polluted]'}=1`))).toMatchObject({ status: 400, field: 'constructor[prototype][polluted]' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const dup = await app.inject({ method: 'POST', url: CREATE, headers: { 'content-type': 'application/json' }, payload: `{"routeId":"${h.route._id}","amount":"10","amount":"9000","agreement":true}` });
    expect(errorOf(dup)).toMatchObject({ status: 400, field: 'amount' });
    const big = await postForm(`partner=${'x'.repeat(70_000)}`);
    expect(errorOf(big)).toMatchObject({ status: 413, field: null, message: expect.stringMatching(/larger than 65536 bytes/) });
    const text = await app.inject({ method: 'POST', url: CREATE, headers: { 'content-type': 'text/plain' }, payload: 'amount=1' });
    expect(errorOf(text)).toMatchObject({ status: 415, message: 'send the order as application/json or application/x-www-form-urlencoded' });
    const broken = await app.inject({ method: 'POST', url: CREATE, headers: { 'content-type': 'application/json' }, payload: '{"amount":' });
    expect(errorOf(broken)).toMatchObject({ status: 400, field: null, message: expect.stringMatching(/not valid JSON/) });
    const empty = await app.inject({ method: 'POST', url: CREATE, headers: { 'content-type': 'application/json' }, payload: '' });
    expect(errorOf(empty)).toMatchObject({ status: 400, message: expect.stringMatching(/empty/) });
  });

  it('is documented in OpenAPI for both media types', async () => {
    const spec = app.swagger() as { paths: Record<string, Record<string, { requestBody?: { content: Record<string, unknown> } }>> };
    expect(Object.keys(spec.paths[CREATE].post.requestBody?.content ?? {})).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(spec.paths[STATUS].get).toBeDefined();
  });
});

describe('GET order/status', () => {
  it('answers with the public view and links; never the secrets', async () => {
    const created = (await postJson(validOrder(h.route, { ipnUrl: 'https://shop.example/ipn', ipnSecret: 'SECRET123', clientCallbackUrl: 'https://shop.example/r' }))).json();
    const res = await app.inject({ method: 'GET', url: `${STATUS}?uid=${created.uid}&secret=${created.secret}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const view = res.json();
    expect(view).toMatchObject({
      orderId: created.orderId, uid: created.uid, status: 'new', final: null, inAmount: '100', outAmount: '4150', fromXml: 'USDTTRC20', toXml: 'CARDUAH',
      outSymbol: 'UAH', hideOutData: false, toValues: [{ key: 'card_number', name: 'Card number UAH', value: CARD }], returnUrl: null, links: created.links,
    });
    expect(res.body).not.toContain('SECRET123');
    expect(res.body).not.toContain('shop.example/ipn');
    await h.orders.transition(created.orderId, 'deleted', { actor: 'admin' });
    const after = (await app.inject({ method: 'GET', url: `${STATUS}?uid=${created.uid}&secret=${created.secret}` })).json();
    expect(after).toMatchObject({ status: 'deleted', final: 'error', returnUrl: 'https://shop.example/r?status=error' });
  });

  it('hides the recipient for hideOutData orders', async () => {
    const created = (await postJson(validOrder(h.route, { hideOutData: true }))).json();
    const view = (await app.inject({ method: 'GET', url: `${STATUS}?uid=${created.uid}&secret=${created.secret}` })).json();
    expect(view.toValues).toBeNull();
    expect(JSON.stringify(view)).not.toContain(CARD);
  });

  it('a wrong secret and a wrong uid get the same 404', async () => {
    const created = (await postJson(validOrder(h.route))).json();
    const wrongSecret = await app.inject({ method: 'GET', url: `${STATUS}?uid=${created.uid}&secret=nope` });
    const wrongUid = await app.inject({ method: 'GET', url: `${STATUS}?uid=987654&secret=${created.secret}` });
    expect(wrongSecret.statusCode).toBe(404);
    expect(wrongUid.body).toBe(wrongSecret.body);
    expect(errorOf(wrongUid)).toMatchObject({ status: 404, field: null });
  });

  it('malformed lookups are 400 and name the parameter', async () => {
    expect(errorOf(await app.inject({ method: 'GET', url: `${STATUS}?secret=x` }))).toMatchObject({ status: 400, field: 'uid' });
    expect(errorOf(await app.inject({ method: 'GET', url: `${STATUS}?uid=abc&secret=x` }))).toMatchObject({ status: 400, field: 'uid' });
    expect(errorOf(await app.inject({ method: 'GET', url: `${STATUS}?uid=1&uid=2&secret=x` }))).toMatchObject({ status: 400, field: 'uid', message: 'uid is given 2 times; send it once' });
  });
});

describe('rate limit', () => {
  it('order creation is limited per IP with a clear 429 in the same error format', async () => {
    const limited = await buildTestApp(h.orders, { ratePerMinute: 2 });
    try {
      const send = (ip: string) => limited.inject({ method: 'POST', url: CREATE, payload: validOrder(h.route), remoteAddress: ip });
      expect((await send('198.51.100.1')).statusCode).toBe(200);
      expect((await send('198.51.100.1')).statusCode).toBe(200);
      const third = await send('198.51.100.1');
      expect(errorOf(third)).toMatchObject({ status: 429, field: null, message: expect.stringMatching(/too many requests from your address: at most 2 per minute here; retry in/) });
      expect(third.headers['retry-after']).toBeDefined();
      expect((await send('198.51.100.2')).statusCode).toBe(200);
      // The page routes are not affected by the create limit.
      const status = await limited.inject({ method: 'GET', url: `${STATUS}?uid=1&secret=x`, remoteAddress: '198.51.100.1' });
      expect(status.statusCode).toBe(404);
    } finally {
      await limited.close();
    }
  });
});

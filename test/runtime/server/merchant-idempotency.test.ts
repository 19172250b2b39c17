// Order create with an idempotency key (Idempotency-Key header or idempotencyKey field): a lost reply
// retried with the same key gets the same order, never a second one; the key cannot be used to fetch
// someone else's order with another request.
import type { FastifyInstance } from 'fastify';
import { expect, it } from 'vitest';
import { formBody, useOrdersApp, validOrder, CARD } from '../orders/order-fixture.ts';
import type { OrdersHost } from '../orders/order-fixture.ts';

const CREATE = '/api/public/exchanger/order/create';
const KEY = 'c0ffee00-1111-4222-8333-444455556666';

let h: OrdersHost;
let app: FastifyInstance;
useOrdersApp((host, a) => { h = host; app = a; });

const post = (payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: CREATE, headers, payload: payload as Record<string, unknown> });
const orderCount = async () => (await h.local.store.listOrders({ limit: 1000 })).length;

it('without a key a retried request creates a second order (the finding); with one it gets the same order back', async () => {
  const before = await orderCount();
  // Positive control: the lost-reply retry without a key makes an orphan.
  expect((await post(validOrder(h.route))).statusCode).toBe(200);
  expect((await post(validOrder(h.route))).statusCode).toBe(200);
  expect(await orderCount()).toBe(before + 2);

  const first = await post(validOrder(h.route), { 'idempotency-key': KEY });
  expect(first.statusCode, first.body).toBe(200);
  expect(first.headers['idempotent-replayed']).toBeUndefined();
  const again = await post(validOrder(h.route), { 'idempotency-key': KEY });
  expect(again.statusCode).toBe(200);
  expect(again.headers['idempotent-replayed']).toBe('true');
  expect(again.json()).toEqual(first.json());
  // The body field is the same key; the same order sent as a form is the same request.
  const asField = await post({ ...validOrder(h.route), idempotencyKey: KEY });
  expect(asField.json()).toEqual(first.json());
  const o = validOrder(h.route);
  const asForm = await app.inject({
    method: 'POST', url: CREATE, headers: { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': KEY },
    payload: formBody([['routeId', String(o.routeId)], ['amount', String(o.amount)], ['agreement', 'true'], ['lang', 'en'],
      ['toValues[0][key]', 'card_number'], ['toValues[0][value]', CARD]]),
  });
  expect(asForm.statusCode, asForm.body).toBe(200);
  expect(asForm.json()).toEqual(first.json());
  expect(await orderCount()).toBe(before + 3);
});

it('a different request with a used key is refused, naming the key, and reveals nothing of the first order', async () => {
  const key = 'key-for-one-order-0001';
  const first = await post(validOrder(h.route), { 'idempotency-key': key });
  expect(first.statusCode).toBe(200);
  const other = await post(validOrder(h.route, { amount: '101' }), { 'idempotency-key': key });
  expect(other.statusCode).toBe(422);
  const message = expect.stringMatching(/already used for a different order request.*use a new key/);
  expect(other.json()).toEqual({ statusCode: 422, code: 'ORDER_REFUSED', message, error: { code: 'ORDER_REFUSED', field: 'idempotencyKey', message } });
  expect(other.body).not.toContain(first.json().secret);
  expect(other.body).not.toContain(first.json().orderId);
});

it('concurrent requests with one key create one order', async () => {
  const before = await orderCount();
  const key = 'concurrent-key-000000000001';
  const answers = await Promise.all(Array.from({ length: 5 }, () => post(validOrder(h.route), { 'idempotency-key': key })));
  expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
  expect(new Set(answers.map((a) => a.json().orderId)).size).toBe(1);
  expect(await orderCount()).toBe(before + 1);
});

it.each([
  ['too short to be unguessable', { 'idempotency-key': 'abc' }, {}, 'Idempotency-Key', /16 to 128 visible ASCII/],
  ['with spaces', { 'idempotency-key': 'a key with spaces in it' }, {}, 'Idempotency-Key', /without spaces/],
  ['header and field differ', { 'idempotency-key': KEY }, { idempotencyKey: 'another-key-0000000001' }, 'idempotencyKey', /differ/],
  ['field not a string', {}, { idempotencyKey: 12345678901234567 }, 'idempotencyKey', /must be a string/],
])('a bad key is one clear 400: %s', async (_name, headers, extra, field, message) => {
  const res = await post({ ...validOrder(h.route), ...extra }, headers as Record<string, string>);
  expect(res.statusCode).toBe(400);
  expect(res.json().error).toMatchObject({ field, message: expect.stringMatching(message) });
});

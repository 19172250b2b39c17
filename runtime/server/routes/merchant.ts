// The merchant API (design.md §7): POST /api/public/exchanger/order/create (JSON, or urlencoded
// with the documented bracket keys) and GET /api/public/exchanger/order/status?uid=&secret=.
// Bodies are decoded by our own parsers (registered here, so they apply to these routes only) and
// validated by order-form.ts, so that JSON and form errors read the same and name the field as the
// merchant wrote it. The TypeBox schemas document the API in OpenAPI; they are not what validates.
import rateLimit from '@fastify/rate-limit';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { FORM_LIMITS, OrderFormError, parseFormBody, parseJsonBody } from '../../orders/order-form.ts';
import type { OrderService } from '../../orders/order-service.ts';
import { errorMessage } from '../../errors.ts';
import { errorBodySchema, loggableError, toHttpError } from '../http-errors.ts';
import { queryField } from './request-data.ts';

export interface MerchantRoutesOptions {
  orders: Pick<OrderService, 'create' | 'findByUidAndSecret' | 'publicView' | 'links'>;
  /** Order creations per client IP per minute (ServerOptions.orderCreateRatePerMinute). */
  ratePerMinute: number;
  /** Status lookups per client IP per minute; default 10 × ratePerMinute. */
  statusRatePerMinute?: number;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Entry = Type.Object({ key: Type.String({ maxLength: 64 }), value: Type.String({ maxLength: 1024 }) });
const Entries = (description: string) => Type.Array(Entry, { maxItems: FORM_LIMITS.maxItems, description });
const Bool = (description: string) => Type.Union([Type.Boolean(), Type.String({ enum: ['true', 'false', '1', '0', 'on', 'off'] })], { description });

const CreateBody = Type.Object({
  routeId: Type.String({ pattern: '^[0-9a-fA-F]{24}$', description: 'The exchange direction id' }),
  partner: Type.Optional(Type.String({ maxLength: 64, description: 'Partner code' })),
  amount: Type.Union([Type.String(), Type.Number()], { description: 'The sum the customer sends (decimal; at most 18 decimals)' }),
  fromValues: Type.Optional(Entries('Sender-side fields ({key, value}); stored as given')),
  toValues: Type.Optional(Entries('Recipient fields of the payout method, checked by its plugin (e.g. card_number)')),
  routeValues: Type.Optional(Entries('Direction-specific fields; stored as given')),
  lang: Type.Optional(Type.String({ description: 'en, ru or es (eng/ing, rus accepted); default en' })),
  agreement: Bool('Must be true: the customer accepted the exchange terms'),
  hideOutData: Type.Optional(Bool('Hide the recipient details on the customer pages and in the status lookup')),
  clientCallbackUrl: Type.Optional(Type.String({ maxLength: 2048, description: 'http(s) URL the customer returns to, with ?status=success|error appended' })),
  ipnUrl: Type.Optional(Type.String({ maxLength: 2048, description: 'Public http(s) URL that receives a form POST on each status change' })),
  ipnSecret: Type.Optional(Type.String({ minLength: 8, maxLength: 256, description: 'Required with ipnUrl; signs the IPN hash' })),
  idempotencyKey: Type.Optional(Type.String({ minLength: 16, maxLength: 128, description: 'Retry key (or the Idempotency-Key header): the same key and request return the same order; another request with the key is refused (422)' })),
}, { description: 'JSON, or application/x-www-form-urlencoded with bracket keys: toValues[0][key]=card_number&toValues[0][value]=4111…' });

const Links = Type.Object({
  payment: Type.String({ description: 'The payment page on the host\'s public URL: {publicUrl}/{lang}/payment/{uid}/{secret}' }),
  order: Type.String({ description: 'The order page on the host\'s public URL: {publicUrl}/{lang}/order/{uid}/{secret}' }),
});

const Created = Type.Object({
  orderId: Type.String(), uid: Type.Integer(), secret: Type.String({ description: 'Keep it: it opens the pages and the status lookup' }),
  status: Type.String(), inAmount: Type.String(), outAmount: Type.String(), links: Links,
});

const StatusQuery = Type.Object({
  uid: Type.String({ pattern: '^[1-9][0-9]{0,15}$', description: 'The order number' }),
  secret: Type.String({ maxLength: 256, description: 'The order secret returned by order/create' }),
});

const View = Type.Object({
  orderId: Type.String(), uid: Type.Integer(), status: Type.String(),
  final: Nullable(Type.String({ enum: ['success', 'error'] })),
  inAmount: Type.String(), outAmount: Type.String(), fromXml: Type.String(), toXml: Type.String(), outSymbol: Type.String(),
  lang: Type.String(), hideOutData: Type.Boolean(),
  toValues: Nullable(Type.Array(Type.Object({ key: Type.String(), name: Type.String(), value: Type.String() }))),
  returnUrl: Nullable(Type.String()), createdAt: Type.String(), updatedAt: Type.String(), links: Links,
});

// The one error shape (runtime/errors.ts); error.field names the field in bracket form, e.g.
// toValues[2][value]; error.details lists every problem when there were several.
const ErrorBody = errorBodySchema('What is wrong (code, message), in which field (error.field, bracket form, e.g. toValues[2][value]), and how to fix it');

/** Fastify's own errors (size, media type) in the same shape as ours. */
function toOrderError(err: FastifyError): OrderFormError {
  if (err instanceof OrderFormError) return err;
  const code = err.statusCode ?? 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || code === 413) {
    return new OrderFormError(null, errorMessage('ORDER_TOO_LARGE', { limit: FORM_LIMITS.maxBodyBytes }), 413);
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 415) {
    return new OrderFormError(null, errorMessage('ORDER_MEDIA_TYPE'), 415);
  }
  if (code >= 400 && code < 500) return new OrderFormError(null, err.message, code);
  return new OrderFormError(null, errorMessage('INTERNAL'), 500);
}

function single(field: string, value: unknown): string {
  if (Array.isArray(value)) throw new OrderFormError(field, `${field} is given ${value.length} times; send it once`);
  if (typeof value !== 'string' || value === '') throw new OrderFormError(field, `${field} is required`);
  return value;
}

export async function merchantRoutes(app: FastifyInstance, opts: MerchantRoutesOptions): Promise<void> {
  if (!Number.isInteger(opts.ratePerMinute) || opts.ratePerMinute < 1) throw new Error(`merchantRoutes: ratePerMinute must be a positive integer, got ${opts.ratePerMinute}`);

  // Only our two parsers, here: they replace the defaults and any the parent added (@fastify/formbody),
  // and every other media type (text/plain, multipart…) is a 415 instead of a string to misread.
  app.removeAllContentTypeParsers();
  const parser = (decode: (body: string) => unknown) =>
    (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, value?: unknown) => void) => {
      try {
        done(null, decode(String(body)));
      } catch (err) {
        done(err as Error);
      }
    };
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: FORM_LIMITS.maxBodyBytes }, parser(parseJsonBody));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMITS.maxBodyBytes }, parser(parseFormBody));

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toOrderError(err);
    if (e.status >= 500 && !(err instanceof OrderFormError)) request.log.error({ err: loggableError(err) }, 'merchant API request failed');
    const answer = toHttpError(e);
    return reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
  });

  await app.register(rateLimit, {
    global: false,
    // Thrown into our error handler, so a 429 has the same shape as every other error.
    errorResponseBuilder: (_request, context) => new OrderFormError(null,
      errorMessage('ORDER_RATE_LIMITED', { max: context.max, after: context.after }), context.statusCode),
  });

  // Documentation only (see the header): order-form.ts validates, so errors name bracket fields.
  // So these routes stay on the plain instance, whose request body and query are `unknown`: a type
  // provider would type them from the schemas, which promise what nothing has checked. What they
  // answer is checked against the response schemas' types by `satisfies`.
  const documentOnly = () => () => true;
  const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody, 429: ErrorBody, 503: ErrorBody };

  app.post('/api/public/exchanger/order/create', {
    bodyLimit: FORM_LIMITS.maxBodyBytes,
    config: { rateLimit: { max: opts.ratePerMinute, timeWindow: 60_000 } },
    validatorCompiler: documentOnly,
    schema: {
      tags: ['merchant'],
      summary: 'Create an exchange order (status new)',
      description: 'Fields as in the merchant API. Errors: 400 malformed (names the field), 404 unknown routeId, 409 direction closed, ' +
        '413 body too large, 422 refused (agreement, amount limits, recipient fields, an Idempotency-Key reused for another request), 429 rate limit, 503 payout method unavailable. ' +
        'With an Idempotency-Key (header or idempotencyKey field) a repeated request returns the same order (header Idempotent-Replayed: true).',
      consumes: ['application/json', 'application/x-www-form-urlencoded'],
      body: CreateBody,
      response: { 200: Created, ...errors },
    },
  }, async (request, reply) => {
    const header = request.headers['idempotency-key'];
    if (Array.isArray(header)) throw new OrderFormError('Idempotency-Key', 'the Idempotency-Key header is given more than once; send it once');
    const { order, links, replayed } = await opts.orders.create(request.body, { ip: request.ip, idempotencyKey: header ?? null });
    reply.header('cache-control', 'no-store');
    // RFC-draft style marker: this answer repeats the order an earlier request with the key created.
    if (replayed) reply.header('idempotent-replayed', 'true');
    return { orderId: order._id, uid: order.uid, secret: order.secret, status: order.status, inAmount: order.inAmount, outAmount: order.outAmount, links } satisfies Static<typeof Created>;
  });

  app.get('/api/public/exchanger/order/status', {
    config: { rateLimit: { max: opts.statusRatePerMinute ?? opts.ratePerMinute * 10, timeWindow: 60_000 } },
    validatorCompiler: documentOnly,
    schema: {
      tags: ['merchant'],
      summary: 'Look up an order by uid and secret',
      description: 'The same answer (404) for a wrong uid and a wrong secret. Recipient details are null when the order was created with hideOutData.',
      querystring: StatusQuery,
      response: { 200: View, 400: ErrorBody, 404: ErrorBody, 429: ErrorBody },
    },
  }, async (request, reply) => {
    const uid = single('uid', queryField(request, 'uid'));
    const secret = single('secret', queryField(request, 'secret'));
    if (!/^[1-9]\d{0,15}$/.test(uid)) throw new OrderFormError('uid', 'uid must be the order number (a positive whole number)');
    const order = secret.length <= 256 ? await opts.orders.findByUidAndSecret(uid, secret) : null;
    if (!order) throw new OrderFormError(null, 'no order has this uid and secret; check both', 404);
    reply.header('cache-control', 'no-store');
    return { ...opts.orders.publicView(order), links: opts.orders.links(order) } satisfies Static<typeof View>;
  });
}

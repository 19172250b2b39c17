// The customer's pages (design.md §7): GET /{lang}/payment/{uid}/{secret} and
// GET /{lang}/order/{uid}/{secret}. Server-rendered HTML in en/ru/es, no scripts, strict headers.
// A wrong uid, a wrong secret, a malformed uid and an unknown language all get the same 404 page
// (per language), so the answer never says which part was wrong.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { normaliseLang } from '../../orders/order-form.ts';
import type { OrderLang } from '../../orders/order-form.ts';
import type { OrderService } from '../../orders/order-service.ts';
import { PAGE_HEADERS, renderNotFound, renderOrderPage, renderServerError } from '../pages/order-page.ts';
import type { PageKind } from '../pages/order-page.ts';
import { loggableError } from '../http-errors.ts';
import { pathParam } from './request-data.ts';

export interface PageRoutesOptions {
  orders: Pick<OrderService, 'findByUidAndSecret' | 'publicView'>;
}

const Params = Type.Object({
  lang: Type.String({ description: 'en, ru or es (eng/ing, rus also accepted)' }),
  uid: Type.String({ description: 'The order number' }),
  secret: Type.String({ description: 'The order secret returned by order/create' }),
});

const MAX_SECRET_LENGTH = 256;

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).headers(PAGE_HEADERS).send(body);
}

export async function pageRoutes(app: FastifyInstance, opts: PageRoutesOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // A page answers in HTML whatever goes wrong, so no request is turned away by a JSON validator.
  const acceptAll = () => () => true;

  // Anything that escapes a handler still gets a page, not the app's JSON error.
  r.setErrorHandler((err, request, reply) => {
    request.log.error({ err: loggableError(err) }, 'order page failed');
    const lang = normaliseLang(pathParam(request, 'lang').slice(0, 10)) ?? 'en';
    return send(reply, 500, renderServerError(lang));
  });

  const page = (kind: PageKind) => async (request: { params: { lang: string; uid: string; secret: string } }, reply: FastifyReply) => {
    const { lang: rawLang, uid, secret } = request.params;
    const lang: OrderLang | null = rawLang.length <= 10 ? normaliseLang(rawLang) : null;
    if (!lang || !/^[1-9]\d{0,15}$/.test(uid) || secret.length > MAX_SECRET_LENGTH) {
      // Still pay for a lookup-shaped comparison so timing does not tell "malformed" from "wrong".
      await opts.orders.findByUidAndSecret(0, secret.slice(0, MAX_SECRET_LENGTH));
      return send(reply, 404, renderNotFound(lang ?? 'en'));
    }
    const order = await opts.orders.findByUidAndSecret(uid, secret);
    if (!order) return send(reply, 404, renderNotFound(lang));
    const view = opts.orders.publicView(order);
    return send(reply, 200, renderOrderPage(kind, view, lang, { uid: order.uid, secretSegment: encodeURIComponent(order.secret) }));
  };

  const common = {
    tags: ['pages'],
    params: Params,
    produces: ['text/html'],
    response: {
      200: { description: 'The page (text/html)', content: { 'text/html': { schema: Type.String() } } },
      404: { description: 'The same "order not found" page for a wrong uid, secret or language', content: { 'text/html': { schema: Type.String() } } },
    },
  };
  r.get('/:lang/payment/:uid/:secret', {
    schema: { ...common, summary: 'Payment page: what to pay for an order and whether it still waits for payment' },
    validatorCompiler: acceptAll,
  }, page('payment'));
  r.get('/:lang/order/:uid/:secret', {
    schema: { ...common, summary: 'Order page: status, amounts, recipient details (unless hidden) and, once final, the way back to the merchant' },
    validatorCompiler: acceptAll,
  }, page('order'));
}

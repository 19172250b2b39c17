// The customer's page links as the merchant API hands them out: absolute, on the host's public
// URL (--public-url), so a merchant can send them to the customer as they are. The order service
// keeps making paths; only the HTTP answer gains the host.
import type { OrderService } from '../../orders/order-service.ts';

type LinkSource = Pick<OrderService, 'create' | 'findByUidAndSecret' | 'publicView' | 'links'>;

export function withAbsoluteLinks(orders: LinkSource, publicUrl: string): LinkSource {
  const base = publicUrl.replace(/\/+$/, '');
  const absolute = (links: { payment: string; order: string }) => ({ payment: `${base}${links.payment}`, order: `${base}${links.order}` });
  return {
    findByUidAndSecret: (...args) => orders.findByUidAndSecret(...args),
    publicView: (...args) => orders.publicView(...args),
    links: (...args) => absolute(orders.links(...args)),
    create: async (...args) => {
      const created = await orders.create(...args);
      return { ...created, links: absolute(created.links) };
    },
  };
}

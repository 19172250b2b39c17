// The IPN a merchant receives when an order's status changes: x-www-form-urlencoded fields as the
// merchant API documents them, signed with
// sha256(orderId:newStatus:inAmount:outAmount:xml_from:xml_to:timestamp:ipnSecret) in hex.
import crypto from 'node:crypto';
import type { NewIpn, Order, OrderStatus } from '../store/types.ts';

export interface IpnHashInput {
  orderId: string;
  newStatus: string;
  inAmount: string;
  outAmount: string;
  xmlFrom: string;
  xmlTo: string;
  timestamp: number | string;
  ipnSecret: string;
}

export function ipnHash(i: IpnHashInput): string {
  const text = [i.orderId, i.newStatus, i.inAmount, i.outAmount, i.xmlFrom, i.xmlTo, String(i.timestamp), i.ipnSecret].join(':');
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Form fields, with toValues in the bracket form the merchant API uses (toValues[0][key]). */
export function ipnFields(order: Order, newStatus: OrderStatus, timestamp: number): Record<string, string> {
  const fields: Record<string, string> = {
    orderUID: String(order.uid),
    orderId: order._id,
    newStatus,
    inAmount: order.inAmount,
    outAmount: order.outAmount,
    xml_from: order.fromXml,
    xml_to: order.toXml,
    timestamp: String(timestamp),
  };
  order.toValues.forEach((v, i) => {
    fields[`toValues[${i}][key]`] = v.key;
    fields[`toValues[${i}][name]`] = v.name ?? v.key;
    fields[`toValues[${i}][value]`] = v.value;
  });
  fields.hash = ipnHash({
    orderId: order._id, newStatus, inAmount: order.inAmount, outAmount: order.outAmount,
    xmlFrom: order.fromXml, xmlTo: order.toXml, timestamp, ipnSecret: order.ipnSecret ?? '',
  });
  return fields;
}

/** The outbox row for a status change, or null when the merchant asked for no IPN. */
export function buildIpn(order: Order, newStatus: OrderStatus, options: { maxAttempts: number; now?: number }): NewIpn | null {
  if (!order.ipnUrl) return null;
  return { orderId: order._id, status: newStatus, url: order.ipnUrl, fields: ipnFields(order, newStatus, options.now ?? Date.now()), maxAttempts: options.maxAttempts };
}

// The NimbusPay signature scheme, shared by the fake provider and by tests that play the plugin
// or the provider. Kept in one place so both sides can never drift apart.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const NIMBUS_HEADERS = {
  key: 'x-nimbus-key',
  timestamp: 'x-nimbus-timestamp',
  signature: 'x-nimbus-signature',
  event: 'x-nimbus-event',
} as const;

/** API request signature: hex(HMAC-SHA256(apiSecret, timestamp + METHOD + path + body)). */
export function signNimbusRequest(apiSecret: string, timestamp: string, method: string, pathWithQuery: string, body: string): string {
  return createHmac('sha256', apiSecret).update(timestamp + method.toUpperCase() + pathWithQuery + body).digest('hex');
}

/** Webhook signature: hex(HMAC-SHA256(webhookSecret, rawBody)). */
export function signNimbusWebhook(webhookSecret: string, rawBody: string): string {
  return createHmac('sha256', webhookSecret).update(rawBody).digest('hex');
}

/** Constant-time comparison of two hex digests; false for anything that is not same-length hex. */
export function hexDigestsMatch(expectedHex: string, givenHex: string): boolean {
  if (!/^[0-9a-f]+$/i.test(givenHex) || givenHex.length !== expectedHex.length) return false;
  return timingSafeEqual(Buffer.from(expectedHex, 'hex'), Buffer.from(givenHex, 'hex'));
}

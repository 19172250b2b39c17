// What the contract tests share: the fake clock's start, id matcher, sample records and the fixture
// through which a test opens stores on its own fresh database.
import { expect } from 'vitest';
import type { Store } from '../../../runtime/store/store.ts';
import type { NewIpn, NewOrder, Order } from '../../../runtime/store/types.ts';

export const T0 = Date.parse('2031-03-04T05:06:07.000Z');
export const iso = (ms: number): string => new Date(ms).toISOString();
export const ID = expect.stringMatching(/^[0-9a-f]{24}$/);

export interface Fixture {
  /** Opens one more Store on this test's database (same file / same MongoDB database). */
  open(): Promise<Store>;
  clock: { now: () => number; advance(ms: number): void; at(): string };
}

export function sampleOrder(overrides: Partial<NewOrder> = {}): NewOrder {
  return {
    secret: 'f00dfeed', status: 'new', routeId: 'route-1', inAmount: '100.5', outAmount: '99.25', fromXml: 'USDTTRC20',
    toXml: 'CARDUAH', outSymbol: '₴', fromValues: [{ key: 'email', value: 'a@b.c' }],
    toValues: [{ key: 'card', value: '4111111111111111', name: 'Card number' }], routeValues: [], lang: 'en',
    agreement: true, hideOutData: false, clientCallbackUrl: null, ipnUrl: 'https://merchant.example/ipn',
    ipnSecret: 'merchant-secret', partner: null, payoutModule: 'alpha', payoutStatus: null, orderNote: null,
    holdReason: null, ...overrides,
  };
}

export function ipnFor(order: Order, status: NewIpn['status'], maxAttempts = 5): NewIpn {
  return {
    orderId: order._id, status, url: order.ipnUrl ?? 'https://merchant.example/ipn', maxAttempts,
    fields: { orderId: String(order.uid), status, inAmount: order.inAmount, hash: 'ab'.repeat(32) },
  };
}

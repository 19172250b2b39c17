// Orders and payout txs written straight into a store, for host-API and orchestrator tests.
import type { Store } from '../../runtime/store/store.ts';
import type { NewOrder, Order, OrderStatus } from '../../runtime/store/types.ts';

export function newOrder(overrides: Partial<NewOrder> = {}): NewOrder {
  return {
    secret: 'order-page-secret', status: 'inProgressPayout', routeId: 'r1', inAmount: '100', outAmount: '4000',
    fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', fromValues: [], toValues: [{ key: 'card_number', value: '4111111111111111', name: 'Card' }],
    routeValues: [], lang: 'en', agreement: true, hideOutData: false, clientCallbackUrl: null, ipnUrl: 'http://127.0.0.1:9/ipn',
    ipnSecret: 'merchant-ipn-secret', partner: null, payoutModule: 'alpha', payoutStatus: null, orderNote: null, holdReason: null, ...overrides,
  };
}

export async function orderWithTx(store: Store, plugin: string, status: OrderStatus = 'inProgressPayout', txOverrides: { transaction?: string; active?: boolean } = {}): Promise<{ order: Order; txId: string }> {
  const order = await store.createOrder(newOrder({ payoutModule: plugin, status }));
  const tx = await store.insertPayoutTx({
    order: order._id, transaction: txOverrides.transaction ?? `tx-${order.uid}`, payoutModule: plugin, active: txOverrides.active ?? true,
    amount: order.outAmount, currency: 'UAH', to: '4111…1111', note: null, attemptId: null,
  });
  return { order, txId: tx._id };
}

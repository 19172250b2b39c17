// `start --demo`: a host a newcomer can watch pay out, with nothing real involved. A fake NimbusPay
// provider and a fake merchant run on loopback; the example plugin gets their credentials and a
// grant for the provider's origin; an example route is created; and a stand-in for the customer
// "pays" new orders a moment after they are created, so one curl command shows the whole flow.
// Nothing here runs without --demo.
import crypto from 'node:crypto';
import { startFakeProvider } from './fake-provider.ts';
import type { FakeProvider } from './fake-provider.ts';
import { startFakeMerchant } from './fake-merchant.ts';
import type { FakeMerchant } from './fake-merchant.ts';
import type { Host } from '../server/host.ts';

export const DEMO_PLUGIN = 'nimbuspay';
export const DEMO_IPN_SECRET = 'demo-ipn-secret-123';

export interface Demo {
  provider: FakeProvider;
  merchant: FakeMerchant;
  routeId: string;
  close(): Promise<void>;
}

export async function startDemoPeers(): Promise<{ provider: FakeProvider; merchant: FakeMerchant; apiKey: string; apiSecret: string; webhookSecret: string }> {
  const apiKey = 'demo-key';
  const apiSecret = crypto.randomBytes(16).toString('hex');
  const webhookSecret = crypto.randomBytes(16).toString('hex');
  const provider = await startFakeProvider({
    apiKey, apiSecret, webhookSecret, balances: { UAH: '1000000', USDT: '100000', BTC: '10' },
    behaviour: { outcome: 'DONE', afterMs: 3000, webhook: 'auto' }, webhookRetryDelaysMs: [1000, 3000, 10000],
  });
  const merchant = await startFakeMerchant({ ipnSecret: DEMO_IPN_SECRET });
  return { provider, merchant, apiKey, apiSecret, webhookSecret };
}

/** Points the example plugin at a (fake) NimbusPay: its config, and an approved grant for its origin. */
export async function connectNimbusPay(host: Host, provider: { url: string; apiKey: string; apiSecret: string; webhookSecret: string }, approvedBy: string): Promise<void> {
  await host.hostApi.config.set(DEMO_PLUGIN, 'apiUrl', provider.url);
  await host.hostApi.config.set(DEMO_PLUGIN, 'apiKey', provider.apiKey);
  await host.hostApi.config.set(DEMO_PLUGIN, 'apiSecret', provider.apiSecret);
  await host.hostApi.config.set(DEMO_PLUGIN, 'webhookSecret', provider.webhookSecret);
  await host.store.upsertGrant({
    plugin: DEMO_PLUGIN, origin: new URL(provider.url).origin, pathPrefix: null, methods: null, requested: false,
    approved: true, approvedBy, approvedAt: new Date().toISOString(),
  });
}

export async function wireDemo(host: Host, peers: Awaited<ReturnType<typeof startDemoPeers>>): Promise<Demo> {
  const { provider, merchant } = peers;
  if (host.registry.active(DEMO_PLUGIN)) {
    await connectNimbusPay(host, { url: provider.url, apiKey: peers.apiKey, apiSecret: peers.apiSecret, webhookSecret: peers.webhookSecret }, 'demo');
  }
  const existing = (await host.store.listRoutes()).find((r) => r.payoutPlugin === DEMO_PLUGIN && r.active);
  const route = existing ?? await host.store.createRoute({
    fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '41.25', minAmount: '10', maxAmount: '5000',
    payoutPlugin: DEMO_PLUGIN, autoPayout: true, active: true,
  });
  // The stand-in customer: pays every new order of the demo route after two seconds.
  const paying = new Set<string>();
  const timer = setInterval(async () => {
    for (const order of await host.store.listOrders({ status: 'new', limit: 20 })) {
      if (order.routeId !== route._id || paying.has(order._id)) continue;
      if (Date.now() - Date.parse(order.createdAt) < 2000) continue;
      paying.add(order._id);
      try {
        await host.orders.transition(order._id, 'inProgress', { actor: 'admin', comment: 'demo: the customer paid', expectStatus: 'new' });
        await host.orders.transition(order._id, 'inProgressPayout', { actor: 'admin', comment: 'demo: payment confirmed, paying out', expectStatus: 'inProgress' });
      } catch (err) {
        host.logger.warn({ err: String(err) }, 'demo payer could not move the order');
      }
    }
  }, 1000);
  timer.unref();
  return {
    provider, merchant, routeId: route._id,
    async close() {
      clearInterval(timer);
      await provider.close();
      await merchant.close();
    },
  };
}

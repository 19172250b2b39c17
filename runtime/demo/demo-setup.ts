// `start --demo`: a host a newcomer can watch pay out, with nothing real involved. A fake NimbusPay
// provider and a fake merchant run on loopback; the example plugin gets their credentials and a
// grant for the provider's origin; an example route is created; and a stand-in for the customer
// "pays" new orders a moment after they are created, so one curl command shows the whole flow.
// Nothing here runs without --demo.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
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

/**
 * What a demo keeps in its data folder (mode 0600), so a restart finds its provider and merchant
 * where they were, with the same credentials: payouts in flight, order IPN URLs and grants stay valid.
 */
interface DemoPeersFile { providerPort: number; merchantPort: number; apiKey: string; apiSecret: string; webhookSecret: string }

function readPeersFile(file: string): DemoPeersFile | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as DemoPeersFile;
    return Number.isInteger(v.providerPort) && Number.isInteger(v.merchantPort) && typeof v.apiSecret === 'string' && typeof v.webhookSecret === 'string' ? v : null;
  } catch {
    return null;
  }
}

/** Listens on the port of the last run; a port taken meanwhile gives way to a free one. */
async function onPort<T>(port: number | undefined, start: (port: number) => Promise<T>): Promise<{ peer: T; moved: boolean }> {
  if (port) {
    try {
      return { peer: await start(port), moved: false };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      return { peer: await start(0), moved: true };
    }
  }
  return { peer: await start(0), moved: false };
}

export async function startDemoPeers(dataDir?: string): Promise<{ provider: FakeProvider; merchant: FakeMerchant; apiKey: string; apiSecret: string; webhookSecret: string; moved: string[] }> {
  const dir = dataDir ? path.join(dataDir, 'demo') : null;
  const peersFile = dir ? path.join(dir, 'peers.json') : null;
  const last = peersFile ? readPeersFile(peersFile) : null;
  const apiKey = last?.apiKey ?? 'demo-key';
  const apiSecret = last?.apiSecret ?? crypto.randomBytes(16).toString('hex');
  const webhookSecret = last?.webhookSecret ?? crypto.randomBytes(16).toString('hex');
  const provider = await onPort(last?.providerPort, (port) => startFakeProvider({
    apiKey, apiSecret, webhookSecret, balances: { UAH: '1000000', USDT: '100000', BTC: '10' }, port,
    behaviour: { outcome: 'DONE', afterMs: 3000, webhook: 'auto' }, webhookRetryDelaysMs: [1000, 3000, 10000],
    ...(dir ? { stateFile: path.join(dir, 'provider-state.json') } : {}),
  }));
  const merchant = await onPort(last?.merchantPort, (port) => startFakeMerchant({ ipnSecret: DEMO_IPN_SECRET, port }));
  if (dir && peersFile) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file: DemoPeersFile = { providerPort: provider.peer.port, merchantPort: merchant.peer.port, apiKey, apiSecret, webhookSecret };
    fs.writeFileSync(peersFile, JSON.stringify(file), { mode: 0o600 });
  }
  const moved = [
    ...(provider.moved ? [`the fake provider's port ${last?.providerPort} was taken; it now listens on ${provider.peer.port}`] : []),
    ...(merchant.moved ? [`the fake merchant's port ${last?.merchantPort} was taken; it now listens on ${merchant.peer.port} (IPNs of older orders go to the old port)`] : []),
  ];
  return { provider: provider.peer, merchant: merchant.peer, apiKey, apiSecret, webhookSecret, moved };
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

export async function wireDemo(host: Host, peers: Omit<Awaited<ReturnType<typeof startDemoPeers>>, 'moved'> & { moved?: string[] }): Promise<Demo> {
  const { provider, merchant } = peers;
  if (host.registry.active(DEMO_PLUGIN)) {
    await connectNimbusPay(host, { url: provider.url, apiKey: peers.apiKey, apiSecret: peers.apiSecret, webhookSecret: peers.webhookSecret }, 'demo');
    // Grants the demo made for a provider of an earlier run that is no longer there.
    const current = new URL(provider.url).origin;
    for (const g of await host.store.listGrants(DEMO_PLUGIN)) {
      if (g.approvedBy === 'demo' && g.origin !== current && !g.requested) await host.store.deleteGrant(DEMO_PLUGIN, g.origin);
    }
  }
  for (const line of peers.moved ?? []) host.logger.warn({ demo: true }, line);
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
        host.logger.warn({ err }, 'demo payer could not move the order');
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

// A real payout host for the browser tests: createHost + buildApp on 127.0.0.1 with a temp data
// dir and SQLite, the example plugin, the hostile-admin fixture and a platform-style plugin, a
// fake provider and a fake merchant (loopback only).
import fs from 'node:fs';
import { freePort } from '../../../sdk/harness.ts';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { createHost } from '../../../runtime/server/host.ts';
import type { Host } from '../../../runtime/server/host.ts';
import { buildApp } from '../../../runtime/server/app.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';
import type { ServerOptions } from '../../../runtime/server/options.ts';
import { startFakeProvider } from '../../../runtime/demo/fake-provider.ts';
import type { FakeProvider } from '../../../runtime/demo/fake-provider.ts';
import { startFakeMerchant } from '../../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../../runtime/demo/fake-merchant.ts';
import { writeSeedStylePlugin } from './seed-style-plugin.ts';
import { connectNimbusPay } from '../../../runtime/demo/demo-setup.ts';

export const ADMIN_TOKEN = 'browser-test-admin-token-5f1c0e9a7b3d';

export interface AdminServer {
  host: Host;
  app: FastifyInstance;
  baseUrl: string;
  routeId: string;
  provider: FakeProvider;
  merchant: FakeMerchant;
  admin(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }>;
  createOrder(amount?: string): Promise<{ orderId: string; uid: number }>;
  close(): Promise<void>;
}

/** Port 0 picks a free port; the host must know it before it starts (public URL, API_URL). */
export async function startAdminServer(overrides: Partial<ServerOptions> = {}): Promise<AdminServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-admin-browser-'));
  const pluginsDir = path.join(dataDir, 'plugins');
  fs.cpSync(path.resolve('plugins/nimbuspay'), path.join(pluginsDir, 'nimbuspay'), { recursive: true });
  fs.cpSync(path.resolve('test/fixtures/plugins/hostile-admin'), path.join(pluginsDir, 'hostile-admin'), { recursive: true });
  writeSeedStylePlugin(pluginsDir);

  const provider = await startFakeProvider({ apiKey: 'k-browser', apiSecret: 'provider-secret-browser', webhookSecret: 'provider-webhook-browser', behaviour: { outcome: 'DONE', afterMs: 200, webhook: 'auto' } });
  const merchant = await startFakeMerchant({ ipnSecret: 'merchant-ipn-secret-browser' });
  const port = await freePort();
  const options = defaultServerOptions({
    port, dataDir, dbUrl: `sqlite:${path.join(dataDir, 'store.db')}`, adminToken: ADMIN_TOKEN, pluginsDir,
    publicUrl: `http://127.0.0.1:${port}/`, allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(merchant.url).origin],
    sweepIntervalMs: 500, transferWallMs: 5000, callbackWallMs: 5000, ...overrides,
  });
  const host = await createHost(options, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  await host.start();
  await connectNimbusPay(host, { url: provider.url, ...provider.credentials }, 'test');
  // Manual payouts, so that the admin page's "Run payout now" is what starts one.
  const route = await host.store.createRoute({ fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '10000', payoutPlugin: 'nimbuspay', autoPayout: false, active: true });
  const app = await buildApp(host);
  await app.listen({ port, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;

  const call = async (method: string, url: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(baseUrl + url, {
      method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { json = text; }
    return { status: res.status, json: json as any };
  };
  return {
    host, app, baseUrl, routeId: route._id, provider, merchant,
    admin: (method, url, body) => call(method, url, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
    async createOrder(amount = '10') {
      const res = await call('POST', '/api/public/exchanger/order/create', {
        routeId: route._id, amount, agreement: true, lang: 'en', toValues: [{ key: 'card_number', value: '4111111111111111' }],
        ipnUrl: merchant.url, ipnSecret: 'merchant-ipn-secret-browser',
      }, {});
      if (res.status !== 200) throw new Error(`order create failed: ${res.status} ${JSON.stringify(res.json)}`);
      return res.json as { orderId: string; uid: number };
    },
    async close() {
      await app.close();
      await host.close();
      await provider.close();
      await merchant.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs in on the admin page with the test token and waits for the plugin list. */
export async function signIn(page: import('playwright-core').Page, baseUrl: string): Promise<void> {
  await page.goto(`${baseUrl}/admin/`);
  await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.plugin-card').first().waitFor();
}

// A real payout host for end-to-end tests: SQLite file in a temp folder, the example plugin, a fake
// provider and a fake merchant, all on 127.0.0.1. Returns small helpers to drive it over HTTP.
import fs from 'node:fs';
import { freePort } from '../../sdk/harness.ts';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createHost } from '../../runtime/server/host.ts';
import type { Host, HostExtras } from '../../runtime/server/host.ts';
import { buildApp } from '../../runtime/server/app.ts';
import { defaultServerOptions } from '../../runtime/server/options.ts';
import { TEST_ENGINE } from './engine.ts';
import type { ServerOptions } from '../../runtime/server/options.ts';
import { startFakeProvider } from '../../runtime/demo/fake-provider.ts';
import type { FakeProvider, FakeProviderOptions } from '../../runtime/demo/fake-provider.ts';
import { startFakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import type { FakeMerchant } from '../../runtime/demo/fake-merchant.ts';
import { connectNimbusPay } from '../../runtime/demo/demo-setup.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
export const IPN_SECRET = 'merchant-ipn-secret-42';

export { freePort };

export interface TestHost {
  host: Host;
  baseUrl: string;
  provider: FakeProvider;
  merchant: FakeMerchant;
  routeId: string;
  dataDir: string;
  api(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string }>;
  admin(method: string, url: string, body?: unknown): Promise<{ status: number; json: any; text: string }>;
  waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function startTestHost(overrides: Partial<ServerOptions> = {}, extras: HostExtras & { provider?: FakeProviderOptions } = {}): Promise<TestHost> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-host-'));
  const port = await freePort();
  const provider = await startFakeProvider({ apiKey: 'k-test', apiSecret: 'provider-api-secret-xyz', webhookSecret: 'provider-webhook-secret-xyz', ...extras.provider });
  const merchant = await startFakeMerchant({ ipnSecret: IPN_SECRET });
  const options = defaultServerOptions({
    port, dataDir, dbUrl: `sqlite:${path.join(dataDir, 'store.db')}`, adminToken: ADMIN_TOKEN, pluginsDir: path.resolve('plugins'),
    publicUrl: `http://127.0.0.1:${port}/`, allowLoopbackGrants: true, ipnLoopbackOrigins: [new URL(merchant.url).origin],
    sweepIntervalMs: 200, transferWallMs: 3000, callbackWallMs: 3000, engine: TEST_ENGINE, ...overrides,
  });
  const host = await createHost(options, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), ...extras });
  await host.start();
  await connectNimbusPay(host, { url: provider.url, ...provider.credentials }, 'test');
  const route = await host.store.createRoute({ fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', rate: '40', minAmount: '1', maxAmount: '10000', payoutPlugin: 'nimbuspay', autoPayout: true, active: true });
  const app = await buildApp(host);
  await app.listen({ port, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${port}`;
  const api: TestHost['api'] = async (method, url, body, headers = {}) => {
    const res = await fetch(baseUrl + url, {
      method, headers: { ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text };
  };
  return {
    host, baseUrl, provider, merchant, routeId: route._id, dataDir, api,
    admin: (method, url, body) => api(method, url, body, { authorization: `Bearer ${ADMIN_TOKEN}` }),
    async waitFor(what, check, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = await check();
        if (v) return v as never;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      // A test is over: a keep-alive connection still busy (a hung delivery a test left behind)
      // must not hold app.close() until its own timeout.
      const closing = app.close();
      app.server.closeAllConnections();
      await closing;
      await host.close();
      await provider.close();
      await merchant.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

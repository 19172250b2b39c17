// A real payout host for the benchmarks, built the way the server builds one (createHost +
// buildApp): SQLite file store with synchronous=FULL in a temp folder, real sandbox process,
// real host API with policy and audit. Background workers (payout sweep, IPN sender, cron
// schedules) are not started, so nothing but the measured work runs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { createHost } from '../../runtime/server/host.ts';
import type { Host } from '../../runtime/server/host.ts';
import { buildApp } from '../../runtime/server/app.ts';
import { defaultServerOptions } from '../../runtime/server/options.ts';
import type { ServerOptions } from '../../runtime/server/options.ts';
import type { NewOrder, Order } from '../../runtime/store/types.ts';
import { buildIpn } from '../../runtime/ipn/ipn-message.ts';
import type { SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';
import type { EngineName, PluginLimits } from '../../runtime/sandbox/protocol.ts';
import { loadPlatformPlugin } from '../in-process/load-platform-plugin.ts';
import { storePlatform } from './store-platform.ts';
import type { InProcessPlugin, InvokeFn } from './in-process-invoke.ts';
import { tempDir } from './fixtures.ts';

export interface BenchHost {
  host: Host;
  dataDir: string;
  pluginsDir: string;
  /** The plugin loaded in this process over the same store (the baseline). */
  inProcessPlugin(key: string): InProcessPlugin;
  /** Serves the host's HTTP app on 127.0.0.1; `invoke` replaces SandboxHost.invoke for this app only. */
  listen(invoke?: InvokeFn): Promise<{ app: FastifyInstance; url: string }>;
  close(): Promise<void>;
}

export interface BenchHostOptions {
  populate(pluginsDir: string): void;
  options?: Partial<ServerOptions>;
  /**
   * Plugin limits for this bench host (not ServerOptions fields: createHost uses the defaults).
   * Set on the SandboxHost before any plugin is registered.
   */
  limits?: Partial<PluginLimits>;
  /** The engine every plugin of this host runs on (the server option `engine`); default the host's default. */
  engine?: EngineName;
}

export async function startBenchHost(o: BenchHostOptions): Promise<BenchHost> {
  const dataDir = tempDir('host');
  const pluginsDir = path.join(dataDir, 'plugins');
  fs.mkdirSync(pluginsDir);
  o.populate(pluginsDir);
  const options = defaultServerOptions({
    port: 0, dataDir, dbUrl: `sqlite:${path.join(dataDir, 'store.db')}`, adminToken: crypto.randomBytes(16).toString('hex'),
    pluginsDir, publicUrl: 'http://127.0.0.1:3000/', allowLoopbackGrants: true, requireApproval: false,
    webhookRatePerMinute: 1_000_000_000, ...o.options, ...(o.engine ? { engine: o.engine } : {}),
  });
  const host = await createHost(options, { logger: pino({ level: 'silent' }) });
  const apps: FastifyInstance[] = [];
  try {
    Object.assign(host.sandbox.limits, o.limits);
    await host.sandbox.start();
    const entries = await host.registry.loadAll(pluginsDir);
    const refused = entries.filter((e) => e.status !== 'active');
    if (refused.length) throw new Error(`bench: plugins refused: ${refused.map((e) => `${e.key}: ${e.error?.message}`).join('; ')}`);
    for (const e of entries) host.cron.unschedule(e.key);
  } catch (err) {
    await host.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    host, dataDir, pluginsDir,
    inProcessPlugin(key) {
      const platform = storePlatform({
        store: host.store, config: host.hostApi.config,
        buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: options.ipnMaxAttempts }),
        settleAttempt: (order, plugin) => host.payouts.settleFromPlugin(order, plugin),
      }, key);
      const loaded = loadPlatformPlugin({ pluginDir: path.join(pluginsDir, key), platform: platform.modules, env: { API_URL: options.publicUrl } });
      return { loaded, host: platform.host };
    },
    async listen(invoke) {
      // The stand-in only replaces `invoke` on a view of the sandbox; the host itself is untouched.
      const sandbox = invoke ? Object.assign(Object.create(host.sandbox) as SandboxHost, { invoke }) : host.sandbox;
      const app = await buildApp({ ...host, sandbox });
      apps.push(app);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('bench: the app has no TCP address');
      return { app, url: `http://127.0.0.1:${address.port}` };
    },
    async close() {
      for (const app of apps) await app.close();
      await host.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An order in inProgressPayout for `plugin`, as the payout flow leaves it (no merchant IPN). */
export function benchOrder(plugin: string, amount: string): NewOrder {
  return {
    secret: crypto.randomBytes(12).toString('hex'), status: 'inProgressPayout', routeId: 'bench-route', inAmount: '1', outAmount: amount,
    fromXml: 'USDTTRC20', toXml: 'CARDUAH', outSymbol: 'UAH', fromValues: [], toValues: [{ key: 'card_number', value: '4111111111111111', name: 'Card' }],
    routeValues: [], lang: 'en', agreement: true, hideOutData: false, clientCallbackUrl: null, ipnUrl: null, ipnSecret: null,
    partner: null, payoutModule: plugin, payoutStatus: null, orderNote: null, holdReason: null,
  };
}

/** Grants `origin` to `plugin` (approved), as an administrator would. */
export async function grant(host: Host, plugin: string, origin: string): Promise<void> {
  await host.store.upsertGrant({ plugin, origin, pathPrefix: null, methods: null, requested: false, approved: true, approvedBy: 'bench', approvedAt: new Date().toISOString() });
}

export type { Order };

// One plugin on a real host: the harness under the test kit (sdk/testkit.ts) and `payout-sandbox
// dev`. It builds the same host `start` builds (createHost + buildApp, on 127.0.0.1), but loads
// exactly one plugin folder, and loads it the way `dev` needs: checked first in a separate sandbox
// with every host call refused (like `check`), approved for this store, and only then swapped in.
// A folder that fails the check never replaces the version that is running.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createHost } from '../runtime/server/host.ts';
import type { Host } from '../runtime/server/host.ts';
import { buildApp } from '../runtime/server/app.ts';
import { defaultServerOptions } from '../runtime/server/options.ts';
import type { ServerOptions } from '../runtime/server/options.ts';
import type { PayoutEvent } from '../runtime/payouts/payout-steps.ts';
import { loadPlugin } from '../runtime/plugins/load-plugin.ts';
import type { LoadedPlugin } from '../runtime/plugins/load-plugin.ts';
import { SandboxHost } from '../runtime/sandbox/sandbox-host.ts';
import { denyAllHandler } from '../runtime/review/check-report.ts';
import { PluginRejected } from '../runtime/plugin-errors.ts';
import { folderVersion } from '../runtime/install/approval.ts';
import { hashFolder } from '../runtime/install/content-hash.ts';
import { originGrant } from '../runtime/local/local-session.ts';
import { engineFromFlagOrEnv } from '../runtime/plugins/engine-choice.ts';
import type { EngineName } from '../runtime/sandbox/protocol.ts';

export interface PluginHostOptions {
  /** The plugin folder (its name is the plugin key). */
  dir: string;
  /** 0 (default): a free port on 127.0.0.1. */
  port?: number;
  /** Default sqlite::memory:. */
  storeUrl?: string;
  /** Master key and admin token folder; a temporary one (removed on close) when not given. */
  dataDir?: string;
  /** Who the store records as having approved the folder's content. */
  approvedBy: string;
  server?: Partial<ServerOptions>;
  /**
   * The engine the plugin runs on; default PAYOUT_SANDBOX_ENGINE when set, else the server's
   * default. Run a test suite once per engine to see the plugin pass on both.
   */
  engine?: EngineName;
  logger?: Logger;
  onPayoutEvent?: (e: PayoutEvent) => void;
}

export interface PluginHost {
  key: string;
  dir: string;
  host: Host;
  app: FastifyInstance;
  baseUrl: string;
  adminToken: string;
  /** The version that is running. */
  plugin: LoadedPlugin;
  /** Checks the folder again and swaps it in; throws PluginRejected (the running version stays) when it cannot be accepted. */
  reload(): Promise<LoadedPlugin>;
  grant(origin: string | { origin: string; pathPrefix?: string | null; methods?: string[] | null }): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Loads the folder with every host call refused, exactly as `payout-sandbox check` does. */
export async function checkFolder(checker: SandboxHost, dir: string, apiUrl: string, engine?: EngineName): Promise<LoadedPlugin> {
  return loadPlugin(checker, dir, { apiUrl, engine });
}

// The store refuses a folder whose files differ from the approved ones (install/approval.ts). Here
// the author is editing their own folder, so what just passed the check is what gets approved.
async function approveChecked(host: Host, checked: LoadedPlugin, actor: string): Promise<void> {
  const hash = hashFolder(checked.dir);
  const record = await host.store.getPluginRecord(checked.key);
  if (record && record.current.contentHash === hash) return;
  const current = folderVersion(checked, hash, 'approved-folder', actor, new Date().toISOString(), record?.current ?? null);
  await host.store.putPluginRecord({ key: checked.key, revision: record?.revision ?? 0, current, previous: record?.previous ?? [], pending: null });
}

export async function openPluginHost(o: PluginHostOptions): Promise<PluginHost> {
  const dir = path.resolve(o.dir);
  const key = path.basename(dir);
  const tempData = o.dataDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'ps-plugin-host-'));
  const dataDir = path.resolve(o.dataDir ?? (tempData as string));
  const port = o.port ? o.port : await freePort();
  const adminToken = crypto.randomBytes(24).toString('base64url');
  const engine = o.engine ?? o.server?.engine ?? engineFromFlagOrEnv(undefined);
  const options = defaultServerOptions({
    port, host: '127.0.0.1', dataDir, dbUrl: o.storeUrl ?? 'sqlite::memory:', adminToken,
    pluginsDir: path.dirname(dir), publicUrl: `http://127.0.0.1:${port}/`, allowLoopbackGrants: true,
    orderCreateRatePerMinute: 100_000, webhookRatePerMinute: 100_000,
    ...o.server,
    ...(engine ? { engine } : {}),
  });
  const logger = o.logger ?? pino({ level: 'silent' });
  const host = await createHost(options, { logger, onPayoutEvent: o.onPayoutEvent });
  // Reloads are checked in a sandbox of their own, so a folder that fails never touches the
  // running version. The first load has nothing to protect and is checked in the host's sandbox
  // (one sandbox process less to start); the checker starts only when a reload needs it.
  let checker: SandboxHost | null = null;
  let app: FastifyInstance | null = null;
  const cleanup = async () => {
    if (app) {
      // Fastify closes the keep-alive connections that are idle when close() starts; one that was
      // busy then (a provider's webhook) would hold the server open for its 72 s keep-alive.
      const server = app.server;
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      try { await app.close(); } finally { clearInterval(sweep); }
    }
    await host.close();
    await checker?.close();
    if (tempData) fs.rmSync(tempData, { recursive: true, force: true });
  };
  try {
    await host.sandbox.start();
    let running: LoadedPlugin | null = null;
    const reload = async (): Promise<LoadedPlugin> => {
      let checked: LoadedPlugin;
      if (running) {
        checker ??= new SandboxHost({ handler: denyAllHandler([]), engine: options.engine });
        checked = await checkFolder(checker, dir, options.publicUrl, options.engine);
        await checker.unregister(key);
      } else {
        checked = await checkFolder(host.sandbox, dir, options.publicUrl, options.engine);
      }
      await approveChecked(host, checked, o.approvedBy);
      const entry = await host.registry.load(dir);
      if (entry.status !== 'active' || !entry.plugin) {
        throw new PluginRejected(entry.error?.code ?? 'load_failed', entry.error?.message ?? 'the plugin could not be loaded');
      }
      running = entry.plugin;
      return entry.plugin;
    };
    await reload();
    host.ipn.start();
    app = await buildApp(host);
    await app.listen({ port, host: '127.0.0.1' });
    const handle: PluginHost = {
      key, dir, host, app, adminToken, baseUrl: `http://127.0.0.1:${port}`,
      get plugin() { return running as LoadedPlugin; },
      reload,
      async grant(spec) {
        const g = typeof spec === 'string' ? originGrant(spec) : { origin: originGrant(spec.origin).origin, pathPrefix: spec.pathPrefix ?? null, methods: spec.methods ?? null };
        await host.store.upsertGrant({ plugin: key, origin: g.origin, pathPrefix: g.pathPrefix, methods: g.methods, requested: false, approved: true, approvedBy: o.approvedBy, approvedAt: new Date().toISOString() });
      },
      close: cleanup,
    };
    return handle;
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
}

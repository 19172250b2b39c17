// `payout-sandbox start`: a payout host on Fastify with the defaults of design.md §8, graceful
// shutdown on SIGINT/SIGTERM. `--demo` (what `npm start` runs) adds the demo's fake peers through a
// StartCompanion the CLI hands in (runtime/demo/demo-start.ts): start's core path knows no demo.
import path from 'node:path';
import { resolveStoreUrl } from '../store/open-store.ts';
import { createHost } from './host.ts';
import type { Host, HostExtras } from './host.ts';
import { buildApp } from './app.ts';
import { defaultServerOptions, DEFAULT_PORT } from './options.ts';
import type { ServerOptions } from './options.ts';
import { resolveAdminToken } from './admin-token.ts';
import { crashHookFromEnv } from '../testing-seams/crash-hook.ts';
import { parseOptionsJson } from './options-schema.ts';
import { ensurePortFree } from './port-check.ts';
import { isLoopbackOrigin } from './routes/admin-plugins.ts';

export interface StartFlags {
  port?: string;
  host?: string;
  plugins?: string;
  data?: string;
  db?: string;
  publicUrl?: string;
  demo?: boolean;
  ipnRetries?: string;
  requireApproval?: boolean;
  trustProxy?: string;
  npmRegistry?: string;
}

/**
 * Something run beside the host for `start` (the demo's fake provider and merchant), handed in by
 * the CLI so that the server does not import the layer above it (design.md §2).
 */
export interface StartCompanion {
  /** Once every check has passed, before the host is made: starts its parts, returns the options they need. */
  prepare(dataDir: string): Promise<Partial<ServerOptions>>;
  /** Once the host has started. */
  wire(host: Host): Promise<void>;
  /** Lines for the end of the banner; `base` is the public URL without its trailing slash. */
  banner(base: string): string[];
  /** Stops what prepare and wire started, if anything; called on shutdown and whenever start fails. */
  close(): Promise<void>;
}

function ipnAttempts(retries: string | undefined): number {
  if (retries === undefined) return 1;
  const n = /^\d{1,3}$/.test(retries) ? Number(retries) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new Error(`--ipn-retries ${retries}: give a whole number of retries from 0 to 100`);
  return n + 1;
}

function port(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n > 65535) throw new Error(`--port ${value}: give a port number from 0 to 65535`);
  return n;
}

/**
 * Everything an operator can get wrong is checked before anything starts (no plugin loaded, no
 * cron run, no demo peer): flags, PAYOUT_SANDBOX_OPTIONS (design.md §8), the admin token, and
 * whether the port is free. Each failure is one line on stderr and exit code 1.
 */
export async function runStart(flags: StartFlags, companion?: StartCompanion): Promise<void> {
  let host: Host | null = null;
  try {
    const listenPort = port(flags.port);
    const listenHost = flags.host ?? '127.0.0.1';
    const ipnMaxAttempts = ipnAttempts(flags.ipnRetries);
    const tuned = parseOptionsJson(process.env.PAYOUT_SANDBOX_OPTIONS);
    const dataDir = path.resolve(flags.data ?? './data');
    const admin = resolveAdminToken(dataDir);
    await ensurePortFree(listenPort, listenHost);
    const companionOptions = companion ? await companion.prepare(dataDir) : {};
    const options: ServerOptions = defaultServerOptions({
      port: listenPort, host: listenHost, dataDir, adminToken: admin.token, demo: Boolean(flags.demo),
      pluginsDir: path.resolve(flags.plugins ?? './plugins'),
      dbUrl: resolveStoreUrl(flags.db, { ...process.env, PAYOUT_SANDBOX_DB: process.env.PAYOUT_SANDBOX_DB ?? `sqlite:${path.join(dataDir, 'payout-sandbox.db')}` }),
      publicUrl: flags.publicUrl ?? `http://${listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost}:${listenPort}/`,
      ipnMaxAttempts,
      requireApproval: Boolean(flags.requireApproval),
      ...(flags.npmRegistry ? { npmRegistry: flags.npmRegistry } : {}),
      trustProxy: flags.trustProxy === undefined ? false : flags.trustProxy === 'true' ? true : flags.trustProxy,
      metricsToken: process.env.PAYOUT_SANDBOX_METRICS_TOKEN ?? '',
      ...companionOptions,
      ...tuned,
    });
    const extras: HostExtras = { crash: crashHookFromEnv(process.env) };
    host = await createHost(options, extras);
    await host.start();
    await companion?.wire(host);
    const app = await buildApp(host);
    await app.listen({ port: listenPort, host: listenHost });
    printBanner(host, admin, companion ?? null, await loopbackGrantWarnings(host));
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      host?.logger.info({ signal }, 'shutting down');
      await app.close();
      await companion?.close();
      await host?.close();
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (err) {
    await companion?.close();
    await host?.close().catch(() => {});
    process.stderr.write(`payout-sandbox start: ${(err as Error).message}\n`);
    if (process.argv.includes('--debug')) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    process.exitCode = 1;
  }
}

/**
 * Grants for loopback origins kept from a run that allowed them (a demo, a rehearsal): this host
 * refuses every request there, and a payout would end UNKNOWN, then on hold. Said at start.
 */
async function loopbackGrantWarnings(host: Host): Promise<string[]> {
  if (host.options.allowLoopbackGrants) return [];
  const out: string[] = [];
  for (const p of host.registry.list()) {
    for (const g of await host.store.listGrants(p.key)) {
      if (!g.approved || !isLoopbackOrigin(g.origin)) continue;
      out.push(`  warning: ${p.key} is granted ${g.origin}, a loopback origin this host refuses (allowLoopbackGrants is off), so its requests there fail; revoke it (admin page, or POST /api/admin/plugins/${p.key}/grants/revoke) or, for a test double, start with PAYOUT_SANDBOX_OPTIONS='{"allowLoopbackGrants":true}'`);
    }
  }
  return out;
}

function printBanner(host: Host, admin: ReturnType<typeof resolveAdminToken>, companion: StartCompanion | null, warnings: string[] = []): void {
  const base = host.options.publicUrl.replace(/\/$/, '');
  const plugins = host.registry.list();
  const lines = [
    '',
    `payout-sandbox is listening on ${base}`,
    `  plugins: ${plugins.map((p) => `${p.key}${p.status === 'active' ? '' : ' (refused: ' + (p.error?.message ?? '') + ')'}`).join(', ') || '(none)'}`,
    `  store: ${host.options.dbUrl}`,
    `  API docs: ${base}/docs    health: ${base}/healthz    metrics: ${base}/metrics`,
    `  admin API: ${base}/api/admin/… with Authorization: Bearer <token>`,
    admin.generated
      ? `  admin token (shown once; also saved in ${admin.source}, mode 0600): ${admin.token}`
      : `  admin token: from ${admin.source}`,
    ...warnings,
  ];
  if (companion) lines.push(...companion.banner(base));
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

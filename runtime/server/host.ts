// Builds a whole payout host from ServerOptions: store, master key, scrubber, host API, sandbox,
// plugin registry, order service, payout orchestrator and sweep, IPN sender, cron scheduler.
// The HTTP layer (app.ts) only reads from this; tests and benchmarks build hosts the same way.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import { openStore } from '../store/open-store.ts';
import { claimInstanceSlot } from './instance-slot.ts';
import type { Store } from '../store/store.ts';
import { loadKeyRing } from '../secrets/master-key.ts';
import type { KeyRing } from '../secrets/master-key.ts';
import { SecretBox } from '../secrets/secret-box.ts';
import { Scrubber } from '../secrets/scrubber.ts';
import { buildHostApi, storedGrants } from '../../host-api/index.ts';
import { hostCallLimitsOf } from '../../host-api/host-call-limits.ts';
import type { HostApiParts, HostApiOptions } from '../../host-api/index.ts';
import { createIpnEgress } from '../ipn/ipn-egress.ts';
import type { IpnEgressOptions } from '../ipn/ipn-egress.ts';
import { SandboxHost } from '../sandbox/sandbox-host.ts';
import { PluginRegistry } from '../plugins/registry.ts';
import { buildIpn } from '../ipn/ipn-message.ts';
import { IpnDispatcher } from '../ipn/ipn-dispatcher.ts';
import type { IpnEvent } from '../ipn/ipn-dispatcher.ts';
import { CronScheduler } from '../cron/scheduler.ts';
import { OrderService } from '../orders/order-service.ts';
import { PayoutOrchestrator } from '../payouts/orchestrator.ts';
import { sweepPayouts } from '../payouts/payout-sweep.ts';
import { breakerAvailability } from '../payouts/deferral.ts';
import { applyWebhookUpdates } from '../payouts/sdk-reconcile.ts';
import { loggableError } from './http-errors.ts';
import type { PayoutEvent } from '../payouts/payout-steps.ts';
import { setCrashHook } from '../testing-seams/crash-hook.ts';
import type { CrashPoint } from '../testing-seams/crash-hook.ts';
import type { Order, OrderStatus } from '../store/types.ts';
import type { ServerOptions } from './options.ts';
import { countCronEvent, countHostCalls, createMetrics } from './metrics.ts';
import { RefusalDigest } from '../sandbox/refusal-digest.ts';
import type { Metrics } from './metrics.ts';
import { WebhookQuota } from '../retention/webhook-quota.ts';
import type { QuotaLimit } from '../retention/webhook-quota.ts';
import { RetentionWorker } from '../retention/retention-worker.ts';
import { resolveEngine } from '../plugins/engine-choice.ts';

export interface Host {
  options: ServerOptions;
  store: Store;
  keys: KeyRing;
  scrubber: Scrubber;
  hostApi: HostApiParts;
  sandbox: SandboxHost;
  registry: PluginRegistry;
  orders: OrderService;
  payouts: PayoutOrchestrator;
  ipn: IpnDispatcher;
  cron: CronScheduler;
  metrics: Metrics;
  logger: Logger;
  /** Per-plugin webhook inbox quota (rows, bytes) that /payout_call/ admits deliveries against. */
  webhookQuota: WebhookQuota;
  /** Deletes what outlived its retention, and audit/log rows over a plugin's quota (README "Retention and quotas"). */
  retention: RetentionWorker;
  /** A delivery the inbox quota refused: counted in /metrics, audited once per plugin per minute. */
  noteQuotaRefusal(plugin: string, limit: QuotaLimit, message: string): void;
  /** Loads plugins and starts the background workers. */
  start(): Promise<void>;
  sweepNow(): Promise<void>;
  /** Applies the payout updates an SDK plugin's webhook returned. */
  applySdkUpdates(plugin: string, updates: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export interface HostExtras {
  logger?: Logger;
  /** Egress guard injection for tests (resolver / connector) and caps. */
  http?: HostApiOptions['http'];
  /** Tests: the IPN egress's resolver, connector, caps (its policy stays ipnLoopbackOrigins). */
  ipnEgress?: IpnEgressOptions['overrides'];
  /** Crash injection for the reliability suite: called at each named point of the payout path. */
  crash?: (point: CrashPoint) => void;
  onPayoutEvent?: (e: PayoutEvent) => void;
}

/** The server's own values of the environment variables an administrator whitelisted for a plugin. */
export function whitelistedEnv(keys: string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of keys) {
    // Never the host's own secrets, whatever the whitelist says.
    if (!/^[A-Z_][A-Z0-9_]{0,63}$/.test(k) || k.startsWith('PAYOUT_SANDBOX_') || k === 'API_URL') continue;
    const v = env[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export async function createHost(given: ServerOptions, extras: HostExtras = {}): Promise<Host> {
  // A stable id per data folder slot: the restarted server takes its own leases back at start.
  const slot = given.instanceIdFromDataDir && given.dbUrl !== 'sqlite::memory:' ? claimInstanceSlot(given.dataDir) : null;
  const options: ServerOptions = slot ? { ...given, instanceId: slot.id } : given;
  const scrubber = new Scrubber();
  // Every line the server logs passes the scrubber as written: no call site can forget it.
  const logger = extras.logger ?? pino({ level: process.env.PAYOUT_SANDBOX_LOG_LEVEL ?? 'info', hooks: { streamWrite: (line) => scrubber.scrub(line) } });
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  if (options.dbUrl.startsWith('sqlite:') && options.dbUrl !== 'sqlite::memory:') {
    fs.mkdirSync(path.dirname(path.resolve(options.dbUrl.slice('sqlite:'.length))), { recursive: true });
  }
  const store = await openStore(options.dbUrl);
  const keys = loadKeyRing({ dataDir: options.dataDir });
  scrubber.add(options.adminToken, 'admin-token');
  if (options.metricsToken) scrubber.add(options.metricsToken, 'metrics-token');
  for (const key of keys.byId.values()) scrubber.add(key.toString('hex'), 'master-key');
  // The gauges read the sandbox at scrape time; it is built below.
  let sandboxRef: SandboxHost | null = null;
  const metrics = createMetrics({
    heldOrders: async (cap) => (await store.listOrders({ status: 'hold', limit: cap })).length,
    sandboxHealth: () => sandboxRef?.health() ?? { processes: [], plugins: {} },
  });
  const box = new SecretBox(keys);
  const ipnFor = (order: Order, status: OrderStatus) => buildIpn(order, status, { maxAttempts: options.ipnMaxAttempts });

  let registry: PluginRegistry;
  let payouts: PayoutOrchestrator;
  let ipn: IpnDispatcher;
  const hostApi = buildHostApi({
    store, scrubber, box,
    manifests: { manifestOf: (k) => registry.manifestOf(k) },
    capabilitySets: { capabilitySetOf: (k) => registry.capabilitySetOf(k) },
    grantsFor: storedGrants(store),
    http: {
      allowLoopbackGrants: options.allowLoopbackGrants,
      requestsPerCall: (ctx) => (ctx.method === 'cron' ? options.cronRequestsPerRun : 20),
      ...extras.http,
      caps: { maxRequestsPerMinute: options.httpRequestsPerMinute, ...extras.http?.caps },
    },
    hostCallLimits: hostCallLimitsOf(options),
    buildIpn: ipnFor,
    settleAttempt: (order, plugin) => payouts.settleFromPlugin(order, plugin),
    pluginLogMirror: (line) => logger.info({ plugin: line.plugin, callId: line.callId, level: line.level }, `plugin log: ${line.text}`),
    onInternalError: (capability, err) => logger.error({ capability, err: loggableError(err, (t) => scrubber.scrub(t)) }, 'host capability failed'),
  });
  // A plugin at its CPU budget or queue limit: one audit line per plugin per minute, however
  // many calls an outside caller makes it refuse.
  const throttled = new RefusalDigest({
    windowMs: 60_000,
    write: (plugin, count, text) => hostApi.audit.record({
      plugin, actor: 'system', callId: null, capability: 'sandbox.throttled', decision: 'denied', rule: 'plugin budget', summary: text, durationMs: 0,
    }),
  });
  // Whoever fills a plugin's inbox can make it refuse without bound: one audit line per minute, as above.
  const quotaRefused = new RefusalDigest({
    windowMs: 60_000,
    write: (plugin, _count, text) => hostApi.audit.record({
      plugin, actor: 'system', callId: null, capability: 'webhook.quota', decision: 'denied', rule: 'inbox quota', summary: text, durationMs: 0,
    }),
  });
  const webhookQuota = new WebhookQuota({
    usage: (plugin) => store.webhookUsage(plugin), maxRows: options.webhookInboxMaxRows, maxBytes: options.webhookInboxMaxBytes,
  });
  const retention = new RetentionWorker({
    store, owner: options.instanceId, intervalMs: options.retentionIntervalMs,
    policy: {
      maxAgeMs: { webhooks: options.webhookRetentionMs, audit: options.auditRetentionMs, pluginLog: options.pluginLogRetentionMs, ipnHistory: options.ipnHistoryRetentionMs },
      maxRowsPerPlugin: { audit: options.auditMaxRowsPerPlugin, pluginLog: options.pluginLogMaxRowsPerPlugin },
    },
    onRun: (report) => {
      webhookQuota.resync();
      for (const [kind, n] of Object.entries(report.expired)) if (n) metrics.retentionDeleted.inc({ kind, reason: 'age' }, n);
      for (const [kind, n] of Object.entries(report.overQuota)) if (n) metrics.retentionDeleted.inc({ kind, reason: 'quota' }, n);
      if (Object.values(report.expired).some(Boolean) || Object.values(report.overQuota).some(Boolean)) logger.info({ retention: report }, 'retention: old rows deleted');
    },
    onError: (err) => logger.error({ err: loggableError(err, (t) => scrubber.scrub(t)) }, 'retention run failed'),
  });
  countHostCalls(metrics, hostApi.audit);
  const sandbox = new SandboxHost({
    handler: hostApi.api,
    groups: options.sandboxGroups,
    limits: { rssMb: options.pluginRssMb },
    engine: options.engine,
    configSnapshotMaxAgeMs: options.configSnapshotMaxAgeMs,
    gate: {
      cpuMsPerWindow: options.pluginCpuMsPerWindow, cpuWindowMs: options.pluginCpuWindowMs,
      maxConcurrentCalls: options.pluginMaxConcurrentCalls, maxQueuedCalls: options.pluginMaxQueuedCalls,
    },
    onThrottled: (plugin, method, message) => throttled.note(plugin, `${method} refused: ${message}`),
    onCrashCharged: (plugin, kind, reason) => {
      logger.warn({ plugin, kind }, `the sandbox process of plugin '${plugin}' ended: ${reason}`);
      hostApi.audit.record({ plugin, actor: 'system', callId: null, capability: 'sandbox.crash', decision: 'error', rule: kind, summary: reason, durationMs: 0 });
    },
  });
  sandboxRef = sandbox;
  const cron = new CronScheduler({
    store, owner: options.instanceId, wallMs: options.cronWallMs, leaseTtlMs: options.cronLeaseTtlMs,
    // A cron run walks every pending tx of the plugin: it gets its own, larger CPU budget.
    invoke: (key, method, args, opts) => sandbox.invoke(key, method, args, { ...opts, cpuMs: options.cronCpuMs }),
    onEvent: (e) => {
      countCronEvent(metrics, e);
      logger.info({ cron: e }, 'cron');
    },
  });
  registry = new PluginRegistry({
    sandbox, store,
    requireApproval: options.requireApproval,
    onApprovalEvent: (e) => logger[e.kind === 'trusted_on_first_use' ? 'info' : 'warn']({ plugin: e.key, approval: e.kind }, e.message),
    load: { apiUrl: options.publicUrl.endsWith('/') ? options.publicUrl : `${options.publicUrl}/` },
    envFor: (key) => whitelistedEnv(options.pluginEnv[key] ?? [], process.env),
    // Admin page choice > pluginEngines > engine (README "Which engine to pick").
    engineFor: async (key) => {
      const engine = await resolveEngine(key, { store, engine: options.engine, pluginEngines: options.pluginEngines });
      if (engine.ignored) logger.warn({ plugin: key }, `plugin ${key}: ${engine.ignored}; running it on ${engine.name} (${engine.source} option)`);
      return engine;
    },
    onLoaded: async (plugin) => {
      // A stored secret too short to scrub is never used (config refuses it); say so at load.
      for (const line of await hostApi.config.primeScrubber([plugin.key])) logger.warn({ plugin: plugin.key }, line);
      if (plugin.cron) cron.schedule(plugin.key, plugin.cron);
      else cron.unschedule(plugin.key);
    },
    onUnloaded: (key) => { cron.unschedule(key); },
  });
  ipn = new IpnDispatcher({
    store,
    owner: options.instanceId,
    egress: createIpnEgress({ loopbackOrigins: options.ipnLoopbackOrigins, overrides: extras.ipnEgress }),
    retryBaseMs: options.ipnRetryBaseMs,
    sendTimeoutMs: options.ipnSendTimeoutMs,
    leaseMs: options.ipnSendTimeoutMs * 2 + Math.min(5_000, options.ipnSendTimeoutMs),
    onEvent: ipnEventListener({ count: (result) => metrics.ipn.inc({ result }), logger }),
  });
  const onPayoutEvent = (e: PayoutEvent) => {
    metrics.payouts.inc({ outcome: e.kind, plugin: e.plugin ?? 'unknown' });
    logger.info({ payout: e }, `payout ${e.kind}`);
    extras.onPayoutEvent?.(e);
  };
  const steps = {
    store, audit: hostApi.audit, buildIpn: ipnFor, onIpnEnqueued: () => ipn.kick(), owner: options.instanceId,
    now: () => Date.now(), onEvent: onPayoutEvent,
  };
  if (extras.crash) setCrashHook(extras.crash);
  payouts = new PayoutOrchestrator({
    ...steps,
    invoke: (key, method, args, opts) => sandbox.invoke(key, method, args, opts),
    activePlugin: (key) => registry.active(key),
    transferWallMs: options.transferWallMs,
    acceptedReviewAfterMs: options.acceptedReviewAfterMs,
    unknownReviewAfterMs: options.unknownReviewAfterMs,
    leaseMarginMs: options.payoutLeaseMarginMs,
    pluginAvailability: (key) => breakerAvailability(sandbox.breakerOf(key)),
  });
  const orders = new OrderService({
    store, sandbox, activePlugin: (key) => registry.active(key), audit: hostApi.audit, buildIpn: ipnFor,
    // Only routes with autoPayout pay out by themselves; others wait for POST …/payout.
    onEnteredPayout: async (order) => {
      if ((await store.getRoute(order.routeId))?.autoPayout) payouts.kick(order._id);
    },
    getFieldsWallMs: options.getFieldsWallMs,
    onIpnEnqueued: () => ipn.kick(), allowLoopbackOrigins: options.ipnLoopbackOrigins,
    logError: (message, err) => logger.error({ err: loggableError(err, (t) => scrubber.scrub(t)) }, message),
  });

  let sweepTimer: NodeJS.Timeout | null = null;
  let sweeping: Promise<void> | null = null;
  const sweepNow = async () => {
    if (sweeping) return sweeping;
    sweeping = (async () => {
      try {
        await sweepPayouts({
          ...steps, orchestrator: payouts, unknownReviewAfterMs: options.unknownReviewAfterMs, acceptedReviewAfterMs: options.acceptedReviewAfterMs,
          activePlugin: (key) => registry.active(key), statusPollMs: options.statusPollMs, statusWallMs: options.getFieldsWallMs * 2,
          invoke: (key, method, args, opts) => sandbox.invoke(key, method, args, opts),
          autoPayout: async (routeId) => Boolean((await store.getRoute(routeId))?.autoPayout),
        });
      } catch (err) {
        logger.error({ err: loggableError(err, (t) => scrubber.scrub(t)) }, 'payout sweep failed');
      }
    })().finally(() => { sweeping = null; });
    return sweeping;
  };

  return {
    options, store, keys, scrubber, hostApi, sandbox, registry, orders, payouts, ipn, cron, metrics, logger, sweepNow,
    webhookQuota, retention,
    noteQuotaRefusal(plugin, limit, message) {
      metrics.webhookQuotaRefusals.inc({ plugin, limit });
      quotaRefused.note(plugin, `webhook refused, not stored: ${message}`);
    },
    applySdkUpdates: (plugin, updates) => applyWebhookUpdates(steps, plugin, updates.filter((u): u is { reference: string; status: string; amount?: string } =>
      Boolean(u && typeof (u as { reference?: unknown }).reference === 'string' && typeof (u as { status?: unknown }).status === 'string'))),
    async start() {
      // Before anything claims work: leases left by this instance's previous life end now.
      const reclaimed = await store.reclaimLeasesOf(options.instanceId);
      if (reclaimed.ipns || reclaimed.attempts || reclaimed.named) {
        logger.info({ instance: options.instanceId, reclaimed }, 'leases of this instance\'s previous run taken back');
      }
      await sandbox.start();
      const entries = await registry.loadAll(options.pluginsDir);
      for (const e of entries) {
        if (e.status === 'active') logger.info({ plugin: e.key }, 'plugin loaded');
        else logger.warn({ plugin: e.key, error: e.error }, 'plugin refused');
      }
      ipn.start();
      await sweepNow();
      sweepTimer = setInterval(() => void sweepNow(), options.sweepIntervalMs);
      sweepTimer.unref();
      retention.start();
    },
    async close() {
      if (sweepTimer) clearInterval(sweepTimer);
      await sweeping;
      await retention.stop();
      // A transfer() cut off by the shutdown would become UNKNOWN and need a person: let it finish.
      await payouts.drain();
      await cron.stop();
      await ipn.stop();
      throttled.flush();
      quotaRefused.flush();
      await hostApi.audit.flush({ final: true });
      await hostApi.pluginLog.flush();
      await sandbox.close();
      await store.close();
      slot?.release();
    },
  };
}

/**
 * What the host does with an IPN dispatcher event: count it, and log a store fault with its error
 * (a fault stalls merchant notifications, and a counter alone says neither which nor why).
 */
export function ipnEventListener(deps: { count: (result: string) => void; logger: Pick<Logger, 'error'> }): (e: IpnEvent) => void {
  return (e) => {
    deps.count(String((e as { kind?: string }).kind ?? 'event'));
    if (e.kind === 'error') deps.logger.error({ err: loggableError(e.cause), ipn: { stage: e.stage, id: e.id } }, `IPN ${e.stage} failed in the store: ${e.error}`);
  };
}

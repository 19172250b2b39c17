// Everything a server can be told, with the defaults of design.md §8. One place, so `start`, the
// demo, the tests and the benchmarks build servers the same way.
import { DEFAULT_HOST_CALL_LIMITS } from '../../host-api/host-call-limits.ts';
import type { HostCallLimits } from '../../host-api/host-call-limits.ts';
import { DEFAULT_ENGINE } from '../sandbox/protocol.ts';
import type { EngineName } from '../sandbox/protocol.ts';

/** The host-call caps (hostCallsPerCall, …) are fields too: HostCallLimits documents each. */
export interface ServerOptions extends HostCallLimits {
  port: number;
  host: string;
  /** Fastify trustProxy: false, true, or the proxy's address/CIDR list (comma-separated). */
  trustProxy: boolean | string;
  /** Where plugin folders live (each sub-folder is one plugin, its name the key). */
  pluginsDir: string;
  /** SQLite file, master key file. */
  dataDir: string;
  /** Store URL: sqlite:<file>, sqlite::memory:, mongodb://… */
  dbUrl: string;
  adminToken: string;
  /** The host's public base URL; plugins see it as process.env.API_URL (with a trailing '/'). */
  publicUrl: string;
  /**
   * process.env keys each plugin may see besides API_URL, e.g. {"nimbuspay": ["NIMBUS_REGION"]}:
   * the values are the server's own environment variables of those names, read at load.
   */
  pluginEnv: Record<string, string[]>;
  /** npm registry that admin-page installs fetch from (a private registry for deploy tokens). */
  npmRegistry: string;
  /** Origins besides npmRegistry's own that a package's dist.tarball may point at (a registry's CDN). */
  npmTarballOrigins: string[];
  /** npmRegistry / npmTarballOrigins may be loopback origins (tests, a mirror on this host). Off in production. */
  npmAllowLoopback: boolean;
  /** npmRegistry / npmTarballOrigins may resolve to private-network addresses (an internal mirror, https). Off by default. */
  npmAllowPrivateNetwork: boolean;
  /** Refuse plugin folders with no approval record instead of trusting them on first use. */
  requireApproval: boolean;
  /** Start a fake provider and a fake merchant on loopback and wire them in. */
  demo: boolean;
  /** An id for this server instance (leases, attempt owners). */
  instanceId: string;

  /**
   * Every plugin runs in a sandbox process of its own (design.md §5). Plugins a host trusts
   * together may share one: {"groupName": ["pluginA", "pluginB"]}. They then share memory, CPU
   * and crashes; use it only for plugins from one trusted author.
   */
  sandboxGroups: Record<string, string[]>;
  /**
   * The engine every plugin runs on unless told otherwise (design.md §5): 'isolated-vm' (V8
   * isolates, the default) or 'quickjs' (QuickJS compiled to WebAssembly). README "Which engine to pick".
   */
  engine: EngineName;
  /**
   * Per-plugin engine, e.g. {"nimbuspay": "quickjs"}; it outranks `engine`. An engine the
   * administrator chose on the admin page outranks both.
   */
  pluginEngines: Record<string, EngineName>;
  /** CPU (all threads of its process) a plugin may use in any window of pluginCpuWindowMs. */
  pluginCpuMsPerWindow: number;
  pluginCpuWindowMs: number;
  /** Calls of one plugin running at once, and waiting behind them; more are refused (webhooks: 429). */
  pluginMaxConcurrentCalls: number;
  pluginMaxQueuedCalls: number;
  /** Resident memory of a plugin's sandbox process; over it the process is killed and the plugin paused. */
  pluginRssMb: number;
  /**
   * Shown config values a plugin's sandbox process answers from are read again from the store
   * when older than this (design.md §5): writes through this server reach the next call at once,
   * a write by another server sharing the store within this. 0: read before every call.
   */
  configSnapshotMaxAgeMs: number;
  /** Wall-clock deadlines, per kind of plugin call. */
  transferWallMs: number;
  callbackWallMs: number;
  cronWallMs: number;
  /** CPU a cron run may use inside the isolate (a sweep costs ~0.6 ms per pending tx). */
  cronCpuMs: number;
  getFieldsWallMs: number;

  /** Plugins may be granted loopback origins (local fake providers). Off in production. */
  allowLoopbackGrants: boolean;
  /** Merchant IPN: loopback origins that may receive IPNs (demo and tests only). */
  ipnLoopbackOrigins: string[];
  /** 1 = send once, as the merchant API documents; more opts in to retries with backoff. */
  ipnMaxAttempts: number;
  ipnRetryBaseMs: number;
  /** How long one IPN send may take; a claim whose worker died is re-sent after twice that plus 5 s. */
  ipnSendTimeoutMs: number;

  webhookBodyLimitBytes: number;
  webhookRatePerMinute: number;
  /**
   * How long a webhook delivery may wait for its plugin's turn (the queue behind
   * pluginMaxConcurrentCalls, a reload) before it is answered 429 with Retry-After, nothing run.
   * The wait never shortens callbackWallMs, which counts from when the plugin runs: keep the two
   * together under the providers' own timeout.
   */
  webhookQueueWaitMs: number;
  orderCreateRatePerMinute: number;

  /** An ACCEPTED payout not finalised by then goes to NEEDS_REVIEW (order hold). */
  acceptedReviewAfterMs: number;
  /** An UNKNOWN payout not reconciled by then goes to NEEDS_REVIEW (order hold). */
  unknownReviewAfterMs: number;
  /** How often the payout sweep (recovery, reconciliation, deadlines) runs. */
  sweepIntervalMs: number;
  /** How often an SDK plugin's `status` handler is asked about one open payout. */
  statusPollMs: number;
  /** A payout attempt's lease is twice the transfer deadline plus this margin. */
  payoutLeaseMarginMs: number;
  /** Outbound requests a plugin may make per minute, and per cron run (other calls: 20). */
  httpRequestsPerMinute: number;
  cronRequestsPerRun: number;

  // ---- Retention, quotas and /metrics access (runtime/retention/; README "Retention and quotas") ----
  /** Webhook inbox rows older than this are deleted (7 days). 0 keeps them forever. */
  webhookRetentionMs: number;
  /** Audit records older than this are deleted (90 days). 0 keeps them forever. */
  auditRetentionMs: number;
  /** Plugin log lines older than this are deleted (14 days). 0 keeps them forever. */
  pluginLogRetentionMs: number;
  /** IPN messages that were sent or failed for good, after this long (90 days); pending ones are never deleted. 0 keeps them. */
  ipnHistoryRetentionMs: number;
  /**
   * Per plugin, what its webhook inbox may hold: deliveries beyond the row count are answered 429,
   * beyond the bytes (body + headers + query) 413, and neither stored nor run. Space comes back as
   * retention deletes old rows.
   */
  webhookInboxMaxRows: number;
  webhookInboxMaxBytes: number;
  /** Per plugin, audit records and log lines kept; the retention worker deletes a plugin's oldest beyond these. */
  auditMaxRowsPerPlugin: number;
  pluginLogMaxRowsPerPlugin: number;
  /** How often the retention worker runs (one server at a time, under a named lease). */
  retentionIntervalMs: number;
  /**
   * Bearer token for /metrics (env PAYOUT_SANDBOX_METRICS_TOKEN). Empty: /metrics answers anyone, with
   * the per-plugin series summed so no plugin is named, and the server warns at start. Set: a caller
   * must present it (or the admin token) and then sees the per-plugin series.
   */
  metricsToken: string;

  // ---- Reliability: instance identity and lease times (README "Reliability guarantees") ----
  /**
   * Take a numbered instance slot in dataDir at start and use it as instanceId (not for an in-memory
   * store), so a restarted server recognises its own leases and takes them back at once. false: use
   * instanceId as given; then two live servers must never be given the same one.
   */
  instanceIdFromDataDir: boolean;
  /** A cron job's lease without renewal (renewed every third of it while the job runs): a dead holder frees the job within this. */
  cronLeaseTtlMs: number;
}

export const DEFAULT_PORT = 3000;
const DAY_MS = 24 * 3600_000;

export function defaultServerOptions(overrides: Partial<ServerOptions> = {}): ServerOptions {
  const port = overrides.port ?? DEFAULT_PORT;
  return {
    port,
    host: '127.0.0.1',
    trustProxy: false,
    pluginsDir: './plugins',
    dataDir: './data',
    dbUrl: 'sqlite:./data/payout-sandbox.db',
    adminToken: '',
    publicUrl: `http://127.0.0.1:${port}/`,
    demo: false,
    requireApproval: false,
    npmRegistry: 'https://registry.npmjs.org',
    npmTarballOrigins: [],
    npmAllowLoopback: false,
    npmAllowPrivateNetwork: false,
    pluginEnv: {},
    instanceId: `ps-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    sandboxGroups: {},
    engine: DEFAULT_ENGINE,
    pluginEngines: {},
    pluginCpuMsPerWindow: 5_000,
    pluginCpuWindowMs: 10_000,
    pluginMaxConcurrentCalls: 8,
    pluginMaxQueuedCalls: 32,
    pluginRssMb: 256,
    configSnapshotMaxAgeMs: 1_000,
    transferWallMs: 60_000,
    callbackWallMs: 10_000,
    cronWallMs: 120_000,
    cronCpuMs: 30_000,
    getFieldsWallMs: 5_000,
    allowLoopbackGrants: false,
    ipnLoopbackOrigins: [],
    ipnMaxAttempts: 1,
    ipnRetryBaseMs: 5_000,
    ipnSendTimeoutMs: 10_000,
    webhookBodyLimitBytes: 256 * 1024,
    webhookRatePerMinute: 600,
    webhookQueueWaitMs: 5_000,
    orderCreateRatePerMinute: 60,
    acceptedReviewAfterMs: 24 * 60 * 60 * 1000,
    // 5 min, not more: an UNKNOWN payout has no tx, so a plugin's cron cannot find it; what settles
    // it is the provider's callback (seconds; common retry schedules make their first retries
    // within minutes) or an SDK plugin's `status` (asked every statusPollMs: ~30 times by then).
    // Past that, waiting longer only keeps a person from a payout that is stuck; the hold shows
    // whether a request left and what the provider answered, and a late answer is still kept.
    unknownReviewAfterMs: 5 * 60 * 1000,
    sweepIntervalMs: 5_000,
    statusPollMs: 10_000,
    payoutLeaseMarginMs: 30_000,
    httpRequestsPerMinute: 1200,
    cronRequestsPerRun: 10_000,
    ...DEFAULT_HOST_CALL_LIMITS,
    webhookRetentionMs: 7 * DAY_MS,
    auditRetentionMs: 90 * DAY_MS,
    pluginLogRetentionMs: 14 * DAY_MS,
    ipnHistoryRetentionMs: 90 * DAY_MS,
    webhookInboxMaxRows: 100_000,
    webhookInboxMaxBytes: 256 * 1024 * 1024,
    auditMaxRowsPerPlugin: 1_000_000,
    pluginLogMaxRowsPerPlugin: 100_000,
    retentionIntervalMs: 10 * 60_000,
    metricsToken: '',
    instanceIdFromDataDir: true,
    cronLeaseTtlMs: 15_000,
    ...overrides,
  };
}

// Prometheus metrics (/metrics). A registry per server so tests and several servers in one
// process do not share counters. Counters are fed by the host's events (payouts, IPN, webhooks,
// cron runs, host calls); the gauges are read at scrape time from the live state (held orders, the
// sandbox's per-plugin breakers, queues and process restarts), so they are never stale.
// Label sets: `plugin` is the only label that names a plugin, and anonymousMetrics() removes exactly that
// label (and sums) for a scrape without the metrics token; README "Metrics and alerts" lists every series.
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  payouts: client.Counter<'outcome' | 'plugin'>;
  hostCalls: client.Counter<'capability' | 'decision'>;
  webhooks: client.Counter<'plugin' | 'status'>;
  ipn: client.Counter<'result'>;
  cronRuns: client.Counter<'plugin' | 'result'>;
  httpRequests: client.Histogram<'route' | 'method' | 'status'>;
  webhookQuotaRefusals: client.Counter<'plugin' | 'limit'>;
  retentionDeleted: client.Counter<'kind' | 'reason'>;
}

/**
 * The metrics as an unauthenticated caller may see them: every series that names a plugin is summed
 * over its plugins (a counter by status stays, which plugin it was does not). prom-client's
 * aggregate() sums values whose remaining labels are equal.
 */
export async function anonymousMetrics(registry: client.Registry): Promise<string> {
  const metrics = await registry.getMetricsAsJSON();
  const stripped = metrics.map((m) => ({
    ...m,
    values: m.values.map((v) => {
      if (!('plugin' in v.labels)) return v;
      const { plugin: _plugin, ...labels } = v.labels;
      return { ...v, labels };
    }),
  }));
  return client.AggregatorRegistry.aggregate([stripped as client.MetricObjectWithValues<client.MetricValue<string>>[]]).metrics();
}

/** What the scrape-time gauges read; every part optional, so a test can build metrics alone. */
export interface LiveState {
  /** Orders on hold, counted up to `cap`. */
  heldOrders?: (cap: number) => Promise<number>;
  sandboxHealth?: () => {
    processes: { restarts: number }[];
    plugins: Record<string, { state: string; runningCalls?: number; queuedCalls?: number; engine?: string }>;
  };
}

/** Held orders are counted up to this many per scrape: an alert needs "some", not an exact census. */
export const HELD_ORDERS_CAP = 1000;

export function createMetrics(live: LiveState = {}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'payout_sandbox_' });
  const health = () => live.sandboxHealth?.() ?? { processes: [], plugins: {} };
  new client.Gauge({
    name: 'payout_sandbox_orders_held', help: `Orders on hold, waiting for an administrator (counted up to ${HELD_ORDERS_CAP})`, registers: [registry],
    async collect() { this.set(live.heldOrders ? await live.heldOrders(HELD_ORDERS_CAP) : 0); },
  });
  new client.Gauge({
    name: 'payout_sandbox_plugins_paused', help: 'Plugins whose circuit breaker is open or half-open (calls refused after repeated faults)', registers: [registry],
    collect() { this.set(Object.values(health().plugins).filter((p) => p.state !== 'closed').length); },
  });
  new client.Gauge({
    name: 'payout_sandbox_plugin_paused', help: '1 while the plugin\'s circuit breaker is open or half-open', labelNames: ['plugin'], registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, h] of Object.entries(health().plugins)) this.set({ plugin }, h.state === 'closed' ? 0 : 1);
    },
  });
  new client.Gauge({
    name: 'payout_sandbox_plugin_calls_queued', help: 'Calls of the plugin waiting for a free slot (queue depth)', labelNames: ['plugin'], registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, h] of Object.entries(health().plugins)) this.set({ plugin }, h.queuedCalls ?? 0);
    },
  });
  new client.Gauge({
    name: 'payout_sandbox_plugin_calls_running', help: 'Calls of the plugin running now', labelNames: ['plugin'], registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, h] of Object.entries(health().plugins)) this.set({ plugin }, h.runningCalls ?? 0);
    },
  });
  new client.Gauge({
    // Anonymous scrapes sum this over plugins: the number of plugins on each engine.
    name: 'payout_sandbox_plugin_engine', help: '1 for the engine the plugin runs on (isolated-vm or quickjs)', labelNames: ['plugin', 'engine'], registers: [registry],
    collect() {
      this.reset();
      for (const [plugin, h] of Object.entries(health().plugins)) if (h.engine) this.set({ plugin, engine: h.engine }, 1);
    },
  });
  new client.Gauge({
    name: 'payout_sandbox_sandbox_restarts', help: 'Sandbox process restarts since the server started (crashes, memory or deadline kills), all processes', registers: [registry],
    collect() { this.set(health().processes.reduce((n, p) => n + p.restarts, 0)); },
  });
  return {
    registry,
    payouts: new client.Counter({ name: 'payout_sandbox_payouts_total', help: 'Payout attempt outcomes', labelNames: ['outcome', 'plugin'], registers: [registry] }),
    hostCalls: new client.Counter({ name: 'payout_sandbox_host_calls_total', help: 'Host calls by capability and policy decision', labelNames: ['capability', 'decision'], registers: [registry] }),
    webhooks: new client.Counter({ name: 'payout_sandbox_webhooks_total', help: 'Plugin callback deliveries by response status', labelNames: ['plugin', 'status'], registers: [registry] }),
    ipn: new client.Counter({ name: 'payout_sandbox_ipn_total', help: 'Merchant IPN deliveries by result', labelNames: ['result'], registers: [registry] }),
    cronRuns: new client.Counter({ name: 'payout_sandbox_cron_runs_total', help: 'Plugin cron runs by result (ok, failed, skipped)', labelNames: ['plugin', 'result'], registers: [registry] }),
    webhookQuotaRefusals: new client.Counter({ name: 'payout_sandbox_webhook_quota_refusals_total', help: 'Webhook deliveries refused, not stored, because the plugin\'s inbox was full', labelNames: ['plugin', 'limit'], registers: [registry] }),
    retentionDeleted: new client.Counter({ name: 'payout_sandbox_retention_deleted_total', help: 'Rows the retention worker deleted, by kind and reason (age or quota)', labelNames: ['kind', 'reason'], registers: [registry] }),
    httpRequests: new client.Histogram({
      name: 'payout_sandbox_http_request_seconds', help: 'HTTP request duration', labelNames: ['route', 'method', 'status'], registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    }),
  };
}

/** Counts a cron event: a run as ok / failed, a skip as skipped (start and invalid are not runs). */
export function countCronEvent(metrics: Metrics, e: { kind: string; key: string; ok?: boolean }): void {
  if (e.kind === 'run') metrics.cronRuns.inc({ plugin: e.key, result: e.ok ? 'ok' : 'failed' });
  else if (e.kind === 'skip') metrics.cronRuns.inc({ plugin: e.key, result: 'skipped' });
}

/**
 * Counts host calls as the dispatcher audits them (one record per plugin call of a capability,
 * actor `plugin:<key>`), by wrapping the audit log's record(): the one door every host call's
 * record goes through, so no call is counted twice or missed.
 */
export function countHostCalls(metrics: Metrics, audit: { record(r: { actor: string; capability: string; decision: string }): void }): void {
  const record = audit.record.bind(audit);
  audit.record = (r) => {
    if (typeof r.actor === 'string' && r.actor.startsWith('plugin:')) metrics.hostCalls.inc({ capability: r.capability, decision: r.decision });
    record(r as never);
  };
}

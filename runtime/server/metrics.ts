// Prometheus metrics (/metrics). A registry per server so tests and several servers in one
// process do not share counters. A series about one plugin names it in a label called `plugin`, and
// only that way: anonymousMetrics() removes exactly that label for callers without the metrics token.
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

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'payout_sandbox_' });
  return {
    registry,
    payouts: new client.Counter({ name: 'payout_sandbox_payouts_total', help: 'Payout attempt outcomes', labelNames: ['outcome', 'plugin'], registers: [registry] }),
    hostCalls: new client.Counter({ name: 'payout_sandbox_host_calls_total', help: 'Host calls by capability and policy decision', labelNames: ['capability', 'decision'], registers: [registry] }),
    webhooks: new client.Counter({ name: 'payout_sandbox_webhooks_total', help: 'Plugin callback deliveries by response status', labelNames: ['plugin', 'status'], registers: [registry] }),
    ipn: new client.Counter({ name: 'payout_sandbox_ipn_total', help: 'Merchant IPN deliveries by result', labelNames: ['result'], registers: [registry] }),
    cronRuns: new client.Counter({ name: 'payout_sandbox_cron_runs_total', help: 'Plugin cron runs by result', labelNames: ['plugin', 'result'], registers: [registry] }),
    webhookQuotaRefusals: new client.Counter({ name: 'payout_sandbox_webhook_quota_refusals_total', help: 'Webhook deliveries refused, not stored, because the plugin\'s inbox was full', labelNames: ['plugin', 'limit'], registers: [registry] }),
    retentionDeleted: new client.Counter({ name: 'payout_sandbox_retention_deleted_total', help: 'Rows the retention worker deleted, by kind and reason (age or quota)', labelNames: ['kind', 'reason'], registers: [registry] }),
    httpRequests: new client.Histogram({
      name: 'payout_sandbox_http_request_seconds', help: 'HTTP request duration', labelNames: ['route', 'method', 'status'], registers: [registry],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    }),
  };
}

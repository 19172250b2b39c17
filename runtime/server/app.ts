// The HTTP surface of a host (design.md §7): merchant API and pages, plugin callbacks, the admin
// API (bearer token), /healthz, /metrics and /docs. Route modules register themselves; this file
// only wires them, sets the error format, and keeps secrets out of responses and request logs.
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import type { Host } from './host.ts';
import { documentAdminAuth, requireAdmin, sameToken } from './routes/admin-auth.ts';
import { errorBody, errorMessage } from '../errors.ts';
import { sendHttpError } from './http-errors.ts';
import { anonymousMetrics } from './metrics.ts';
import { adminPluginRoutes } from './routes/admin-plugins.ts';
import { adminOrderRoutes } from './routes/admin-orders.ts';
import { adminInstallRoutes } from './routes/admin-install.ts';
import { adminPageRoutes } from './routes/admin-page.ts';
import { merchantRoutes } from './routes/merchant.ts';
import { pageRoutes } from './routes/pages.ts';
import { withAbsoluteLinks } from './pages/absolute-links.ts';
import { payoutCallRoutes } from './routes/payout-call.ts';

/** Order pages carry the order secret in the path and the status lookup in the query: never log them. */
export function redactUrl(url: string): string {
  return url
    .replace(/^(\/[a-z]{2,3}\/(?:payment|order)\/\d+\/)[^/?#]+/i, '$1[redacted]')
    .replace(/([?&]secret=)[^&#]*/gi, '$1[redacted]');
}

export async function buildApp(host: Host): Promise<FastifyInstance> {
  // Typed as a plain FastifyInstance: route modules do not care which pino instance logs.
  const app = Fastify({
    loggerInstance: host.logger.child({}, {
      serializers: { req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }) },
    }),
    bodyLimit: 1024 * 1024,
    // Behind a reverse proxy, plugins must see the provider's address, not the proxy's.
    trustProxy: host.options.trustProxy,
    ajv: { customOptions: { allErrors: false } },
  }) as unknown as FastifyInstance;
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  await app.register(swagger, {
    openapi: {
      info: { title: 'payout-sandbox', version: '0.1.0', description: 'Merchant API, plugin callbacks and admin API of a payout-sandbox host' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Every route answers errors in the one shape (runtime/errors.ts); route scopes with their own
  // handler (merchant API, payout callbacks) send the same shape through the same mapping.
  app.setErrorHandler((err, request, reply) => sendHttpError(err, request, reply, { scrub: (t) => host.scrubber.scrub(t) }));
  // The answer never echoes the path: /api/admin/* answers pass the scrubber, and a path that came
  // back "[redacted:…]" would tell an anonymous caller that the guess in it is a secret.
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('ROUTE_NOT_FOUND', errorMessage('ROUTE_NOT_FOUND', { method: request.method }))));

  // Defence in depth: whatever an admin route returns passes the scrubber on its way out.
  // Not /payout_call/: a plugin's answer is already scrubbed of its own secrets where it leaves the
  // sandbox (SandboxHost), and our own messages there may echo the caller's input (the plugin key
  // in a 429). Scrubbing those against every secret would answer an outside caller's
  // question "is this string a secret?" with a [redacted:…] marker — an oracle for the admin token
  // and every plugin's credentials (SECURITY.md, "Scrubbing").
  app.addHook('onSend', async (request, _reply, payload) => {
    if (typeof payload === 'string' && request.url.startsWith('/api/admin/')) return host.scrubber.scrub(payload);
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    host.metrics.httpRequests.observe({ route: request.routeOptions.url ?? 'unmatched', method: request.method, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness and a short health summary' } }, async () => {
    const health = host.sandbox.health();
    const plugins = host.registry.list();
    return {
      ok: true,
      // Counts only: /healthz answers anyone, and process names say which plugins a host runs.
      sandboxProcesses: { total: health.processes.length, running: health.processes.filter((p) => p.pid !== null).length, restarts: health.processes.reduce((n, p) => n + p.restarts, 0) },
      plugins: { active: plugins.filter((p) => p.status === 'active').length, refused: plugins.filter((p) => p.status === 'rejected').length },
      pausedPlugins: Object.entries(health.plugins).filter(([, h]) => h.state !== 'closed').map(([k]) => k),
    };
  });
  // /metrics: per-plugin series only for a caller with the metrics token (or the admin token). A
  // separate token, because a scraper's config is no place for the admin token (which approves
  // plugins and sets their secrets). Unset, the endpoint stays open for existing scrapers but sums
  // the series over plugins, so it names none; the warning below says how to close it.
  const { metricsToken, adminToken } = host.options;
  if (!metricsToken) {
    host.logger.warn('/metrics answers anyone, with per-plugin series summed so that no plugin is named; set PAYOUT_SANDBOX_METRICS_TOKEN (metricsToken) to require a bearer token and see them per plugin');
  }
  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (per plugin with the metrics token; summed over plugins without)', security: [{ admin: [] }] } }, async (request, reply) => {
    const header = request.headers.authorization;
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const trusted = given !== '' && [metricsToken, adminToken].some((t) => t !== '' && sameToken(given, t));
    if (metricsToken && !trusted) {
      return reply.code(401).header('www-authenticate', 'Bearer').send(errorBody('METRICS_TOKEN_INVALID'));
    }
    reply.header('cache-control', 'no-store').type(host.metrics.registry.contentType);
    return trusted ? host.metrics.registry.metrics() : anonymousMetrics(host.metrics.registry);
  });

  await app.register(async (admin) => {
    admin.addHook('onRequest', requireAdmin(host.options.adminToken));
    admin.addHook('onRoute', documentAdminAuth);
    await admin.register(adminPluginRoutes, { host });
    await admin.register(adminOrderRoutes, { host });
    await admin.register(adminInstallRoutes, {
      store: host.store, registry: host.registry, pluginsDir: host.options.pluginsDir, apiUrl: host.options.publicUrl,
      requireApproval: host.options.requireApproval, npmRegistry: host.options.npmRegistry,
      installEgress: { tarballOrigins: host.options.npmTarballOrigins, allowLoopback: host.options.npmAllowLoopback, allowPrivateNetwork: host.options.npmAllowPrivateNetwork },
      audit: (capability, plugin, summary, decision) => host.hostApi.audit.record({ plugin, actor: 'admin', callId: null, capability, decision, rule: null, summary, durationMs: 0 }),
      onReloaded: (key) => host.sandbox.resetBreaker(key),
    });
  });
  await app.register(adminPageRoutes, { host });

  await app.register(merchantRoutes, { orders: withAbsoluteLinks(host.orders, host.options.publicUrl), ratePerMinute: host.options.orderCreateRatePerMinute });
  await app.register(pageRoutes, { orders: host.orders });
  await app.register(payoutCallRoutes, {
    store: host.store,
    invoke: (key, method, args, opts) => host.sandbox.invoke(key, method, args, opts),
    refusesNow: (key, what) => host.sandbox.refusesNow(key, what),
    pluginInfo: (key) => {
      const p = host.registry.active(key);
      return p ? { callbacks: p.description.callbacks } : null;
    },
    wallMs: host.options.callbackWallMs,
    queueWaitMs: host.options.webhookQueueWaitMs,
    bodyLimitBytes: host.options.webhookBodyLimitBytes,
    ratePerMinute: host.options.webhookRatePerMinute,
    onEvent: (e) => host.metrics.webhooks.inc({ plugin: e.plugin, status: String(e.status) }),
    quota: host.webhookQuota,
    onQuotaRefused: (plugin, limit, message) => host.noteQuotaRefusal(plugin, limit, message),
    onResult: async (plugin, _callback, value) => {
      const updates = (value as { updates?: unknown } | null)?.updates;
      if (host.registry.active(plugin)?.manifest.format === 'sdk' && Array.isArray(updates)) await host.applySdkUpdates(plugin, updates);
    },
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'));
  return app;
}

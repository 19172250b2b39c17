// Admin API for plugins: the platform's set-config-payout route, the plugin list and detail
// (config masked, network requested vs approved, faults), grants, reload, cron, log, icon.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Host } from '../host.ts';
import { normaliseGrant } from '../../../host-api/http.ts';
import { loopbackPin, parseTarget } from '../../../host-api/http/address-policy.ts';
import { auditReport } from '../../review/audit-report.ts';
import { HttpError } from './admin-auth.ts';
import type { PluginEntry } from '../../plugins/registry.ts';
import { ENGINES } from '../../sandbox/protocol.ts';
import { isEngineName } from '../../plugins/engine-choice.ts';
import { errorMessage } from '../../errors.ts';
import { KeyedTurns } from '../../plugins/keyed-turns.ts';

function adminAudit(host: Host, capability: string, plugin: string | null, summary: string, decision: 'allowed' | 'denied' = 'allowed', rule: string | null = null) {
  host.hostApi.audit.record({ plugin, actor: 'admin', callId: null, capability, decision, rule, summary, durationMs: 0 });
}

/**
 * Declared settings that are still empty: a secret never set, a shown key whose value (stored or
 * default) is ''. A loaded plugin with any is "not configured", not "active".
 */
async function emptySettings(host: Host, e: PluginEntry): Promise<string[]> {
  if (!e.plugin) return [];
  const view = await host.hostApi.config.view(e.key);
  return view.filter((c) => (c.secret ? !c.set : c.value === '' || c.value === null || c.value === undefined)).map((c) => c.key);
}

async function pluginSummary(host: Host, e: PluginEntry) {
  const grants = await host.store.listGrants(e.key);
  const health = host.sandbox.health().plugins[e.key];
  const approvedOrigins = grants.filter((g) => g.approved).map((g) => ({ origin: g.origin, pathPrefix: g.pathPrefix, methods: g.methods }));
  return {
    key: e.key, status: e.status, error: e.error, loadedAt: e.loadedAt,
    title: e.plugin?.manifest.title ?? e.key,
    currencies: e.plugin?.manifest.allow_XML ?? [],
    callbacks: e.plugin?.description.callbacks ?? [],
    cron: e.plugin?.cron ?? null,
    hasIcon: Boolean(e.served?.icon),
    hasTemplate: Boolean(e.plugin?.bundle.files.templates?.adminJs),
    network: {
      requested: grants.filter((g) => g.requested).map((g) => ({ origin: g.origin, approved: g.approved, methods: g.methods, pathPrefix: g.pathPrefix })),
      granted: grants.filter((g) => g.approved).map((g) => ({
        origin: g.origin, methods: g.methods, pathPrefix: g.pathPrefix, approvedBy: g.approvedBy, approvedAt: g.approvedAt,
        // A loopback grant kept from a run that allowed them (a demo, a rehearsal) that this host refuses.
        refusedByHost: !host.options.allowLoopbackGrants && isLoopbackOrigin(g.origin) ? 'loopback grants are off (allowLoopbackGrants)' : null,
      })),
      waitingApproval: grants.filter((g) => g.requested && !g.approved).map((g) => g.origin),
      /** Origins written in the plugin's code that are neither requested nor granted (requests there are refused). */
      inSourceNotGranted: e.plugin ? auditReport(e.plugin, approvedOrigins).network.ungrantedInSource.filter((o) => !grants.some((g) => g.origin === o)) : [],
    },
    emptySettings: await emptySettings(host, e),
    health: health ?? null,
    /** The engine it runs on, where that came from (admin, pluginEngines, engine), and the engines to switch to. */
    engine: e.engine ? { ...e.engine, available: ENGINES } : { name: health?.engine ?? null, source: null, ignored: null, available: ENGINES },
  };
}

function entryOr404(host: Host, key: string): PluginEntry {
  const e = host.registry.get(key);
  if (!e) throw new HttpError(404, `no plugin '${key}'; GET /api/admin/plugins lists them`, 'payoutKey');
  return e;
}

const KeyParams = Type.Object({ key: Type.String() });

export async function adminPluginRoutes(plain: FastifyInstance, opts: { host: Host }): Promise<void> {
  const { host } = opts;
  // Request data is typed by each route's schema (the same schema validates it and documents it).
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  // A plugin's engine switches one at a time: each reads the choice to go back to, and one started
  // while another's refused engine was stored took that for the choice to restore.
  const engineSwitches = new KeyedTurns();

  app.post('/api/admin/merchant-and-payout/set-config-payout', {
    schema: {
      tags: ['admin'], summary: "Set one config value of a plugin (the platform's admin route); secret keys are write-only",
      body: Type.Object({ payoutKey: Type.String({ minLength: 1 }), key: Type.String({ minLength: 1 }), value: Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]) }),
    },
  }, async (request) => {
    const { payoutKey, key, value } = request.body;
    entryOr404(host, payoutKey);
    try {
      const { secret } = await host.hostApi.config.set(payoutKey, key, value);
      adminAudit(host, 'admin.config.set', payoutKey, `${key}${secret ? ' (secret, value not recorded)' : ''}`);
      return { success: true, key, secret };
    } catch (err) {
      adminAudit(host, 'admin.config.set', payoutKey, `${key}: ${(err as Error).message}`, 'denied', 'config');
      throw new HttpError(400, host.scrubber.scrub((err as Error).message), 'key');
    }
  });

  app.get('/api/admin/plugins', { schema: { tags: ['admin'], summary: 'Plugins: status, faults, currencies, network requested vs approved' } }, async () => ({
    plugins: await Promise.all(host.registry.list().map((e) => pluginSummary(host, e))),
  }));

  app.get('/api/admin/plugins/:key', { schema: { tags: ['admin'], params: KeyParams } }, async (request) => {
    const e = entryOr404(host, request.params.key);
    const summary = await pluginSummary(host, e);
    if (!e.plugin) return summary;
    const grants = (await host.store.listGrants(e.key)).filter((g) => g.approved).map((g) => ({ origin: g.origin, pathPrefix: g.pathPrefix, methods: g.methods }));
    return {
      ...summary,
      manifest: e.plugin.manifest,
      config: await host.hostApi.config.view(e.key),
      report: auditReport(e.plugin, grants),
      cronStatus: host.cron.get(e.key) ?? null,
    };
  });

  app.get('/api/admin/plugins/:key/icon', { schema: { tags: ['admin'], params: KeyParams } }, async (request, reply) => {
    const e = entryOr404(host, request.params.key);
    // The icon as approved when the plugin was loaded, never the file on disk now (plugins/served-files.ts).
    const icon = e.served?.icon;
    if (!icon) throw new HttpError(404, `plugin '${e.key}' has no icon.png`);
    return reply.type('image/png').header('cache-control', 'no-cache').send(icon);
  });

  const grantBody = Type.Object({ origin: Type.String(), pathPrefix: Type.Optional(Type.Union([Type.String(), Type.Null()])), methods: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])) });
  app.post('/api/admin/plugins/:key/grants', {
    schema: { tags: ['admin'], summary: 'Approve (or add) a network origin for a plugin', params: KeyParams, body: grantBody },
  }, async (request) => {
    const e = entryOr404(host, request.params.key);
    const b = request.body;
    let grant;
    try {
      grant = normaliseGrant({ origin: b.origin, pathPrefix: b.pathPrefix ?? null, methods: b.methods ?? null });
    } catch (err) {
      throw new HttpError(400, (err as Error).message, 'origin');
    }
    // Refused now, not at payout time: the egress guard would refuse every request to it, and a
    // payout whose request was refused after transfer() began ends UNKNOWN, then on hold.
    if (!host.options.allowLoopbackGrants && isLoopbackOrigin(grant.origin)) {
      adminAudit(host, 'admin.grant.approve', e.key, `${grant.origin}: loopback grants are off`, 'denied', 'http.loopback');
      throw new HttpError(400, `${grant.origin} is a loopback origin, and this host does not allow loopback grants; for a provider test double on this machine start the host with PAYOUT_SANDBOX_OPTIONS='{"allowLoopbackGrants":true}' (never in production)`, 'origin');
    }
    const prior = (await host.store.listGrants(e.key)).find((g) => g.origin === grant.origin);
    const saved = await host.store.upsertGrant({
      plugin: e.key, origin: grant.origin, pathPrefix: grant.pathPrefix, methods: grant.methods, requested: prior?.requested ?? false,
      approved: true, approvedBy: 'admin', approvedAt: new Date().toISOString(),
    });
    adminAudit(host, 'admin.grant.approve', e.key, `${grant.origin}${grant.pathPrefix ?? ''} ${grant.methods?.join(',') ?? 'any method'}`);
    return { grant: saved };
  });

  app.post('/api/admin/plugins/:key/grants/revoke', {
    schema: { tags: ['admin'], summary: 'Revoke a network origin', params: KeyParams, body: Type.Object({ origin: Type.String() }) },
  }, async (request) => {
    const e = entryOr404(host, request.params.key);
    const { origin } = request.body;
    const grant = (await host.store.listGrants(e.key)).find((g) => g.origin === origin || g.origin === safeOrigin(origin));
    if (!grant) throw new HttpError(404, `plugin '${e.key}' has no grant for ${origin}`, 'origin');
    if (grant.requested) {
      const { updatedAt: _stamp, ...requested } = grant;
      await host.store.upsertGrant({ ...requested, approved: false, approvedBy: null, approvedAt: null });
    }
    else await host.store.deleteGrant(e.key, grant.origin);
    adminAudit(host, 'admin.grant.revoke', e.key, grant.origin);
    return { revoked: grant.origin };
  });

  app.post('/api/admin/plugins/:key/reload', { schema: { tags: ['admin'], params: KeyParams } }, async (request) => {
    const e = entryOr404(host, request.params.key);
    const next = await host.registry.load(e.dir);
    host.sandbox.resetBreaker(e.key);
    adminAudit(host, 'admin.plugin.reload', e.key, next.status === 'active' ? 'reloaded' : `refused: ${next.error?.message}`, next.status === 'active' ? 'allowed' : 'denied');
    return pluginSummary(host, next);
  });

  app.post('/api/admin/plugins/:key/engine', {
    schema: {
      tags: ['admin'], summary: 'Run a plugin on another engine (reloads it); null forgets the choice and the server options decide again',
      params: KeyParams, body: Type.Object({ engine: Type.Union([Type.String(), Type.Null()]) }),
    },
  }, async (request) => {
    const { key } = entryOr404(host, request.params.key);
    const { engine } = request.body;
    if (engine !== null && !isEngineName(engine)) {
      adminAudit(host, 'admin.plugin.engine', key, `${String(engine).slice(0, 40)}: no such engine`, 'denied', 'engine');
      throw new HttpError(400, errorMessage('ENGINE_UNKNOWN', { engines: ENGINES.join(', ') }), 'engine', 'ENGINE_UNKNOWN');
    }
    // The entry as it is when this switch's turn comes (the one before may have changed it).
    return engineSwitches.run(key, async () => {
      const e = entryOr404(host, key);
      const before = await host.store.getPluginEngineChoice(e.key);
      const was = e.engine?.name ?? host.sandbox.engineOf(e.key) ?? host.options.engine;
      if (engine === null) await host.store.clearPluginEngineChoice(e.key);
      else await host.store.setPluginEngineChoice({ plugin: e.key, engine, chosenBy: 'admin' });
      const next = await host.registry.load(e.dir);
      host.sandbox.resetBreaker(e.key);
      const target = next.engine?.name ?? engine ?? host.options.engine;
      if (next.status === 'active' || e.status !== 'active') {
        adminAudit(host, 'admin.plugin.engine', e.key, `${was} -> ${target}${engine === null ? ' (choice cleared, options decide)' : ''}${next.status === 'active' ? '' : `; not loaded: ${next.error?.message}`}`);
        return pluginSummary(host, next);
      }
      // It ran before and does not run on the new engine: payouts must not stop because of a switch,
      // so the previous choice comes back and the plugin is loaded as it was.
      if (before) await host.store.setPluginEngineChoice({ plugin: before.plugin, engine: before.engine, chosenBy: before.chosenBy });
      else await host.store.clearPluginEngineChoice(e.key);
      const restored = await host.registry.load(e.dir);
      const reason = host.scrubber.scrub(next.error?.message ?? 'unknown reason');
      adminAudit(host, 'admin.plugin.engine', e.key, `${was} -> ${target} refused, kept on ${was}: ${reason}`, 'denied', 'engine load');
      const kept = restored.status === 'active' ? was : `${was} (which now refuses it too: ${restored.error?.message})`;
      throw new HttpError(422, `${errorMessage('ENGINE_LOAD_FAILED', { engine: target, kept })}: ${reason}`, 'engine', 'ENGINE_LOAD_FAILED');
    });
  });

  app.post('/api/admin/plugins/:key/cron/run', { schema: { tags: ['admin'], params: KeyParams } }, async (request) => {
    const e = entryOr404(host, request.params.key);
    if (!e.plugin?.cron) throw new HttpError(409, `plugin '${e.key}' has no cron job`);
    adminAudit(host, 'admin.cron.run', e.key, 'run now');
    return { result: await host.cron.runNow(e.key) };
  });

  app.get('/api/admin/plugins/:key/log', {
    schema: { tags: ['admin'], params: KeyParams, querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), since: Type.Optional(Type.String()) }) },
  }, async (request) => {
    const e = entryOr404(host, request.params.key);
    const q = request.query;
    await host.hostApi.pluginLog.flush();
    return { lines: await host.store.queryPluginLog({ plugin: e.key, limit: q.limit ?? 200, since: q.since }) };
  });
}

/** The same test the egress guard applies to a granted origin (127/8, ::1, and localhost by name). */
export function isLoopbackOrigin(origin: string): boolean {
  const target = parseTarget(origin);
  return target.ok && loopbackPin(target.value) !== null;
}

function safeOrigin(origin: string): string {
  try {
    return normaliseGrant({ origin, pathPrefix: null, methods: null }).origin;
  } catch {
    return origin;
  }
}

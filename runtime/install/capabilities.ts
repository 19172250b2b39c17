// The capability set an administrator approves for a plugin version, and the rule that decides
// whether an update "widens" it (and therefore waits for a new approval instead of replacing the
// running version by itself). The same set is what the server serves the plugin at run time
// (host-api/capability-set.ts): a host call outside it is refused, whatever path it took.
//
// The set is derived when the plugin is bundled and checked, from what it can reach:
// - host capabilities: exactly those of the host modules it requires (host-modules.ts), and of the
//   cron context ({ db, updateHistory }) the host hands a platform plugin's initCron. A direct
//   call of the host bridge grants nothing: the names the source spells next to the bridge are
//   kept as `bridgeRequests`, shown to the reviewer, and refused at run time unless a required
//   module grants them;
// - network: the origins the manifest requests, and the config keys whose value is an origin the
//   plugin connects to ("whatever `apiUrl` holds": a key named like a URL, or whose default is one);
// - config (secret or shown), callbacks, and the cron schedule.
//
// Widened means the new version asks for something the approved one did not:
// - network: an origin not approved before; any method when the approved request listed methods,
//   or a method not listed; no path prefix, or a prefix outside the approved one; a new config key
//   that holds an origin;
// - config: a key not declared before, or a key whose visibility changed (shown ⇄ secret: becoming
//   secret asks the admin for secret material; becoming shown would display a stored secret);
// - host capabilities: one the approved version could not reach (e.g. it now requires updateHistory
//   and can settle orders), or a new direct bridge call for one no module grants; a new callback
//   (an unauthenticated endpoint); a cron where there was none, or a new schedule.
//   Modules that reach no capability (bluebird, bignumber.js) never count.
// A record approved before a field existed lacks it: everything the update has there counts as new.
// Asking for less never waits.
import { HOST_MODULES } from '../bundler/host-modules.ts';
import { configKeys } from '../manifest/manifest.ts';
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import type { PluginManifest } from '../manifest/manifest.ts';
import type { PluginDescription } from '../sandbox/protocol.ts';
import type { PluginCapabilitySet } from '../store/types.ts';

export interface Widening { network: string[]; config: string[]; capabilities: string[] }

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Capabilities the given host modules grant, sorted. */
export function moduleCapabilities(modules: readonly string[]): string[] {
  return [...new Set(modules.flatMap((m) => (HOST_MODULES[m as keyof typeof HOST_MODULES]?.capabilities ?? []) as readonly string[]))].sort();
}

/**
 * What a capability set and a version record are read from. A loaded plugin (LoadedPlugin of
 * plugins/load-plugin.ts) is one; it is declared here, from the types below this module, because
 * the registry that loads plugins approves them with this module: naming LoadedPlugin here would
 * make install and plugins import each other.
 */
export interface ReviewedPlugin {
  key: string;
  dir: string;
  bundle: PluginBundle;
  manifest: PluginManifest;
  description: PluginDescription;
  cron: { schedule: string } | null;
}

const ORIGIN_KEY_RE = /(url|uri|host|endpoint|origin|base)$/i;

/** Config keys whose value is where the plugin connects: named like a URL, or with a URL as default. */
export function configOriginKeys(p: Pick<ReviewedPlugin, 'manifest'>): string[] {
  return configKeys(p.manifest)
    .filter((k) => !k.secret && (ORIGIN_KEY_RE.test(k.key) || /^https?:\/\//i.test(String(p.manifest.default_config?.[k.key] ?? ''))))
    .map((k) => k.key).sort(byName);
}

/** What the host hands a platform plugin's initCron (`initCron({ db, updateHistory })`), required or not. */
export const CRON_CONTEXT_MODULES = ['db', 'updateHistory'] as const;

/**
 * The host modules a plugin can reach: those it requires, and the cron context when it has an
 * initCron (`hasInitCron`: known once loaded; before, whether its source names initCron).
 */
export function reachableModules(required: readonly string[], hasInitCron: boolean): string[] {
  return [...new Set([...required, ...(hasInitCron ? CRON_CONTEXT_MODULES : [])])].sort();
}

export function capabilitiesOf(p: ReviewedPlugin): PluginCapabilitySet {
  const modules = reachableModules(p.bundle.scan.hostModules.map((m) => m.module), p.bundle.files.format !== 'sdk' && p.description.methods.initCron === true);
  return {
    network: p.manifest.network
      .map((n) => ({ origin: n.origin, methods: n.methods ? [...n.methods].sort() : null, pathPrefix: n.pathPrefix }))
      .sort((a, b) => byName(a.origin, b.origin)),
    config: configKeys(p.manifest).sort((a, b) => (a.key < b.key ? -1 : 1)),
    hostModules: modules,
    capabilities: moduleCapabilities(modules),
    bridgeRequests: [...new Set(p.bundle.scan.bridge.map((b) => b.capability).filter((c): c is string => c !== null))].sort(),
    configOrigins: configOriginKeys(p),
    callbacks: [...p.description.callbacks].sort(byName),
    cron: p.cron?.schedule ?? null,
  };
}

function under(prefix: string, approved: string): boolean {
  if (prefix === approved) return true;
  const base = approved.endsWith('/') ? approved : `${approved}/`;
  return prefix.startsWith(base);
}

export function widening(approved: PluginCapabilitySet, next: PluginCapabilitySet): Widening | null {
  const network: string[] = [];
  for (const r of next.network) {
    const a = approved.network.find((x) => x.origin === r.origin);
    if (!a) { network.push(`new origin ${r.origin}`); continue; }
    if (a.methods !== null) {
      if (r.methods === null) network.push(`${r.origin}: any method (approved: ${a.methods.join(', ')})`);
      else {
        const extra = r.methods.filter((m) => !a.methods!.includes(m));
        if (extra.length) network.push(`${r.origin}: method ${extra.join(', ')} (approved: ${a.methods.join(', ')})`);
      }
    }
    if (a.pathPrefix !== null && (r.pathPrefix === null || !under(r.pathPrefix, a.pathPrefix))) {
      network.push(`${r.origin}: path ${r.pathPrefix ?? 'any'} (approved: under ${a.pathPrefix})`);
    }
  }
  const config: string[] = [];
  for (const k of next.config) {
    const a = approved.config.find((x) => x.key === k.key);
    if (!a) config.push(`new config key ${k.key}${k.secret ? ' (secret)' : ''}`);
    else if (a.secret !== k.secret) config.push(`config key ${k.key} becomes ${k.secret ? 'secret (was shown)' : 'shown (was secret): its value would be displayed'}`);
  }
  const capabilities: string[] = next.capabilities.filter((c) => !approved.capabilities.includes(c)).map((c) => {
    const via = next.hostModules.filter((m) => (HOST_MODULES[m as keyof typeof HOST_MODULES]?.capabilities as string[] | undefined)?.includes(c));
    return `${c}${via.length ? ` (via ${via.join(', ')})` : ''}`;
  });
  for (const key of next.configOrigins ?? []) {
    if (!(approved.configOrigins ?? []).includes(key)) network.push(`connects to whatever config key ${key} holds`);
  }
  const approvedBridge = new Set([...(approved.bridgeRequests ?? []), ...approved.capabilities]);
  for (const c of next.bridgeRequests ?? []) {
    if (!next.capabilities.includes(c) && !approvedBridge.has(c)) {
      capabilities.push(`${c} (called directly through the host bridge: refused at run time, no required host module grants it)`);
    }
  }
  for (const cb of next.callbacks ?? []) {
    if (!(approved.callbacks ?? []).includes(cb)) capabilities.push(`callback ${cb} (a new unauthenticated POST endpoint)`);
  }
  if (next.cron && next.cron !== approved.cron) capabilities.push(`cron ${next.cron}${approved.cron ? ` (approved: ${approved.cron})` : ' (none approved)'}`);
  return network.length || config.length || capabilities.length ? { network, config, capabilities } : null;
}

export function describeWidening(w: Widening): string[] {
  return [...w.network, ...w.config, ...w.capabilities.map((c) => (/^(callback|cron) /.test(c) ? c : `host capability ${c}`))];
}

// The capability set an administrator approves for a plugin version, and the rule that decides
// whether an update "widens" it (and therefore waits for a new approval instead of replacing the
// running version by itself).
//
// Widened means the new version asks for something the approved one did not:
// - network: an origin not approved before; any method when the approved request listed methods,
//   or a method not listed; no path prefix, or a prefix outside the approved one;
// - config: a key not declared before, or a key whose visibility changed (shown ⇄ secret: becoming
//   secret asks the admin for secret material; becoming shown would display a stored secret);
// - host capabilities: one the approved version could not reach (e.g. it now requires updateHistory
//   and can settle orders). Modules that reach no capability (bluebird, bignumber.js) never count.
// Asking for less never waits.
import { HOST_MODULES } from '../bundler/host-modules.ts';
import { configKeys } from '../manifest/manifest.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { PluginCapabilitySet } from '../store/types.ts';

export interface Widening { network: string[]; config: string[]; capabilities: string[] }

export function capabilitiesOf(p: LoadedPlugin): PluginCapabilitySet {
  const modules = [...new Set(p.bundle.scan.hostModules.map((m) => m.module))].sort();
  return {
    network: p.manifest.network
      .map((n) => ({ origin: n.origin, methods: n.methods ? [...n.methods].sort() : null, pathPrefix: n.pathPrefix }))
      .sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)),
    config: configKeys(p.manifest).sort((a, b) => (a.key < b.key ? -1 : 1)),
    hostModules: modules,
    capabilities: [...new Set(modules.flatMap((m) => HOST_MODULES[m as keyof typeof HOST_MODULES]?.capabilities ?? []))].sort(),
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
  const capabilities = next.capabilities.filter((c) => !approved.capabilities.includes(c)).map((c) => {
    const via = next.hostModules.filter((m) => (HOST_MODULES[m as keyof typeof HOST_MODULES]?.capabilities as string[] | undefined)?.includes(c));
    return `${c}${via.length ? ` (via ${via.join(', ')})` : ''}`;
  });
  return network.length || config.length || capabilities.length ? { network, config, capabilities } : null;
}

export function describeWidening(w: Widening): string[] {
  return [...w.network, ...w.config, ...w.capabilities.map((c) => `host capability ${c}`)];
}

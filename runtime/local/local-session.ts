// A complete host in one process for local runs (`call`, `audit`, the SDK test kit, the benchmarks):
// an in-memory SQLite store, an ephemeral master key, the real policed host API and a real sandbox
// process. It lives in runtime/local, below all of its users and beside the server (design.md §2).
import crypto from 'node:crypto';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { Scrubber } from '../secrets/scrubber.ts';
import { SecretBox } from '../secrets/secret-box.ts';
import { keyId } from '../secrets/master-key.ts';
import { buildHostApi } from '../../host-api/index.ts';
import type { HostApiOptions, HostApiParts } from '../../host-api/index.ts';
import type { Grant } from '../../host-api/http.ts';
import { SandboxHost } from '../sandbox/sandbox-host.ts';
import type { SandboxHostOptions } from '../sandbox/sandbox-host.ts';
import { CapabilitySets } from '../plugins/capability-sets.ts';
import { loadPlugin } from '../plugins/load-plugin.ts';
import type { LoadedPlugin } from '../plugins/load-plugin.ts';
import type { PluginManifest } from '../manifest/manifest.ts';
import { buildIpn } from '../ipn/ipn-message.ts';

export interface LocalSessionOptions {
  config?: Record<string, unknown>;
  grants?: Grant[];
  apiUrl?: string;
  storeUrl?: string;
  /** The store's clock (tests that need txs of a given age); the real time by default. */
  storeNow?: () => number;
  http?: HostApiOptions['http'];
  /** Host-call caps (the server options of the same names); the defaults otherwise. */
  hostCallLimits?: HostApiOptions['hostCallLimits'];
  sandbox?: Partial<Omit<SandboxHostOptions, 'handler'>>;
}

export interface LocalHost {
  store: Store;
  sandbox: SandboxHost;
  host: HostApiParts;
  scrubber: Scrubber;
  manifests: Map<string, PluginManifest>;
  /** What each loaded plugin is served: its bundle's required host modules (there is no approval record here). */
  capabilitySets: CapabilitySets;
  /** Loads a plugin folder and applies config values to it. */
  load(dir: string, config?: Record<string, unknown>): Promise<LoadedPlugin>;
  close(): Promise<void>;
}

export interface LocalSession extends LocalHost {
  plugin: LoadedPlugin;
}

export function originGrant(origin: string): Grant {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`--grant ${origin}: not a URL; give an origin like https://api.provider.example or http://127.0.0.1:8080`);
  }
  return { origin: `${url.protocol}//${url.host}`, pathPrefix: url.pathname && url.pathname !== '/' ? url.pathname : null, methods: null };
}

/** A host with no plugin yet; `grants` may be a per-plugin function. */
export async function openLocalHost(options: LocalSessionOptions & { grantsFor?: (plugin: string) => Promise<Grant[]> } = {}): Promise<LocalHost> {
  const store = await openStore(options.storeUrl ?? 'sqlite::memory:', options.storeNow ? { now: options.storeNow } : {});
  const key = crypto.randomBytes(32);
  const box = new SecretBox({ current: { id: keyId(key), key }, byId: new Map([[keyId(key), key]]), source: 'ephemeral' });
  const scrubber = new Scrubber();
  const manifests = new Map<string, PluginManifest>();
  const capabilitySets = new CapabilitySets();
  const grants = options.grants ?? [];
  const host = buildHostApi({
    store, scrubber, box,
    manifests: { manifestOf: (k) => manifests.get(k) },
    capabilitySets,
    grantsFor: options.grantsFor ?? (async () => grants),
    http: { allowLoopbackGrants: true, ...options.http },
    hostCallLimits: options.hostCallLimits,
    buildIpn: (order, status) => buildIpn(order, status, { maxAttempts: 1 }),
  });
  const sandbox = new SandboxHost({ ...options.sandbox, handler: host.api });
  return {
    store, sandbox, host, scrubber, manifests, capabilitySets,
    async load(dir, config) {
      const plugin = await loadPlugin(sandbox, dir, {
        apiUrl: options.apiUrl ?? 'http://127.0.0.1:3000/',
        onManifest: (k, m, bundle) => {
          manifests.set(k, m);
          capabilitySets.attach(k, bundle, null);
        },
      });
      capabilitySets.loaded(plugin.key, plugin);
      for (const [k, v] of Object.entries(config ?? {})) await host.config.set(plugin.key, k, v);
      return plugin;
    },
    async close() {
      await host.audit.flush({ final: true });
      await host.pluginLog.flush();
      await sandbox.close();
      await store.close();
    },
  };
}

export async function openLocalSession(dir: string, options: LocalSessionOptions = {}): Promise<LocalSession> {
  const local = await openLocalHost(options);
  try {
    const plugin = await local.load(dir, options.config);
    return { ...local, plugin };
  } catch (err) {
    await local.close();
    throw err;
  }
}

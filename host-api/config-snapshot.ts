// What a plugin's sandbox process may answer by itself: the plugin's non-secret config values
// (design.md §5, "Host calls answered in the sandbox process"). A config.get of a shown key costs a
// second round trip to the server for a value the administrator already chose to show; the server
// pushes these values to the plugin's sandbox process instead, and the process answers from them.
// Everything else — secrets, undeclared keys, bad arguments, a plugin without config.get in its
// approved capability set — still goes to the server, so its policy, errors and audit are as before.
// The rules, each one a test (test/host-api/config-snapshot.test.ts, test/runtime/sandbox/):
//  - only keys the manifest declares and does not mark secret (required_config 2), and only when
//    the approved capability set holds config.get; a stored value kept sealed, or any value that
//    holds a known secret, is left out (read from the server as before);
//  - a stamp (manifest, capability set, config version) tells the sandbox host when to push again:
//    every config write bumps the version and tells listeners at once (the sandbox host drops the
//    pushed values before any later call is dispatched);
//  - every local answer is audited once per plugin call and counts toward the per-call caps.
import type { ConfigScalar } from '../runtime/manifest/manifest.ts';
import { configKeys } from '../runtime/manifest/manifest.ts';
import type { ConfigService, ManifestSource } from './config.ts';
import type { CapabilitySetSource } from './capability-set.ts';
import { SHARED_CAP_RULES } from './host-call-limits.ts';
import type { HostCallLimits, SharedCapRule } from './host-call-limits.ts';

/** Pushed to the sandbox process of one plugin (protocol.ts `config`). */
export interface ConfigSnapshot {
  /** Declared, non-secret keys → the value config.get would answer (stored, else default_config, else null). */
  values: Record<string, ConfigScalar>;
  /** The host-call caps: local answers count toward the count and byte caps like the server's answers. */
  limits: HostCallLimits;
  /** The capability set's callback and cron checks: in a call it refuses, nothing is answered locally. */
  callbacks: string[] | null;
  cron: boolean | null;
}

/** What a call's sandbox process reports of its local answers (CallStats.configReads). */
export interface ConfigReadStats {
  /** Key → how many times it was answered locally in this call. */
  keys: Record<string, number>;
  /** Bytes of those reads' arguments and answers, counted as the server counts a host call's. */
  bytes: number;
  /** Reads refused locally by the caps the process shares with the server, by rule. */
  refused: Partial<Record<SharedCapRule, number>>;
}

export interface ConfigSnapshotSource {
  /** Changes whenever what would be pushed may have changed; compared element by element. */
  stampOf(plugin: string): readonly unknown[];
  /** The values to push, or null: nothing may be answered locally for this plugin. */
  snapshotOf(plugin: string): Promise<ConfigSnapshot | null>;
  /**
   * Told right after any config value of a plugin was written; `secret` when it was a secret (a
   * value any plugin shows may hold it now). Returns the unsubscribe.
   */
  onChange(listener: (plugin: string, secret: boolean) => void): () => void;
  /** The keys a snapshot of this plugin may hold now (to check a sandbox process's report). */
  shownKeys(plugin: string): Set<string>;
}

export const CONFIG_GET = 'config.get';


export function sameStamp(a: readonly unknown[] | null | undefined, b: readonly unknown[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

export class ConfigSnapshots implements ConfigSnapshotSource {
  private readonly config: ConfigService;
  private readonly manifests: ManifestSource;
  private readonly capabilitySets: CapabilitySetSource;
  private readonly limits: HostCallLimits;
  private readonly shownByManifest = new WeakMap<object, Set<string>>();

  constructor(deps: { config: ConfigService; manifests: ManifestSource; capabilitySets: CapabilitySetSource; limits: HostCallLimits }) {
    this.config = deps.config;
    this.manifests = deps.manifests;
    this.capabilitySets = deps.capabilitySets;
    this.limits = deps.limits;
  }

  stampOf(plugin: string): readonly unknown[] {
    // The manifest and the set are replaced, never changed in place, when a plugin is (re)loaded.
    // A secret newly known anywhere (another plugin's, a stored one loaded now) may be in a value pushed before.
    return [this.manifests.manifestOf(plugin), this.capabilitySets.capabilitySetOf(plugin), this.config.versionOf(plugin), this.config.knownSecrets()];
  }

  async snapshotOf(plugin: string): Promise<ConfigSnapshot | null> {
    const set = this.capabilitySets.capabilitySetOf(plugin);
    if (!set || !set.capabilities.has(CONFIG_GET)) return null;
    const values = await this.config.shownValues(plugin);
    if (!values) return null;
    return {
      values,
      limits: { ...this.limits },
      callbacks: set.callbacks ? [...set.callbacks] : null,
      cron: set.cron,
    };
  }

  onChange(listener: (plugin: string, secret: boolean) => void): () => void {
    return this.config.onChange(listener);
  }

  shownKeys(plugin: string): Set<string> {
    const manifest = this.manifests.manifestOf(plugin);
    if (!manifest) return new Set();
    // Asked once per call that read anything: worked out once per manifest (never changed in place).
    let keys = this.shownByManifest.get(manifest);
    if (!keys) {
      keys = new Set(configKeys(manifest).filter((k) => !k.secret).map((k) => k.key));
      this.shownByManifest.set(manifest, keys);
    }
    return keys;
  }
}

/**
 * The part of a sandbox process's report the server believes: keys a snapshot could hold, whole
 * positive counts. A lying process can only name keys it may read anyway; no value ever reaches
 * the audit log through the report.
 */
export function checkedReadStats(reads: unknown, shown: ReadonlySet<string>): ConfigReadStats {
  const out: ConfigReadStats = { keys: {}, bytes: 0, refused: {} };
  if (!reads || typeof reads !== 'object') return out;
  const { keys, bytes, refused } = reads as { keys?: unknown; bytes?: unknown; refused?: unknown };
  const count = (n: unknown) => (Number.isSafeInteger(n) && (n as number) > 0 ? n as number : 0);
  if (keys && typeof keys === 'object') {
    for (const [key, n] of Object.entries(keys as Record<string, unknown>)) if (shown.has(key) && count(n)) out.keys[key] = count(n);
  }
  out.bytes = count(bytes);
  if (refused && typeof refused === 'object') {
    for (const rule of SHARED_CAP_RULES) if (count((refused as Record<string, unknown>)[rule])) out.refused[rule] = count((refused as Record<string, unknown>)[rule]);
  }
  return out;
}

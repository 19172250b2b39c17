// The server's half of local config reads (host-api/config-snapshot.ts): before a plugin call is
// dispatched, the plugin's sandbox process gets the values it may answer from, if what it holds
// may be out of date; on every config write it is told at once to drop them. Both travel on the
// process's one ordered channel ahead of any later invoke, so no call dispatched after a write can
// read the value from before it. A load (a reload, a new version, a restarted process) drops the
// values in the process (sandbox-process.ts), and the next call pushes them again from the
// manifest and capability set of what was loaded.
import type { ConfigSnapshotSource } from '../../host-api/config-snapshot.ts';
import { sameStamp } from '../../host-api/config-snapshot.ts';
import type { SandboxProcess } from './supervisor.ts';

/**
 * Where a registered plugin runs and the loaded state a push belongs to: the process generation
 * and the sandbox host's count of the plugin's loads; `loaded` false while it is not loaded.
 */
export interface LoadedAt { process: SandboxProcess; generation: number; loads: number; loaded: boolean }

interface Pushed { stamp: readonly unknown[]; generation: number; loads: number; at: number; held: boolean }

/** Pushes that keep meeting a write while they read the store give up (nothing is answered locally). */
const MAX_ATTEMPTS = 3;

export class ConfigPush {
  private readonly source: ConfigSnapshotSource | undefined;
  private readonly maxAgeMs: number;
  private readonly pushed = new Map<string, Pushed>();
  private readonly unsubscribe: () => void;
  private readonly loadedAt: (key: string) => LoadedAt | null;

  /** `loadedAt(key)`: where and as what the plugin is loaded now, null when it is not registered. */
  constructor(source: ConfigSnapshotSource | undefined, options: { enabled: boolean; maxAgeMs: number }, loadedAt: (key: string) => LoadedAt | null) {
    this.loadedAt = loadedAt;
    this.source = options.enabled ? source : undefined;
    // Anything but a finite, positive age (a typo in the options) reads before every call: never staler.
    this.maxAgeMs = Number.isFinite(options.maxAgeMs) && options.maxAgeMs > 0 ? options.maxAgeMs : 0;
    // A secret written may be held in any plugin's pushed values (pasted into a field it shows):
    // every process drops them, not only the writer's.
    this.unsubscribe = this.source?.onChange((key, secret) => {
      if (secret) for (const other of [...this.pushed.keys()]) if (other !== key) this.drop(other);
      this.drop(key);
    }) ?? (() => {});
  }

  /**
   * Before a call of `key` is dispatched: the process holds the current values once this returns
   * (or resolves). True when it holds values to answer from (the invoke then carries the minute's
   * budget). Synchronous when nothing needs pushing, which is every call but the first after a
   * change: a promise hop per call is part of what a call costs (bench/).
   */
  beforeCall(key: string): boolean | Promise<boolean> {
    const source = this.source;
    if (!source) return false;
    const at = this.loadedAt(key);
    if (!at || !at.loaded) return false; // the invoke fails as not loaded; nothing to answer for
    const last = this.pushed.get(key);
    if (last && last.generation === at.generation && last.loads === at.loads && sameStamp(last.stamp, source.stampOf(key)) && Date.now() - last.at < this.maxAgeMs) return last.held;
    return this.push(key, source);
  }

  private async push(key: string, source: ConfigSnapshotSource): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const at = this.loadedAt(key);
      if (!at || !at.loaded) return false;
      const stamp = source.stampOf(key);
      let snapshot;
      try {
        snapshot = await source.snapshotOf(key);
      } catch {
        snapshot = null; // the store could not be read: every read goes to the server, as before
      }
      const now = this.loadedAt(key);
      // A write (or a reload) while the store was read: what was read may be older than it.
      if (!now || !now.loaded || now.process !== at.process || now.generation !== at.generation || now.loads !== at.loads || !sameStamp(stamp, source.stampOf(key))) continue;
      if (at.process.sendConfig(key, snapshot)) this.pushed.set(key, { stamp, generation: at.generation, loads: at.loads, at: Date.now(), held: snapshot !== null });
      else this.pushed.delete(key);
      return snapshot !== null;
    }
    this.drop(key);
    return false;
  }

  /** A config write: the process drops the values now, before any later call is sent to it. */
  drop(key: string): void {
    this.pushed.delete(key);
    const at = this.loadedAt(key);
    if (at?.process.running) at.process.sendConfig(key, null);
  }

  /** The plugin was (re)loaded or unregistered: its process holds no values for it now. */
  forget(key: string): void {
    this.pushed.delete(key);
  }

  close(): void {
    this.unsubscribe();
    this.pushed.clear();
  }
}

// The plugins a server runs: loads every folder under the plugins directory into the sandbox,
// keeps the ones that pass and records why the others were refused (the server keeps running),
// and is the manifest source the host API consults. Network origins a manifest requests are
// recorded as requested-but-unapproved grants: nothing is reachable until an administrator
// approves it, and a widened request after an update waits for a new approval.
// Before a folder is loaded its content hash is compared with the approved one (install/approval.ts):
// a changed folder is refused as 'tampered'; a folder never seen before is trusted on first use and
// recorded (or refused as 'unapproved' with requireApproval). Stores without plugin records skip this.
// What the admin page serves from the folder (template, icon) is read between the two hashes of a
// load and kept with the entry (served-files.ts): never read from disk at request time.
import fs from 'node:fs';
import path from 'node:path';
import type { PluginManifest } from '../manifest/manifest.ts';
import type { ApprovedCapabilitySet } from '../../host-api/capability-set.ts';
import type { PluginRecord } from '../store/types.ts';
import { PluginRejected } from '../plugin-errors.ts';
import type { PluginRejectionCode } from '../errors.ts';
import type { SandboxHost } from '../sandbox/sandbox-host.ts';
import type { Store } from '../store/store.ts';
import { loadPlugin } from './load-plugin.ts';
import { firstUseMessage, tamperedMessage, trustOnFirstUse, verifyFolderApproval } from '../install/approval.ts';
import type { ApprovalEvent, RecordStore } from '../install/approval.ts';
import { hashFolder } from '../install/content-hash.ts';
import type { LoadedPlugin, LoadOptions } from './load-plugin.ts';
import { CapabilitySets } from './capability-sets.ts';
import { snapshotServedFiles } from './served-files.ts';
import { KeyedTurns } from './keyed-turns.ts';
import type { ResolvedEngine } from './engine-choice.ts';
import type { ServedFiles } from './served-files.ts';

export interface PluginEntry {
  key: string;
  dir: string;
  status: 'active' | 'rejected';
  plugin: LoadedPlugin | null;
  /** Template and icon as approved at load (null when not active). */
  served: ServedFiles | null;
  error: { code: PluginRejectionCode; message: string } | null;
  loadedAt: string;
  /** The engine the plugin runs on (or was refused on), and why that one; null without engineFor. */
  engine: ResolvedEngine | null;
}

export interface RegistryOptions {
  sandbox: SandboxHost;
  store: Pick<Store, 'listGrants' | 'upsertGrant'> & Partial<Pick<Store, 'getPluginRecord' | 'putPluginRecord'>>;
  load: Omit<LoadOptions, 'onManifest'>;
  /** process.env entries the administrator whitelisted for a plugin (besides API_URL). */
  envFor?: (key: string) => Record<string, string>;
  /** Refuse plugin folders that have no approval record, instead of trusting them on first use (default false). */
  requireApproval?: boolean;
  /** Trust-on-first-use and refusals of changed or unknown folders, for the server log (default: one line on stderr). */
  onApprovalEvent?: (event: ApprovalEvent) => void;
  /** Called after a plugin loaded (e.g. to prime the scrubber with its stored secrets, schedule its cron). */
  onLoaded?: (plugin: LoadedPlugin) => Promise<void> | void;
  onUnloaded?: (key: string) => Promise<void> | void;
  /** The engine to load a plugin on (engine-choice.ts); without it, the sandbox host's default. */
  engineFor?: (key: string) => Promise<ResolvedEngine>;
}

export class PluginRegistry {
  private readonly options: RegistryOptions;
  private readonly entries = new Map<string, PluginEntry>();
  private readonly manifests = new Map<string, PluginManifest>();
  private readonly capabilitySets = new CapabilitySets();
  /** A plugin's loads run one at a time: two at once (a reload beside an engine switch) end as the slower one says. */
  private readonly loads = new KeyedTurns();

  constructor(options: RegistryOptions) {
    this.options = options;
  }

  manifestOf(key: string): PluginManifest | undefined {
    return this.manifests.get(key);
  }

  /** What the host serves the plugin (host-api/capability-set.ts); undefined when it is not loaded. */
  capabilitySetOf(key: string): ApprovedCapabilitySet | undefined {
    return this.capabilitySets.capabilitySetOf(key);
  }

  get(key: string): PluginEntry | undefined {
    return this.entries.get(key);
  }

  active(key: string): LoadedPlugin | null {
    const e = this.entries.get(key);
    return e && e.status === 'active' ? e.plugin : null;
  }

  list(): PluginEntry[] {
    return [...this.entries.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Loads every plugin folder in `root`. A refused plugin is recorded, not fatal. */
  async loadAll(root: string): Promise<PluginEntry[]> {
    if (!fs.existsSync(root)) return [];
    const dirs = fs.readdirSync(root, { withFileTypes: true })
      // A symlinked plugin folder counts too (the bundler still refuses files outside it).
      .filter((d) => (d.isDirectory() || (d.isSymbolicLink() && fs.statSync(path.join(root, d.name), { throwIfNoEntry: false })?.isDirectory()))
        && !d.name.startsWith('.') && d.name !== 'node_modules')
      .map((d) => path.join(root, d.name));
    const out: PluginEntry[] = [];
    for (const dir of dirs) out.push(await this.load(dir));
    return out;
  }

  load(dir: string): Promise<PluginEntry> {
    return this.loads.run(path.basename(path.resolve(dir)), () => this.loadNow(dir));
  }

  private async loadNow(dir: string): Promise<PluginEntry> {
    const key = path.basename(path.resolve(dir));
    const loadedAt = new Date().toISOString();
    let engine: ResolvedEngine | null = null;
    try {
      engine = (await this.options.engineFor?.(key)) ?? null;
      const approval = await this.checkApproval(key, path.resolve(dir));
      const plugin = await loadPlugin(this.options.sandbox, dir, {
        ...this.options.load,
        env: { ...this.options.load.env, ...this.options.envFor?.(key) },
        engine: engine?.name ?? this.options.load.engine,
        onManifest: (k, m, bundle) => {
          this.manifests.set(k, m);
          this.capabilitySets.attach(k, bundle, approval?.record?.current.capabilities ?? null);
        },
      });
      this.capabilitySets.loaded(key, plugin);
      // Read before the second hash: a change made while they are read is caught by it.
      const served = await snapshotServedFiles(plugin);
      if (approval) await this.afterApprovedLoad(plugin, approval);
      await this.recordRequestedGrants(plugin);
      const entry: PluginEntry = { key, dir: plugin.dir, status: 'active', plugin, served, error: null, loadedAt, engine };
      this.entries.set(key, entry);
      await this.options.onLoaded?.(plugin);
      return entry;
    } catch (err) {
      const error: PluginEntry['error'] = err instanceof PluginRejected
        ? { code: err.code, message: err.message }
        : { code: 'load_failed', message: String((err as Error)?.message ?? err) };
      this.manifests.delete(key);
      this.capabilitySets.delete(key);
      const entry: PluginEntry = { key, dir: path.resolve(dir), status: 'rejected', plugin: null, served: null, error, loadedAt, engine };
      this.entries.set(key, entry);
      await this.options.onUnloaded?.(key);
      return entry;
    }
  }

  async unload(key: string): Promise<void> {
    this.entries.delete(key);
    this.manifests.delete(key);
    this.capabilitySets.delete(key);
    await this.options.sandbox.unregister(key);
    await this.options.onUnloaded?.(key);
  }

  private approvalEvent(event: ApprovalEvent): void {
    if (this.options.onApprovalEvent) this.options.onApprovalEvent(event);
    else process.stderr.write(`payout-sandbox: ${event.message}\n`);
  }

  /** Null when the store keeps no plugin records (the check is then skipped). */
  private async checkApproval(key: string, dir: string): Promise<{ firstSight: boolean; contentHash: string; record: PluginRecord | null } | null> {
    const store = this.options.store;
    // A missing folder gets loadPlugin's own precise refusal.
    if (!store.getPluginRecord || !store.putPluginRecord || !fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return null;
    try {
      const { record, contentHash } = await verifyFolderApproval(store as RecordStore, key, dir, { requireApproval: Boolean(this.options.requireApproval) });
      return { firstSight: record === null, contentHash, record };
    } catch (err) {
      if (err instanceof PluginRejected && (err.code === 'tampered' || err.code === 'unapproved')) {
        this.approvalEvent({ kind: err.code, key, dir, contentHash: null, message: `plugin ${key} refused: ${err.message}` });
      }
      throw err;
    }
  }

  /** The files must not have changed while they were bundled; a folder seen for the first time is recorded now. */
  private async afterApprovedLoad(plugin: LoadedPlugin, approval: { firstSight: boolean; contentHash: string }): Promise<void> {
    const store = this.options.store as RecordStore;
    if (hashFolder(plugin.dir) !== approval.contentHash) {
      await this.options.sandbox.unregister(plugin.key);
      const record = await store.getPluginRecord(plugin.key);
      const message = record
        ? tamperedMessage(plugin.key, plugin.dir, record, hashFolder(plugin.dir))
        : `plugin folder ${plugin.dir} changed while it was being loaded; load it again once nothing writes to it`;
      this.approvalEvent({ kind: 'tampered', key: plugin.key, dir: plugin.dir, contentHash: null, message: `plugin ${plugin.key} refused: ${message}` });
      throw new PluginRejected('tampered', message);
    }
    if (!approval.firstSight) return;
    await trustOnFirstUse(store, plugin, approval.contentHash);
    this.approvalEvent({ kind: 'trusted_on_first_use', key: plugin.key, dir: plugin.dir, contentHash: approval.contentHash, message: firstUseMessage(plugin.key, plugin.dir, approval.contentHash) });
  }

  private async recordRequestedGrants(plugin: LoadedPlugin): Promise<void> {
    const existing = await this.options.store.listGrants(plugin.key);
    for (const req of plugin.manifest.network) {
      const prior = existing.find((g) => g.origin === req.origin);
      const same = prior && JSON.stringify(prior.methods) === JSON.stringify(req.methods) && prior.pathPrefix === req.pathPrefix;
      // A request that changed (wider methods or path) loses its approval until it is approved again.
      await this.options.store.upsertGrant({
        plugin: plugin.key, origin: req.origin, pathPrefix: req.pathPrefix, methods: req.methods, requested: true,
        approved: Boolean(prior?.approved && same), approvedBy: same ? prior?.approvedBy ?? null : null, approvedAt: same ? prior?.approvedAt ?? null : null,
      });
    }
  }
}

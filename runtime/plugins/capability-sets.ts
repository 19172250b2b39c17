// The capability set the server enforces for each loaded plugin (host-api/capability-set.ts): what
// its bundle's required host modules grant, narrowed to what its approval record holds, so a set
// can only be as wide as both what the code asks for through modules and what was approved.
// Attached when the plugin's manifest is read, before any of its code runs (its top level may make
// host calls), and dropped when it is unloaded or refused.
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import { approvedCapabilitySet } from '../../host-api/capability-set.ts';
import type { ApprovedCapabilitySet, CapabilitySetSource } from '../../host-api/capability-set.ts';
import { CRON_CONTEXT_MODULES, moduleCapabilities, reachableModules } from '../install/capabilities.ts';
import type { PluginCapabilitySet } from '../store/types.ts';
import type { LoadedPlugin } from './load-plugin.ts';

/**
 * What the bundle's host modules grant: those it requires, and the cron context if its source
 * names initCron (narrowed once loaded, when whether it has one is known).
 */
export function bundleCapabilities(bundle: PluginBundle, hasInitCron = bundle.scan.mentionsInitCron): string[] {
  return moduleCapabilities(reachableModules(bundle.scan.hostModules.map((m) => m.module), hasInitCron));
}

/**
 * The capabilities a record approved. A record written before the cron context counted (it has no
 * `cron` field) listed only required modules' capabilities, while its initCron was served the cron
 * context all along: for such a record that context is not taken away (its files are the approved
 * ones, their hash says so); an update records it explicitly.
 */
function approvedCapabilities(approved: PluginCapabilitySet): Set<string> {
  const legacy = approved.cron === undefined;
  return new Set([...approved.capabilities, ...(legacy ? moduleCapabilities([...CRON_CONTEXT_MODULES]) : [])]);
}

export class CapabilitySets implements CapabilitySetSource {
  private readonly sets = new Map<string, ApprovedCapabilitySet>();

  capabilitySetOf(plugin: string): ApprovedCapabilitySet | undefined {
    return this.sets.get(plugin);
  }

  /**
   * The set of a bundle about to load; `approved` is its approval record's set (null: a store
   * without records, or a folder seen for the first time, whose record is this very bundle).
   */
  attach(key: string, bundle: PluginBundle, approved: PluginCapabilitySet | null): void {
    const fromModules = bundleCapabilities(bundle);
    const capabilities = approved ? fromModules.filter((c) => approvedCapabilities(approved).has(c)) : fromModules;
    const cron = approved?.cron === undefined ? null : approved.cron !== null;
    this.sets.set(key, approvedCapabilitySet(capabilities, approved?.callbacks ?? null, cron));
  }

  /**
   * Once loaded: the cron context is kept only if the plugin has an initCron, and a set with no
   * recorded callbacks or cron takes the loaded plugin's own.
   */
  loaded(key: string, plugin: Pick<LoadedPlugin, 'bundle' | 'description' | 'cron'>): void {
    const set = this.sets.get(key);
    if (!set) return;
    const hasInitCron = plugin.bundle.files.format !== 'sdk' && plugin.description.methods.initCron === true;
    const reachable = new Set(bundleCapabilities(plugin.bundle, hasInitCron));
    const capabilities = [...set.capabilities].filter((c) => reachable.has(c));
    this.sets.set(key, approvedCapabilitySet(capabilities, set.callbacks ?? plugin.description.callbacks, set.cron ?? plugin.cron !== null));
  }

  delete(key: string): void {
    this.sets.delete(key);
  }
}

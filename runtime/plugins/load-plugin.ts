// Plugin folder → a plugin running in the sandbox: bundle (require policy), evaluate configure.js
// in a throwaway isolate, validate the manifest, load and construct the class, and read the cron
// descriptor. Every step that can refuse the plugin throws PluginRejected with a precise reason.
import { Cron } from 'croner';
import { bundlePlugin } from '../bundler/bundle-plugin.ts';
import type { PluginBundle } from '../bundler/bundle-plugin.ts';
import { manifestFromSdk, validateManifest } from '../manifest/manifest.ts';
import type { PluginManifest } from '../manifest/manifest.ts';
import { PluginRejected } from '../plugin-errors.ts';
import type { SandboxHost } from '../sandbox/sandbox-host.ts';
import type { EngineName, IsolateSetup, PluginDescription } from '../sandbox/protocol.ts';
import { labelTables } from '../../host-api/i18n.ts';
import { DEFAULT_ENGINE } from '../sandbox/protocol.ts';

export interface CronDescriptor {
  schedule: string;
  callWhenInit: boolean;
}

export interface LoadedPlugin {
  key: string;
  dir: string;
  bundle: PluginBundle;
  manifest: PluginManifest;
  description: PluginDescription;
  cron: CronDescriptor | null;
  loadMs: number;
  /** The engine the plugin runs on. */
  engine: EngineName;
}

export interface LoadOptions {
  /** The host's public base URL, given to plugins as process.env.API_URL (ends with '/'). */
  apiUrl: string;
  /** Extra process.env entries the administrator whitelisted for this plugin. */
  env?: Record<string, string>;
  /**
   * Called with the validated manifest (and the bundle, whose scan gives its capability set) before
   * the plugin's code runs (its top level may call config.get).
   */
  onManifest?: (key: string, manifest: PluginManifest, bundle: PluginBundle) => void;
  /** The engine to run the plugin on (default: the sandbox host's own default). */
  engine?: EngineName;
}

export function isolateSetup(key: string, options: LoadOptions): IsolateSetup {
  return { pluginKey: key, env: { ...options.env, API_URL: options.apiUrl }, labels: labelTables() };
}

/** Checks a cron schedule the way the scheduler will run it: 5 fields, or 6 with seconds. */
export function validateSchedule(schedule: string): string | null {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `cron schedule '${schedule}' has ${fields.length} fields; use 5 (minute first) or 6 (second first)`;
  try {
    new Cron(schedule, { paused: true }).stop();
    return null;
  } catch (err) {
    return `cron schedule '${schedule}' is invalid: ${(err as Error).message}`;
  }
}

export async function loadPlugin(sandbox: SandboxHost, dir: string, options: LoadOptions): Promise<LoadedPlugin> {
  const started = performance.now();
  const bundle = await bundlePlugin(dir);
  const raw = await sandbox.readManifest(bundle);
  if (!raw.ok) throw new PluginRejected(raw.error.kind === 'cpu_limit' ? 'manifest_timeout' : 'manifest_invalid', raw.error.message);
  const manifest = bundle.files.format === 'sdk'
    ? manifestFromSdk((raw.value as { __sdkManifest?: unknown }).__sdkManifest)
    : validateManifest(raw.value);
  options.onManifest?.(bundle.key, manifest, bundle);
  const registered = await sandbox.register(bundle, isolateSetup(bundle.key, options), {}, options.engine);
  if (!registered.ok) throw new PluginRejected(registered.error.kind, `loading the plugin failed: ${registered.error.message}`);
  const description = registered.description;
  if (!description.methods.getFields || !description.methods.transfer) {
    const missing = ['getFields', 'transfer'].filter((m) => !description.methods[m as 'getFields']);
    throw new PluginRejected('missing_method', `index.js: the plugin class ${description.className} has no ${missing.join(' and ')} method; a payout plugin needs both`);
  }
  let cron: CronDescriptor | null = null;
  if (description.methods.initCron) {
    const result = await sandbox.invoke(bundle.key, 'initCron', []);
    if (!result.ok) throw new PluginRejected('cron_invalid', `initCron failed: ${result.error.message}`);
    const value = result.value as { schedule: string; callWhenInit: boolean; hasFn: boolean } | null;
    if (value) {
      if (!value.hasFn) throw new PluginRejected('cron_invalid', 'initCron returned no fn; it must return {schedule, fn, callWhenInit?}');
      const problem = validateSchedule(value.schedule);
      if (problem) throw new PluginRejected('cron_invalid', `initCron: ${problem}`);
      cron = { schedule: value.schedule, callWhenInit: value.callWhenInit };
    }
  }
  return {
    key: bundle.key, dir: bundle.files.dir, bundle, manifest, description, cron, loadMs: performance.now() - started,
    engine: sandbox.engineOf(bundle.key) ?? options.engine ?? DEFAULT_ENGINE,
  };
}

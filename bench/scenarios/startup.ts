// Start-up. Every plugin runs in a sandbox process of its own (design.md §5), so a plugin's first
// load is a process start plus the load itself; and the first plugin a server bundles also starts
// esbuild's service. Each is measured apart, and together:
//  (0) esbuild's service start, in a fresh process each time (lib/esbuild-start.ts);
//  (a) the sandbox process itself: spawn, load isolated-vm, report ready (a fresh process each
//      time; every plugin process runs this same program);
//  (b) a plugin folder → its first getFields answer in a process already running (all plugins of
//      this part share one group, so no load waits for a spawn):
//   - cold: a folder never seen (its own key, so its own code: no V8 code cache), bundled by
//     esbuild, configure.js evaluated, the bundle compiled and run, the class constructed,
//     initCron read (as loadPlugin does), first getFields;
//   - warm: the same plugin again with its bundle kept (no esbuild) and the V8 code cache
//     SandboxHost kept from the first load (the previous instance is unloaded first, off the
//     clock; what unloading costs is reported apart);
//   - warm, rebundled: as warm but through bundlePlugin again, as a reload does (its bundle cache,
//     keyed by the folder's path and content, answers: the bundle stage is hashing the files);
//  (c) cold in a process of its own, as the default placement loads a new plugin: (b)'s cold
//      stages with the process start inside "load".
// The plugin is plugins/nimbuspay (bignumber.js included in its bundle), copied under fresh keys.
import path from 'node:path';
import fs from 'node:fs';
import { bundlePlugin } from '../../runtime/bundler/bundle-plugin.ts';
import type { PluginBundle } from '../../runtime/bundler/bundle-plugin.ts';
import { validateManifest } from '../../runtime/manifest/manifest.ts';
import { isolateSetup } from '../../runtime/plugins/load-plugin.ts';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import type { LocalHost } from '../../runtime/local/local-session.ts';
import { SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';
import { BENCHPAY_DIR, NIMBUSPAY_DIR, copyPlugin, tempDir } from '../lib/fixtures.ts';
import { median, round } from '../lib/stats.ts';
import { measureEsbuildStart } from '../lib/esbuild-start.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';

export interface StartupOptions {
  processStarts: number;
  coldLoads: number;
  warmLoads: number;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export interface Stages {
  bundleMs: number;
  manifestMs: number;
  /** Isolate + context + prelude + compile and run the bundle + construct the class. */
  loadMs: number;
  initCronMs: number;
  firstCallMs: number;
  totalMs: number;
  /** The load stage's parts inside the sandbox process (LoadResult.phases), ms. */
  loadPhases: Record<string, number>;
}

export interface StartupResult {
  plugin: string;
  bundleBytes: number;
  sandboxProcessStartMs: number;
  sandboxProcessStartRuns: number[];
  /** esbuild's service start (once per server process, at its first bundle), ms; and the module import. */
  esbuildServiceStartMs: number;
  esbuildImportMs: number;
  /** A server's very first plugin: esbuild service start + sandbox process start + cold. */
  firstPluginOfServerMs: number;
  /** In a running process. */
  cold: Stages;
  /** Cold in a sandbox process of its own (the default): its `loadMs` includes the process start. */
  coldOwnProcess: Stages;
  /** sandboxProcessStartMs + cold.totalMs: what (c) should come to. */
  processStartPlusColdMs: number;
  warm: Stages;
  warmRebundled: Stages;
  /** Whether V8 accepted the code cache on every warm load. */
  codeCacheAccepted: boolean;
  /** Unloading a plugin (disposing its isolate), which a reload also pays before the new start. */
  unloadMs: number;
}

const API_URL = 'http://127.0.0.1:3000/';

async function startPlugin(local: LocalHost, dir: string, cached: PluginBundle | null): Promise<{ stages: Stages; bundle: PluginBundle; cacheAccepted: boolean }> {
  const t0 = performance.now();
  const bundle = cached ?? await bundlePlugin(dir);
  const t1 = performance.now();
  const raw = await local.sandbox.readManifest(bundle);
  if (!raw.ok) throw new Error(`bench startup: configure.js failed: ${raw.error.message}`);
  local.manifests.set(bundle.key, validateManifest(raw.value));
  local.capabilitySets.attach(bundle.key, bundle, null);
  const t2 = performance.now();
  const registered = await local.sandbox.register(bundle, isolateSetup(bundle.key, { apiUrl: API_URL }));
  if (!registered.ok) throw new Error(`bench startup: load failed: ${registered.error.message}`);
  const t3 = performance.now();
  if (registered.description.methods.initCron) {
    const cron = await local.sandbox.invoke(bundle.key, 'initCron', []);
    if (!cron.ok) throw new Error(`bench startup: initCron failed: ${cron.error.message}`);
  }
  const t4 = performance.now();
  const first = await local.sandbox.invoke(bundle.key, 'getFields', ['en', 'CARDUAH']);
  if (!first.ok || !Array.isArray(first.value)) throw new Error(`bench startup: first getFields failed: ${JSON.stringify(first).slice(0, 300)}`);
  const t5 = performance.now();
  return {
    bundle, cacheAccepted: registered.load.cacheAccepted,
    stages: {
      bundleMs: cached ? 0 : t1 - t0, manifestMs: t2 - t1, loadMs: t3 - t2, initCronMs: t4 - t3, firstCallMs: t5 - t4, totalMs: t5 - t0,
      loadPhases: registered.load.phases ?? {},
    },
  };
}

function medianStages(all: Stages[]): Stages {
  const pick = (k: Exclude<keyof Stages, 'loadPhases'>) => round(median(all.map((s) => s[k])), 2);
  const phaseNames = [...new Set(all.flatMap((s) => Object.keys(s.loadPhases)))];
  const loadPhases = Object.fromEntries(phaseNames.map((p) => [p, round(median(all.map((s) => s.loadPhases[p] ?? 0)), 2)]));
  return { bundleMs: pick('bundleMs'), manifestMs: pick('manifestMs'), loadMs: pick('loadMs'), initCronMs: pick('initCronMs'), firstCallMs: pick('firstCallMs'), totalMs: pick('totalMs'), loadPhases };
}

export async function benchStartup(o: StartupOptions): Promise<StartupResult> {
  // (0) esbuild's service, each time in a fresh process.
  const esbuildRuns = [];
  for (let i = 0; i < o.processStarts; i++) esbuildRuns.push(await measureEsbuildStart());
  const esbuildServiceStartMs = round(median(esbuildRuns.map((r) => r.serviceStartMs)), 1);
  // (a) the sandbox process: spawn → ready, each time a fresh process.
  const processRuns: number[] = [];
  const handler = { handle: async () => ({ ok: false as const, error: { message: 'bench: no host calls' } }), log() {} };
  for (let i = 0; i < o.processStarts; i++) {
    const sandbox = new SandboxHost({ handler, engine: o.engine });
    const t0 = performance.now();
    await sandbox.start();
    processRuns.push(performance.now() - t0);
    await sandbox.close();
  }

  // (b) plugins, in a sandbox process already running: one group holds every key of this part.
  const root = tempDir('startup');
  const coldKeys = Array.from({ length: o.coldLoads }, (_, i) => `nimbus-cold-${i}`);
  const local = await openLocalHost({ sandbox: { engine: o.engine, groups: { warm: ['benchpay-warmup', ...coldKeys] } } });
  let own: LocalHost | null = null;
  try {
    await local.sandbox.start();
    // Warm the esbuild service and the sandbox process's first-isolate paths once, off the clock.
    await local.load(copyPlugin(BENCHPAY_DIR, root, 'benchpay-warmup'));
    const cold: Stages[] = [];
    let first: { dir: string; bundle: PluginBundle } | null = null;
    for (const key of coldKeys) {
      const dir = copyPlugin(NIMBUSPAY_DIR, root, key);
      const r = await startPlugin(local, dir, null);
      cold.push(r.stages);
      first ??= { dir, bundle: r.bundle };
    }
    if (!first) throw new Error('bench startup: coldLoads must be at least 1');

    // (c) cold, each plugin in a process of its own (the default placement).
    own = await openLocalHost({ sandbox: { engine: o.engine } });
    await own.sandbox.start();
    await own.load(copyPlugin(BENCHPAY_DIR, root, 'benchpay-warmup-own'));
    const coldOwnProcess: Stages[] = [];
    for (let i = 0; i < o.coldLoads; i++) {
      coldOwnProcess.push((await startPlugin(own, copyPlugin(NIMBUSPAY_DIR, root, `nimbus-own-${i}`), null)).stages);
    }

    const warm: Stages[] = [];
    const warmRebundled: Stages[] = [];
    let accepted = true;
    const unloads: number[] = [];
    // Each warm start begins with the plugin unloaded (its old isolate disposed off the clock):
    // what is timed is starting it, not tearing down a previous instance (reported apart).
    const unload = async () => {
      const t0 = performance.now();
      await local.sandbox.unregister(first!.bundle.key);
      unloads.push(performance.now() - t0);
    };
    for (let i = 0; i < o.warmLoads; i++) {
      await unload();
      const w = await startPlugin(local, first.dir, first.bundle);
      warm.push(w.stages);
      await unload();
      const r = await startPlugin(local, first.dir, null);
      warmRebundled.push(r.stages);
      accepted &&= w.cacheAccepted && r.cacheAccepted;
    }
    return {
      plugin: path.basename(NIMBUSPAY_DIR),
      bundleBytes: first.bundle.code.length,
      sandboxProcessStartMs: round(median(processRuns), 1),
      sandboxProcessStartRuns: processRuns.map((x) => round(x, 1)),
      esbuildServiceStartMs,
      esbuildImportMs: round(median(esbuildRuns.map((r) => r.importMs)), 1),
      firstPluginOfServerMs: round(esbuildServiceStartMs + median(processRuns) + medianStages(cold).totalMs, 1),
      cold: medianStages(cold),
      coldOwnProcess: medianStages(coldOwnProcess),
      processStartPlusColdMs: round(median(processRuns) + medianStages(cold).totalMs, 1),
      warm: medianStages(warm),
      warmRebundled: medianStages(warmRebundled),
      codeCacheAccepted: accepted,
      unloadMs: round(median(unloads), 2),
    };
  } finally {
    await local.close();
    await own?.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

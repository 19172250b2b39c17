// Density: resident memory per loaded, idle plugin, for both ways of placing plugins
// (design.md §5), side by side:
//  - process per plugin (the default): every plugin in a sandbox process of its own;
//  - one shared group: all plugins in one process (`sandbox.groups`, a host's opt-in for plugins
//    it trusts together).
// Copies of plugins/nimbuspay under different keys are loaded the way a server loads them
// (bundle, configure.js in a throwaway isolate, load, initCron) until 1, 10, 50 are loaded. Memory is
// summed over every plugin sandbox process (SandboxHost.stats(): one entry per running plugin
// process; the process that evaluates configure.js holds no plugin and is not counted), three ways
// (lib/process-memory.ts): RSS, PSS, and private memory. Each process's RSS counts the Node binary
// and its libraries (≈40 MB) that the machine holds once for all of them and the server; private
// memory is what one more plugin adds to the machine. Per plugin: the total / N, and what each
// plugin added since the previous count (from 0, where no plugin process exists at all) — the
// figure the ≤ 2.5 MB target is about, in private memory where the kernel reports it.
import fs from 'node:fs';
import { openLocalHost } from '../../runtime/local/local-session.ts';
import { NIMBUSPAY_DIR, copyPlugin, tempDir } from '../lib/fixtures.ts';
import { round, sleep } from '../lib/stats.ts';
import { processMemory } from '../lib/process-memory.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';

export interface DensityOptions {
  counts: number[];
  /** Pause before each RSS reading, so that freed memory and GC settle. */
  settleMs: number;
  /** The engine the sandboxed plugins run on (default: the host's default engine). */
  engine?: EngineName;
}

export interface DensityPoint {
  plugins: number;
  /** Plugin sandbox processes running. */
  processes: number;
  /** RSS summed over them, MB. */
  rssMb: number;
  /** rssMb / plugins. */
  perPluginMb: number;
  /** (rssMb − rssMb at the previous count) / the plugins added since (from 0 plugins, 0 MB). */
  addedPerPluginMb: number;
  /** PSS and private memory summed over them, MB (null where /proc cannot tell). */
  pssMb: number | null;
  privateMb: number | null;
  /** As addedPerPluginMb, in private memory. */
  addedPrivatePerPluginMb: number | null;
  /** V8 heap in use per isolate (mean), MB. */
  heapPerIsolateMb: number;
}

export type DensityModelName = 'process per plugin' | 'one shared group';

export interface DensityModel {
  model: DensityModelName;
  points: DensityPoint[];
}

export interface DensityResult {
  processPerPlugin: DensityModel;
  sharedGroup: DensityModel;
}

const MB = 1024 * 1024;
const GROUP = 'all';

export async function benchDensity(o: DensityOptions): Promise<DensityResult> {
  const counts = [...new Set(o.counts)].sort((a, b) => a - b);
  return {
    processPerPlugin: await measure('process per plugin', counts, o.settleMs, o.engine),
    sharedGroup: await measure('one shared group', counts, o.settleMs, o.engine),
  };
}

async function measure(model: DensityModelName, counts: number[], settleMs: number, engine: EngineName | undefined): Promise<DensityModel> {
  const root = tempDir('density');
  const keys = Array.from({ length: counts.at(-1) ?? 0 }, (_, i) => `nimbus-${i}`);
  const local = await openLocalHost({ sandbox: { engine, ...(model === 'one shared group' ? { groups: { [GROUP]: keys } } : {}) } });
  try {
    const rss = async () => {
      await sleep(settleMs);
      const stats = await local.sandbox.stats();
      const kernel = stats.map((s) => {
        const pid = s.isolates[0] ? local.sandbox.processOf(s.isolates[0].plugin)?.pid : undefined;
        return pid === undefined || pid === null ? null : processMemory(pid);
      });
      const known = kernel.every((m) => m !== null);
      return {
        processes: stats.length,
        rss: stats.reduce((n, s) => n + s.rss, 0),
        pss: known ? kernel.reduce((n, m) => n + (m?.pss ?? 0), 0) : null,
        private: known ? kernel.reduce((n, m) => n + (m?.private ?? 0), 0) : null,
        heap: stats.reduce((n, s) => n + s.isolates.reduce((h, i) => h + i.heapUsedBytes, 0), 0),
        isolates: stats.reduce((n, s) => n + s.isolates.length, 0),
      };
    };
    const points: DensityPoint[] = [];
    let loaded = 0;
    let previous: { plugins: number; rss: number; private: number | null } = { plugins: 0, rss: 0, private: 0 };
    for (const count of counts) {
      for (; loaded < count; loaded++) await local.load(copyPlugin(NIMBUSPAY_DIR, root, keys[loaded]));
      const now = await rss();
      if (now.isolates !== count) throw new Error(`bench density (${model}): ${now.isolates} isolates running, expected ${count}`);
      points.push({
        plugins: count,
        processes: now.processes,
        rssMb: round(now.rss / MB, 1),
        perPluginMb: round(now.rss / MB / count, 2),
        addedPerPluginMb: round((now.rss - previous.rss) / MB / (count - previous.plugins), 2),
        pssMb: now.pss === null ? null : round(now.pss / MB, 1),
        privateMb: now.private === null ? null : round(now.private / MB, 1),
        addedPrivatePerPluginMb: now.private === null || previous.private === null ? null : round((now.private - previous.private) / MB / (count - previous.plugins), 2),
        heapPerIsolateMb: round(now.heap / MB / Math.max(1, now.isolates), 2),
      });
      previous = { plugins: count, rss: now.rss, private: now.private };
    }
    return { model, points };
  } finally {
    await local.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

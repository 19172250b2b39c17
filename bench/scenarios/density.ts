// Density: resident memory of the sandbox process per loaded, idle plugin. A fresh sandbox process
// (empty: no plugin) is measured first; then copies of plugins/nimbuspay under different keys are
// loaded the way a server loads them (bundle, configure.js in a throwaway isolate, load, initCron)
// until 1, 10, 50 are loaded; RSS (SandboxHost.stats) minus the empty process, divided by the count.
import fs from 'node:fs';
import { openLocalHost } from '../../runtime/cli/local-session.ts';
import { NIMBUSPAY_DIR, copyPlugin, tempDir } from '../lib/fixtures.ts';
import { round, sleep } from '../lib/stats.ts';

export interface DensityOptions {
  counts: number[];
  /** Pause before each RSS reading, so that freed memory and GC settle. */
  settleMs: number;
}

export interface DensityPoint {
  plugins: number;
  rssMb: number;
  perPluginMb: number;
  /** V8 heap in use per isolate (mean), MB. */
  heapPerIsolateMb: number;
}

export interface DensityResult {
  emptyProcessRssMb: number;
  points: DensityPoint[];
}

const MB = 1024 * 1024;

export async function benchDensity(o: DensityOptions): Promise<DensityResult> {
  const root = tempDir('density');
  const local = await openLocalHost();
  try {
    await local.sandbox.start();
    const rss = async () => {
      await sleep(o.settleMs);
      const [s] = await local.sandbox.stats();
      return { rss: s.rss, heap: s.isolates.reduce((n, i) => n + i.heapUsedBytes, 0), isolates: s.isolates.length };
    };
    const empty = await rss();
    const points: DensityPoint[] = [];
    let loaded = 0;
    for (const count of [...o.counts].sort((a, b) => a - b)) {
      for (; loaded < count; loaded++) await local.load(copyPlugin(NIMBUSPAY_DIR, root, `nimbus-${loaded}`));
      const now = await rss();
      points.push({
        plugins: count,
        rssMb: round(now.rss / MB, 1),
        perPluginMb: round((now.rss - empty.rss) / MB / count, 2),
        heapPerIsolateMb: round(now.heap / MB / Math.max(1, now.isolates), 2),
      });
    }
    return { emptyProcessRssMb: round(empty.rss / MB, 1), points };
  } finally {
    await local.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

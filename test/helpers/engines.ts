// Whether an engine can run a plugin in this build: the minimal fixture is loaded on it in a
// sandbox process of its own. Tests that need an engine to really run skip with this until it
// does (the QuickJS engine lands separately from the per-plugin choice that names it).
import path from 'node:path';
import { ENGINES } from '../../runtime/sandbox/protocol.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { bundlePlugin } from '../../runtime/bundler/bundle-plugin.ts';
import { startSandbox } from './sandbox.ts';

const known = new Map<EngineName, Promise<boolean>>();

export function engineRuns(engine: EngineName): Promise<boolean> {
  let probe = known.get(engine);
  if (!probe) {
    probe = (async () => {
      const { host } = await startSandbox();
      try {
        const bundle = await bundlePlugin(path.resolve(import.meta.dirname, '../fixtures/plugins/minimal'));
        const loaded = await host.register(bundle, { pluginKey: bundle.key, env: { API_URL: 'http://127.0.0.1:9/' }, labels: { en: {} } }, {}, engine);
        return loaded.ok;
      } finally {
        await host.close();
      }
    })();
    known.set(engine, probe);
  }
  return probe;
}

/** Each engine, with whether it runs here. */
export async function engineMatrix(): Promise<{ engine: EngineName; runs: boolean }[]> {
  return Promise.all(ENGINES.map(async (engine) => ({ engine, runs: await engineRuns(engine) })));
}

// The V8 code cache the server keeps per bundle (sandbox-host.ts) is V8's: it goes to a load on
// isolated-vm, never to a load of the same bundle on QuickJS, which cannot use it (the bytes would
// only cross the channel for nothing). Control: a reload on isolated-vm does get it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import type { PluginBundle } from '../../../runtime/bundler/bundle-plugin.ts';
import type { SandboxHost } from '../../../runtime/sandbox/sandbox-host.ts';
import type { EngineName } from '../../../runtime/sandbox/protocol.ts';
import type { SandboxProcess } from '../../../runtime/sandbox/supervisor.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';
import { startSandbox, watchLoads } from '../../helpers/sandbox.ts';

let host: SandboxHost;
let bundle: PluginBundle;
/** Each load sent: the engine, and whether it carried cached data. */
const loads: { engine: EngineName; withCache: boolean }[] = [];

function watch(proc: SandboxProcess): void {
  watchLoads(proc, (req) => loads.push({ engine: req.engine, withCache: req.cachedData !== null }));
}

async function registerOn(engine: EngineName): Promise<void> {
  const r = await host.register(bundle, { pluginKey: bundle.key, env: {}, labels: { en: {} } }, {}, engine);
  expect(r.ok, r.ok ? '' : r.error.message).toBe(true);
}

beforeAll(async () => {
  ({ host } = await startSandbox());
  bundle = await bundlePlugin(writePlugin('cached', {
    'index.js': `class P { async getFields() { return [{ _id: 'x' }]; } }\nmodule.exports = P;`,
  }));
  await registerOn('isolated-vm');
  watch(host.processOf('cached')!);
});
afterAll(async () => { await host?.close(); });

describe('V8 code cache', () => {
  it('goes to a reload on isolated-vm (control), never to a load on quickjs', async () => {
    await registerOn('isolated-vm');
    await registerOn('quickjs');
    await registerOn('isolated-vm');
    expect(loads).toEqual([
      { engine: 'isolated-vm', withCache: true },
      { engine: 'quickjs', withCache: false },
      { engine: 'isolated-vm', withCache: true },
    ]);
  });
});

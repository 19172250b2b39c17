// Attacks on the engine switch (POST /api/admin/plugins/:key/engine) by timing: a refused switch
// must be undone whatever runs beside it. Two switches of one plugin at once (an administrator's
// double click, two tabs), and a reload arriving while a refused switch is being undone, must leave
// the plugin running where it was with no choice stored. The plugin's loads are held at a gate so
// the second request certainly arrives while the first one's load is in progress.
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

// Loads on isolated-vm and is refused on quickjs for a real reason (it needs Intl while loading).
const V8_ONLY_PLUGIN = path.resolve(import.meta.dirname, '../../fixtures/plugins/intl-amounts');
const KEY = 'intl-amounts';
let t: TestHost;

beforeAll(async () => {
  t = await startTestHost({ engine: 'isolated-vm' });
  expect(await t.host.registry.load(V8_ONLY_PLUGIN)).toMatchObject({ status: 'active' });
});
afterAll(async () => { await t?.close(); });
// Each attack starts from a plugin running on the engine option with no choice stored, whatever the one before left.
beforeEach(async () => {
  await t.host.store.clearPluginEngineChoice(KEY);
  if (t.host.registry.get(KEY)?.status !== 'active' || t.host.sandbox.engineOf(KEY) !== 'isolated-vm') await t.host.registry.load(V8_ONLY_PLUGIN);
});

/**
 * Holds every registry load until `release`; `entered` counts loads that reached the gate.
 * `settle(n)` waits until n loads are held, or gives up after a while (a second request that is
 * queued behind the first one, as it should be, never reaches the gate while the first one holds).
 */
function gateLoads() {
  const registry = t.host.registry;
  const real = registry.load.bind(registry);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const state = { entered: 0 };
  registry.load = async (dir: string) => {
    state.entered++;
    await gate;
    return real(dir);
  };
  return {
    state,
    async settle(n: number) {
      for (let i = 0; i < 60 && state.entered < n; i++) await new Promise((r) => setTimeout(r, 10));
    },
    open() {
      release();
      registry.load = real;
    },
  };
}

async function expectRunningAsBefore() {
  expect(t.host.registry.get(KEY)).toMatchObject({ status: 'active', engine: { name: 'isolated-vm', source: 'engine' } });
  expect(t.host.sandbox.engineOf(KEY)).toBe('isolated-vm');
  expect(await t.host.store.getPluginEngineChoice(KEY)).toBeNull();
  expect((await t.host.sandbox.invoke(KEY, 'getFields', ['en', 'CARDUAH'])).ok).toBe(true);
}

describe('a refused engine switch is undone whatever runs beside it', () => {
  it('positive control: one refused switch alone is undone', async () => {
    const r = await t.admin('POST', `/api/admin/plugins/${KEY}/engine`, { engine: 'quickjs' });
    expect(r.status).toBe(422);
    await expectRunningAsBefore();
  });

  it('two refused switches at once: the second does not take the first one\'s choice for the one to go back to', async () => {
    const loads = gateLoads();
    const first = t.admin('POST', `/api/admin/plugins/${KEY}/engine`, { engine: 'quickjs' });
    await t.waitFor('the first switch to store its choice and load', async () => loads.state.entered >= 1);
    const second = t.admin('POST', `/api/admin/plugins/${KEY}/engine`, { engine: 'quickjs' });
    await loads.settle(2);
    loads.open();
    const replies = await Promise.all([first, second]);
    expect(replies.map((r) => r.status)).toEqual([422, 422]);
    await expectRunningAsBefore();
  });

  it('a reload while a refused switch is undone: the reload that read the refused choice does not finish last', async () => {
    // The reload's load on the refused engine is held until the switch's restoring load has run
    // (or a while, when loads wait their turn and the restoring load waits behind it).
    const sandbox = t.host.sandbox;
    const register = sandbox.register.bind(sandbox);
    let refusedLoads = 0;
    let restored!: () => void;
    const restoredLoad = new Promise<void>((r) => { restored = r; });
    sandbox.register = async (...args: Parameters<typeof register>) => {
      if (args[3] === 'quickjs' && ++refusedLoads === 2) await Promise.race([restoredLoad, new Promise((r) => setTimeout(r, 600))]);
      const outcome = await register(...args);
      if (args[3] !== 'quickjs') restored();
      return outcome;
    };
    try {
      const loads = gateLoads();
      const switching = t.admin('POST', `/api/admin/plugins/${KEY}/engine`, { engine: 'quickjs' });
      await t.waitFor('the switch to store its choice and load', async () => loads.state.entered >= 1);
      const reload = t.admin('POST', `/api/admin/plugins/${KEY}/reload`);
      await loads.settle(2);
      loads.open();
      const [switched] = await Promise.all([switching, reload]);
      expect(switched.status).toBe(422);
      expect(refusedLoads).toBeGreaterThanOrEqual(1);
      await expectRunningAsBefore();
    } finally {
      sandbox.register = register;
    }
  });
});

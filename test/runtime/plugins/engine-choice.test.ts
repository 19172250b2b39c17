// Which engine a plugin loads on: admin choice (the store) > pluginEngines > engine, and a stored
// name this build does not know is ignored with a reason instead of being guessed at.
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../runtime/store/open-store.ts';
import type { Store } from '../../../runtime/store/store.ts';
import { resolveEngine } from '../../../runtime/plugins/engine-choice.ts';

let store: Store;
afterEach(async () => { await store?.close(); });

describe('resolveEngine', () => {
  it('takes the admin choice first, then pluginEngines, then engine', async () => {
    store = await openStore('sqlite::memory:');
    const settings = { store, engine: 'isolated-vm' as const, pluginEngines: { nimbus: 'quickjs' as const } };
    expect(await resolveEngine('other', settings)).toEqual({ name: 'isolated-vm', source: 'engine', ignored: null });
    expect(await resolveEngine('nimbus', settings)).toEqual({ name: 'quickjs', source: 'pluginEngines', ignored: null });
    await store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'isolated-vm', chosenBy: 'admin' });
    expect(await resolveEngine('nimbus', settings)).toEqual({ name: 'isolated-vm', source: 'admin', ignored: null });
    // A key named like an Object.prototype member is no option entry.
    expect((await resolveEngine('toString', settings)).source).toBe('engine');
  });

  it('ignores a stored engine this build does not have, saying why, and the options decide', async () => {
    store = await openStore('sqlite::memory:');
    await store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'wasmtime', chosenBy: 'admin' });
    const resolved = await resolveEngine('nimbus', { store, engine: 'isolated-vm', pluginEngines: {} });
    expect(resolved).toMatchObject({ name: 'isolated-vm', source: 'engine' });
    expect(resolved.ignored).toBe("the engine 'wasmtime' chosen on the admin page is not one this server has (isolated-vm, quickjs); choose one there again");
  });
});

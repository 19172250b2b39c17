// Contract: the engine an administrator chose per plugin — round trip, replace, clear, listing,
// and refusal of malformed choices before anything is written.
import { expect, test } from 'vitest';
import type { Fixture } from './contract-fixtures.ts';
import { T0, iso } from './contract-fixtures.ts';

export function registerEngineChoiceContract(f: Fixture): void {
  test('engine choices: set, read back from another connection, replace, list sorted, clear', async () => {
    const store = await f.open();
    expect(await store.getPluginEngineChoice('nimbus')).toBeNull();
    const first = await store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'quickjs', chosenBy: 'admin' });
    expect(first).toEqual({ plugin: 'nimbus', engine: 'quickjs', chosenBy: 'admin', chosenAt: iso(T0) });
    const other = await f.open();
    expect(await other.getPluginEngineChoice('nimbus')).toEqual(first);
    f.clock.advance(1000);
    const second = await store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'isolated-vm', chosenBy: 'admin' });
    expect(await other.getPluginEngineChoice('nimbus')).toEqual({ plugin: 'nimbus', engine: 'isolated-vm', chosenBy: 'admin', chosenAt: iso(T0 + 1000) });
    await store.setPluginEngineChoice({ plugin: 'alpha', engine: 'quickjs', chosenBy: 'admin' });
    expect((await store.listPluginEngineChoices()).map((c) => [c.plugin, c.engine])).toEqual([['alpha', 'quickjs'], ['nimbus', 'isolated-vm']]);
    await store.clearPluginEngineChoice('nimbus');
    await store.clearPluginEngineChoice('never-chosen');
    expect(await store.getPluginEngineChoice('nimbus')).toBeNull();
    expect(await store.listPluginEngineChoices()).toEqual([{ plugin: 'alpha', engine: 'quickjs', chosenBy: 'admin', chosenAt: iso(T0 + 1000) }]);
    expect(second.chosenAt).toBe(iso(T0 + 1000));
  });

  test('engine choices: malformed choices are refused before anything is written', async () => {
    const store = await f.open();
    await expect(store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'QuickJS; DROP', chosenBy: 'admin' })).rejects.toThrow(/setPluginEngineChoice: engine must be an engine name such as isolated-vm/);
    await expect(store.setPluginEngineChoice({ plugin: 'nimbus', engine: '', chosenBy: 'admin' })).rejects.toThrow(/engine must not be empty/);
    await expect(store.setPluginEngineChoice({ plugin: 'nimbus', engine: 'quickjs', chosenBy: 'admin', $where: 'x' } as never)).rejects.toThrow(/choice has unknown field "\$where"/);
    await expect(store.setPluginEngineChoice({ plugin: 7, engine: 'quickjs', chosenBy: 'admin' } as never)).rejects.toMatchObject({ code: 'STORE_INPUT' });
    await expect(store.getPluginEngineChoice({ $ne: null } as never)).rejects.toThrow(/getPluginEngineChoice: plugin must be a string/);
    expect(await store.listPluginEngineChoices()).toEqual([]);
  });
}

// The test kit on either engine: `engine` in the options, or PAYOUT_SANDBOX_ENGINE for a whole run
// (an author runs their suite once per engine), and kit.engine says which one the plugin is on.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startPluginTestKit } from 'payout-sandbox/sdk/testkit';
import type { PluginTestKit } from 'payout-sandbox/sdk/testkit';

const MINIMAL = path.resolve(import.meta.dirname, '../fixtures/plugins/minimal');
// Loads on isolated-vm and is refused on quickjs for a real reason (it needs Intl while loading).
const V8_ONLY_PLUGIN = path.resolve(import.meta.dirname, '../fixtures/plugins/intl-amounts');
let kit: PluginTestKit | null = null;
const savedEnv = process.env.PAYOUT_SANDBOX_ENGINE;
afterEach(async () => {
  await kit?.close();
  kit = null;
  if (savedEnv === undefined) delete process.env.PAYOUT_SANDBOX_ENGINE;
  else process.env.PAYOUT_SANDBOX_ENGINE = savedEnv;
});

describe('test kit engine', () => {
  it('runs the plugin on the engine given in the options (positive control)', async () => {
    kit = await startPluginTestKit({ dir: MINIMAL, engine: 'isolated-vm' });
    expect(kit.engine).toBe('isolated-vm');
    expect(kit.host.sandbox.engineOf('minimal')).toBe('isolated-vm');
    expect(await kit.getFields('CARDUAH')).toMatchObject([{ _id: 'card_number' }]);
  });

  it('refuses a PAYOUT_SANDBOX_ENGINE that is no engine, in one line', async () => {
    process.env.PAYOUT_SANDBOX_ENGINE = 'wasm';
    await expect(startPluginTestKit({ dir: MINIMAL })).rejects.toThrow("PAYOUT_SANDBOX_ENGINE 'wasm' is not an engine; use isolated-vm or quickjs");
  });

  it('a plugin the engine from PAYOUT_SANDBOX_ENGINE refuses fails the kit with the reason; the option outranks the environment', async () => {
    process.env.PAYOUT_SANDBOX_ENGINE = 'quickjs';
    await expect(startPluginTestKit({ dir: V8_ONLY_PLUGIN })).rejects.toThrow(/'Intl' is not defined/);
    kit = await startPluginTestKit({ dir: V8_ONLY_PLUGIN, engine: 'isolated-vm' });
    expect(kit.engine).toBe('isolated-vm');
    expect(await kit.getFields('CARDUAH')).toMatchObject([{ _id: 'card_number' }]);
  });

  it('PAYOUT_SANDBOX_ENGINE=quickjs runs the same test on quickjs', async () => {
    process.env.PAYOUT_SANDBOX_ENGINE = 'quickjs';
    kit = await startPluginTestKit({ dir: MINIMAL });
    expect(kit.engine).toBe('quickjs');
    expect(await kit.getFields('CARDUAH')).toMatchObject([{ _id: 'card_number' }]);
    // The option outranks the environment.
    await kit.close();
    kit = await startPluginTestKit({ dir: MINIMAL, engine: 'isolated-vm' });
    expect(kit.engine).toBe('isolated-vm');
  });
});

// PAYOUT_SANDBOX_OPTIONS against the server's options: every option defaultServerOptions() knows
// is accepted with a value of its own type (so an option added there is covered without a change
// here), anything else is refused with one line naming the closest valid key.
import { describe, expect, it } from 'vitest';
import { checkOptions, closestOption, parseOptionsJson } from '../../../runtime/server/options-schema.ts';
import { defaultServerOptions } from '../../../runtime/server/options.ts';

const FLAG_OWNED = ['port', 'host', 'pluginsDir', 'dataDir', 'dbUrl', 'adminToken', 'publicUrl', 'demo', 'requireApproval', 'trustProxy', 'npmRegistry', 'instanceId', 'metricsToken'];

describe('server options schema', () => {
  it('accepts every tunable default as given (positive control for the refusals below)', () => {
    const defaults = defaultServerOptions() as unknown as Record<string, unknown>;
    const tunable = Object.fromEntries(Object.entries(defaults).filter(([k]) => !FLAG_OWNED.includes(k)));
    expect(Object.keys(tunable).length).toBeGreaterThan(30);
    expect(checkOptions(tunable)).toEqual(tunable);
    expect(parseOptionsJson('{"allowLoopbackGrants":true,"ipnLoopbackOrigins":["http://127.0.0.1:8081"],"sandboxGroups":{"acme":["a","b"]}}'))
      .toEqual({ allowLoopbackGrants: true, ipnLoopbackOrigins: ['http://127.0.0.1:8081'], sandboxGroups: { acme: ['a', 'b'] } });
    expect(parseOptionsJson(undefined)).toEqual({});
  });

  it('names the closest valid option for a typo', () => {
    expect(() => parseOptionsJson('{"transferWalMs":1}')).toThrow("PAYOUT_SANDBOX_OPTIONS: unknown option 'transferWalMs'; did you mean 'transferWallMs'?");
    expect(() => parseOptionsJson('{"allowloopbackgrants":true}')).toThrow("did you mean 'allowLoopbackGrants'?");
    expect(closestOption('ipnLoopbackOrigin', ['ipnMaxAttempts', 'ipnLoopbackOrigins'])).toBe('ipnLoopbackOrigins');
    // An own property of Object.prototype is no option either.
    expect(() => parseOptionsJson('{"toString":1}')).toThrow(/unknown option 'toString'/);
    expect(() => parseOptionsJson('{"__proto__":{"allowLoopbackGrants":true}}')).toThrow(/unknown option '__proto__'/);
  });

  it('refuses values of the wrong type, naming the type wanted', () => {
    expect(() => checkOptions({ transferWallMs: '60s' })).toThrow(`'transferWallMs' must be a non-negative number, not "60s"`);
    expect(() => checkOptions({ transferWallMs: -1 })).toThrow(/non-negative number/);
    // Webhook options the route cannot run with at 0: refused in their own name, before start.
    expect(() => checkOptions({ webhookQueueWaitMs: 0 })).toThrow(`'webhookQueueWaitMs' must be a whole number above 0, not 0 (default 5000)`);
    expect(() => checkOptions({ callbackWallMs: 2.5 })).toThrow(/'callbackWallMs' must be a whole number above 0/);
    expect(checkOptions({ webhookQueueWaitMs: 1, configSnapshotMaxAgeMs: 0 })).toEqual({ webhookQueueWaitMs: 1, configSnapshotMaxAgeMs: 0 });
    expect(() => checkOptions({ allowLoopbackGrants: 'yes' })).toThrow(/'allowLoopbackGrants' must be true or false/);
    expect(() => checkOptions({ ipnLoopbackOrigins: [1] })).toThrow(/list of strings/);
    expect(() => checkOptions({ pluginEnv: { nimbuspay: 'X' } })).toThrow(/object of string lists/);
  });

  it('takes an engine for every plugin and per plugin, and names the engines on a typo', () => {
    // Positive control: both engines, both places.
    expect(parseOptionsJson('{"engine":"quickjs","pluginEngines":{"nimbuspay":"isolated-vm"}}')).toEqual({ engine: 'quickjs', pluginEngines: { nimbuspay: 'isolated-vm' } });
    expect(defaultServerOptions().engine).toBe('isolated-vm');
    expect(() => parseOptionsJson('{"engine":"quickJS"}'))
      .toThrow("PAYOUT_SANDBOX_OPTIONS: 'engine' must be an engine, one of isolated-vm, quickjs, not \"quickJS\"; did you mean 'quickjs'?");
    // A name that is no spelling of an engine gets no guess (the nearest by letters would be quickjs).
    expect(() => parseOptionsJson('{"engine":"v8"}')).toThrow(/one of isolated-vm, quickjs, not "v8"$/);
    expect(() => parseOptionsJson('{"engine":"isolated_vm"}')).toThrow(/not "isolated_vm"; did you mean 'isolated-vm'\?$/);
    expect(() => parseOptionsJson('{"pluginEngines":{"nimbuspay":"isolatedvm"}}'))
      .toThrow("'pluginEngines.nimbuspay' must be an engine, one of isolated-vm, quickjs, not \"isolatedvm\"; did you mean 'isolated-vm'?");
    expect(() => checkOptions({ pluginEngines: { nimbuspay: 7 } })).toThrow(/'pluginEngines.nimbuspay' must be an engine, one of isolated-vm, quickjs, not 7$/);
    expect(() => checkOptions({ pluginEngines: ['quickjs'] })).toThrow(/'pluginEngines' must be an object of plugin keys to engines/);
    expect(() => checkOptions({ engines: 'quickjs' })).toThrow(/unknown option 'engines'; did you mean 'engine'\?/);
  });

  it('sends flag-owned settings to their flag', () => {
    expect(() => checkOptions({ port: 1 })).toThrow("'port' is set by --port, not here");
    expect(() => checkOptions({ dbUrl: 'sqlite::memory:' })).toThrow(/--db or PAYOUT_SANDBOX_DB/);
  });
});

// The set the registry attaches to a loaded plugin: never wider than what its bundle's modules
// grant, nor than what its record approved; the cron context only for a plugin with initCron.
import { describe, expect, it } from 'vitest';
import { bundlePlugin } from '../../../runtime/bundler/bundle-plugin.ts';
import { CapabilitySets } from '../../../runtime/plugins/capability-sets.ts';
import type { PluginCapabilitySet } from '../../../runtime/store/types.ts';
import { writePlugin } from '../../helpers/plugin-fixture.ts';

const CRON_INDEX = `
const axios = require('axios');
class C {
  async getFields() { return []; }
  async transfer() { return { ok: 2 }; }
  initCron({ db }) { return { schedule: '* * * * *', fn: async () => db.OrderPayoutTxs.countDocuments({}) }; }
}
module.exports = C;
`;

const record = (capabilities: string[], extra: Partial<PluginCapabilitySet> = {}): PluginCapabilitySet =>
  ({ network: [], config: [], hostModules: [], capabilities, ...extra });
const names = (sets: CapabilitySets, key: string) => [...sets.capabilitySetOf(key)!.capabilities].sort();
const TX = ['payoutTxs.count', 'payoutTxs.find', 'payoutTxs.updateOne'];

describe('capability sets of loaded plugins', () => {
  it('a plugin with initCron is served its required modules and the cron context (positive control)', async () => {
    const bundle = await bundlePlugin(writePlugin('capcron', { 'index.js': CRON_INDEX }));
    const sets = new CapabilitySets();
    sets.attach('capcron', bundle, null);
    sets.loaded('capcron', { bundle, description: { methods: { initCron: true }, callbacks: [] } as never, cron: { schedule: '* * * * *', callWhenInit: false } });
    expect(names(sets, 'capcron')).toEqual(['history.update', 'http.request', ...TX]);
    expect(sets.capabilitySetOf('capcron')).toMatchObject({ cron: true, callbacks: new Set() });
  });

  it('never wider than the record: a record that approved less narrows it, one that claims more does not widen it', async () => {
    const bundle = await bundlePlugin(writePlugin('capcron', { 'index.js': CRON_INDEX }));
    const sets = new CapabilitySets();
    sets.attach('capcron', bundle, record(['http.request'], { cron: '* * * * *', callbacks: [] }));
    expect(names(sets, 'capcron')).toEqual(['http.request']);
    sets.attach('capcron', bundle, record(['config.get', 'history.update', 'http.request', ...TX], { cron: '* * * * *', callbacks: [] }));
    expect(names(sets, 'capcron')).toEqual(['history.update', 'http.request', ...TX]);
  });

  it('a record from before the cron context counted keeps it; the context goes when there is no initCron', async () => {
    const bundle = await bundlePlugin(writePlugin('capcron', { 'index.js': CRON_INDEX }));
    const sets = new CapabilitySets();
    sets.attach('capcron', bundle, record(['http.request']));
    expect(names(sets, 'capcron')).toEqual(['history.update', 'http.request', ...TX]);
    sets.loaded('capcron', { bundle, description: { methods: { initCron: false }, callbacks: [] } as never, cron: null });
    expect(names(sets, 'capcron')).toEqual(['http.request']);
    sets.delete('capcron');
    expect(sets.capabilitySetOf('capcron')).toBeUndefined();
  });
});

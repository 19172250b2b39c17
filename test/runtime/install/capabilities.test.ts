// What widens a capability set besides modules, origins and config keys: a new direct bridge
// request, a new config-set origin, a new callback, a new cron; and a record approved before those
// fields existed. Asking for the same or less never widens (the positive control).
import { describe, expect, it } from 'vitest';
import { describeWidening, widening } from '../../../runtime/install/capabilities.ts';
import type { PluginCapabilitySet } from '../../../runtime/store/types.ts';

const base: PluginCapabilitySet = {
  network: [], config: [{ key: 'apiUrl', secret: false }], hostModules: ['db'], capabilities: ['payoutTxs.count', 'payoutTxs.find', 'payoutTxs.updateOne'],
  bridgeRequests: [], configOrigins: ['apiUrl'], callbacks: ['url_final'], cron: '*/30 * * * * *',
};

describe('widening beyond modules', () => {
  it('the same set, or less, does not widen', () => {
    expect(widening(base, base)).toBeNull();
    expect(widening(base, { ...base, callbacks: [], cron: null, configOrigins: [] })).toBeNull();
    // A bridge call for a capability its modules grant asks for nothing new.
    expect(widening(base, { ...base, bridgeRequests: ['payoutTxs.count'] })).toBeNull();
  });

  it('a bridge request, a config-set origin, a callback and a cron do', () => {
    const w = widening(base, { ...base, bridgeRequests: ['history.update'], configOrigins: ['apiUrl', 'statusUrl'], callbacks: ['url_final', 'refund'], cron: '* * * * *' })!;
    expect(describeWidening(w)).toEqual([
      'connects to whatever config key statusUrl holds',
      'host capability history.update (called directly through the host bridge: refused at run time, no required host module grants it)',
      'callback refund (a new unauthenticated POST endpoint)',
      'cron * * * * * (approved: */30 * * * * *)',
    ]);
  });

  it('a record approved before these fields existed counts what the update has there as new', () => {
    const legacy: PluginCapabilitySet = { network: base.network, config: base.config, hostModules: base.hostModules, capabilities: base.capabilities };
    expect(widening(legacy, base)?.capabilities).toEqual(['callback url_final (a new unauthenticated POST endpoint)', 'cron */30 * * * * * (none approved)']);
    expect(widening(legacy, base)?.network).toEqual(['connects to whatever config key apiUrl holds']);
  });
});

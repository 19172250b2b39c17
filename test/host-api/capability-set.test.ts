// The capability-set gate on its own: what it refuses, and that refusals are audited once per
// plugin call (the first in full, the rest in one count when the call ends).
import { describe, expect, it } from 'vitest';
import { CapabilitySetGate, approvedCapabilitySet } from '../../host-api/capability-set.ts';
import type { ApprovedCapabilitySet } from '../../host-api/capability-set.ts';
import { newCounters } from '../../host-api/capability.ts';
import type { HostCallContext } from '../../host-api/capability.ts';

function gate(sets: Record<string, ApprovedCapabilitySet>) {
  const records: { capability: string; rule: string | null; summary: string; callId: string | null }[] = [];
  const g = new CapabilitySetGate({ capabilitySetOf: (p) => sets[p] }, { record: (r) => records.push(r) });
  return { g, records };
}

const ctx = (method = 'transfer', plugin = 'p'): HostCallContext => ({ plugin, callId: `c-${Math.random()}`, method, deadline: Date.now() + 1000, counters: newCounters() });

describe('capability set gate', () => {
  it('lets through what the set holds (positive control) and refuses the rest', () => {
    const { g, records } = gate({ p: approvedCapabilitySet(['config.get', 'http.request']) });
    const c = ctx();
    expect(g.check(c, 'config.get')).toBeNull();
    expect(g.check(c, 'http.request')).toBeNull();
    const refused = g.check(c, 'history.update');
    expect(refused).toMatchObject({ rule: 'capability-set' });
    expect(refused!.message).toBe("history.update refused: it is not in the capability set approved for plugin 'p' (granted: config.get, http.request). " +
      'Capabilities come only from the host modules a plugin requires; require the module that provides it, and the update will wait for an administrator to approve it');
    expect(records).toHaveLength(1);
  });

  it('a plugin with no set loaded gets nothing', () => {
    const { g } = gate({});
    expect(g.check(ctx('transfer', 'ghost'), 'config.get')!.message).toMatch(/plugin 'ghost' has no approved capability set loaded/);
  });

  it('refuses host calls from a callback or a cron the approved version did not have', () => {
    const { g } = gate({ p: approvedCapabilitySet(['config.get'], ['url_final'], false) });
    expect(g.check(ctx('callback:url_final'), 'config.get')).toBeNull();
    expect(g.check(ctx('callback:sneaky'), 'config.get')!.message).toMatch(/has no callback 'sneaky'/);
    expect(g.check(ctx('cron'), 'config.get')!.message).toMatch(/has no cron/);
    // Not recorded: no check.
    const { g: open } = gate({ p: approvedCapabilitySet(['config.get']) });
    expect(open.check(ctx('cron'), 'config.get')).toBeNull();
  });

  it('audits the first refusal of a call, counts the rest, and writes the count once when the call ends', () => {
    const { g, records } = gate({ p: approvedCapabilitySet([]) });
    const c = ctx();
    for (let i = 0; i < 50; i++) g.check(c, i % 2 ? 'history.update' : 'payoutTxs.count');
    expect(records).toHaveLength(1);
    g.endCall(c);
    expect(records).toHaveLength(2);
    expect(records[1]).toMatchObject({ capability: 'host.capability-set', rule: 'capability-set', callId: c.callId });
    expect(records[1].summary).toBe('transfer: 49 more host calls refused in this call by the capability set after the one recorded (history.update: 25, payoutTxs.count: 24)');
    g.endCall(c);
    expect(records).toHaveLength(2);
    // A call whose end was never reported is written by the audit log's flush once it has ended.
    const d = ctx();
    g.check(d, 'history.update');
    g.check(d, 'history.update');
    g.settle();
    expect(records).toHaveLength(3);
    d.ended = true;
    g.settle();
    expect(records).toHaveLength(4);
  });
});

// The sandbox process's decisions on a host call (runtime/sandbox/child/config-snapshot.ts), one
// by one: answer a shown config read, or send the call to the server (null), which then refuses
// or answers it in its own words. The end-to-end attacks are in ../config-push.test.ts.
import { describe, expect, it } from 'vitest';
import { LocalConfigReads } from '../../../../runtime/sandbox/child/config-snapshot.ts';
import type { ConfigSnapshot } from '../../../../host-api/config-snapshot.ts';
import { DEFAULT_HOST_CALL_LIMITS } from '../../../../host-api/host-call-limits.ts';

const MINUTE = { calls: 1_000, bytes: 1_000_000 };

function snapshot(over: Partial<ConfigSnapshot> = {}): ConfigSnapshot {
  return { values: { mode: 'test', apiUrl: 'https://api.example' }, limits: { ...DEFAULT_HOST_CALL_LIMITS }, callbacks: ['notify'], cron: true, ...over };
}

function withCall(method = 'getFields', args: unknown = [], snap: ConfigSnapshot | null = snapshot(), minute: typeof MINUTE | null = MINUTE) {
  const reads = new LocalConfigReads();
  reads.set('p', snap);
  reads.begin('p', 'c1', method, args, minute ?? undefined);
  let id = 0;
  return { reads, ask: (capability: string, a: unknown, plugin = 'p', callId = 'c1') => reads.answer(plugin, callId, ++id, capability, a) };
}

describe('what is answered in the process', () => {
  it('a shown key of a call in progress: its value (positive control for every null below)', () => {
    const { ask, reads } = withCall();
    expect(ask('config.get', { key: 'mode' })).toEqual({ ok: true, value: 'test' });
    expect(reads.end('c1')).toEqual({ keys: { mode: 1 }, bytes: expect.any(Number), refused: {} });
  });

  it('anything else goes to the server: other capabilities, unheld keys, bad arguments, other plugins and calls', () => {
    const { ask } = withCall();
    for (const [capability, args] of [
      ['payoutTxs.find', { key: 'mode' }], ['config.get', { key: 'apiSecret' }], ['config.get', { key: '' }], ['config.get', { key: 42 }],
      ['config.get', {}], ['config.get', null], ['config.get', 'mode'], ['config.get', { key: 'k'.repeat(65) }],
      ['config.get', { key: '__proto__' }], ['config.get', { key: 'constructor' }], ['config.get', { key: 'toString' }],
    ] as const) expect(ask(capability, args), JSON.stringify([capability, args])).toBeNull();
    expect(ask('config.get', { key: 'mode' }, 'other')).toBeNull();
    expect(ask('config.get', { key: 'mode' }, 'p', 'not-running')).toBeNull();
  });

  it('arguments over hostCallArgBytes go to the server, which refuses them with its own words', () => {
    const { ask } = withCall('getFields', [], snapshot({ limits: { ...DEFAULT_HOST_CALL_LIMITS, hostCallArgBytes: 100 } }));
    expect(ask('config.get', { key: 'mode', pad: 'x'.repeat(200) })).toBeNull();
    expect(ask('config.get', { key: 'mode', pad: 'x' })).toEqual({ ok: true, value: 'test' });
  });

  it('nothing after a drop, nor without the server\'s minute budget', () => {
    const dropped = withCall();
    dropped.reads.set('p', null);
    expect(dropped.ask('config.get', { key: 'mode' })).toBeNull();
    const reloaded = withCall();
    reloaded.reads.drop('p');
    expect(reloaded.ask('config.get', { key: 'mode' })).toBeNull();
    expect(withCall('getFields', [], snapshot(), null).ask('config.get', { key: 'mode' })).toBeNull();
  });

  it('past its share of the minute a read goes to the server, until the server refuses one by a minute cap; then it is refused here in the server\'s words', () => {
    const spent = withCall('getFields', [], snapshot(), { calls: 1, bytes: 1_000 });
    expect(spent.ask('config.get', { key: 'mode' })).toEqual({ ok: true, value: 'test' }); // positive control: within the share
    expect(spent.ask('config.get', { key: 'mode' })).toBeNull();
    // One at a time: while that read is at the server, another past the share is refused here.
    expect(spent.ask('config.get', { key: 'mode' })).toMatchObject({ ok: false, value: { rule: 'host.calls-per-minute' } });
    // Any other answer to it (here another cap) does not close the minute: the next read goes to the server.
    spent.reads.result(2, false, { message: 'mode refused', code: 'HOST_DENIED', rule: 'host.bytes-per-call' });
    expect(spent.ask('config.get', { key: 'mode' })).toBeNull();
    const serverWords = { message: "config.get refused: plugin 'p' has made the 12000 host calls allowed per minute; retry later", code: 'HOST_DENIED', rule: 'host.calls-per-minute' };
    spent.reads.result(4, false, serverWords);
    expect(spent.ask('config.get', { key: 'mode' })).toEqual({ ok: false, value: serverWords });
    expect(spent.reads.end('c1')).toMatchObject({ keys: { mode: 1 }, refused: { 'host.calls-per-minute': 2 } });
  });

  it('the capability set\'s call checks: a callback the approved version lacks, a cron it lacks', () => {
    expect(withCall('callback', { name: 'notify' }).ask('config.get', { key: 'mode' })).toEqual({ ok: true, value: 'test' });
    expect(withCall('callback', { name: 'injected' }).ask('config.get', { key: 'mode' })).toBeNull();
    expect(withCall('cron', [], snapshot({ cron: false })).ask('config.get', { key: 'mode' })).toBeNull();
    expect(withCall('cron', [], snapshot({ cron: true })).ask('config.get', { key: 'mode' })).toEqual({ ok: true, value: 'test' });
  });
});

describe('the caps, counted with the calls sent to the server', () => {
  it('per call: sent and answered together; the refusal in the server\'s words, counted for the audit', () => {
    const { ask, reads } = withCall('getFields', [], snapshot({ limits: { ...DEFAULT_HOST_CALL_LIMITS, hostCallsPerCall: 3 } }));
    expect(ask('payoutTxs.find', {})).toBeNull();
    expect(ask('config.get', { key: 'mode' })).toMatchObject({ ok: true });
    expect(ask('config.get', { key: 'mode' })).toMatchObject({ ok: true });
    expect(ask('config.get', { key: 'mode' })).toEqual({
      ok: false, value: { code: 'HOST_DENIED', rule: 'host.calls-per-call', message: "config.get refused: plugin 'p' has made the 3 host calls allowed in one call (getFields); the host's administrator can raise the limit with the server option hostCallsPerCall" },
    });
    expect(reads.answeredSoFar('c1')).toMatchObject({ calls: 2 });
    expect(reads.end('c1')).toMatchObject({ keys: { mode: 2 }, refused: { 'host.calls-per-call': 1 } });
  });

  it('bytes: results the server sent back count, as the server counts them', () => {
    const { ask, reads } = withCall('getFields', [], snapshot({ limits: { ...DEFAULT_HOST_CALL_LIMITS, hostCallBytesPerCall: 1_000 } }));
    expect(ask('payoutTxs.find', { q: 1 })).toBeNull();
    reads.result(1, true, { blob: 'x'.repeat(990) });
    expect(ask('config.get', { key: 'mode' })).toMatchObject({ ok: false, value: { rule: 'host.bytes-per-call' } });
  });

  it('a duplicate call id neither resets the counts nor takes them over', () => {
    const { ask, reads } = withCall();
    ask('config.get', { key: 'mode' });
    expect(reads.begin('p', 'c1', 'getFields', [], MINUTE)).toBe(false);
    expect(reads.end('c1')).toMatchObject({ keys: { mode: 1 } });
  });
});
